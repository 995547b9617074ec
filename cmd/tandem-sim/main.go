// Command tandem-sim runs simulated vLLM engines: each answers the OpenAI
// API and /metrics at its own address with its own KV cache and queue. See
// package github.com/tandem-serving/tandem/benchmarks/sim for the model.
//
//	tandem-sim --engines=4 --listen=127.0.0.1:8000 --time-scale=0.1
//	tandem-sim --addresses=127.1.0.1:8000,127.1.0.2:8000 --role=decode
//	tandem-sim --engines=2 --kv-events-endpoint=tcp://127.0.0.1:5557
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/tandem-serving/tandem/benchmarks/sim"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-sim:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := sim.DefaultConfig()
	cfg.BindFlags(flag.CommandLine)
	engines := flag.Int("engines", 1, "number of engines, on consecutive ports from --listen")
	listen := flag.String("listen", cfg.Listen, "address of the first engine (port 0: free ports)")
	addresses := flag.String("addresses", "", "comma-separated engine addresses; replaces --engines and --listen")
	flag.Parse()

	if *addresses != "" && (isSet("engines") || isSet("listen")) {
		return fmt.Errorf("use --addresses or --engines/--listen, not both")
	}
	addrs, err := sim.FleetAddresses(*listen, *engines, *addresses)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fleet, err := sim.StartMany(ctx, cfg, addrs)
	if err != nil {
		return err
	}
	for _, e := range fleet {
		fmt.Printf("engine %s model %s role %s", e.URL(), cfg.Engine.Model, cfg.Role)
		if ep := e.KVEventsEndpoint(); ep != "" {
			fmt.Printf(" kv-events %s topic %q", ep, cfg.KVEventsTopic)
		}
		fmt.Println()
	}
	// Run until a signal, or until every engine has crashed.
	allDone := make(chan struct{})
	go func() {
		for _, e := range fleet {
			<-e.Done()
		}
		close(allDone)
	}()
	select {
	case <-ctx.Done():
	case <-allDone:
	}
	for _, e := range fleet {
		e.Close()
	}
	return nil
}

func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
