// Command tandem-bench runs Tandem's benchmarks and prints their figures.
// The first argument names the benchmark:
//
//	tandem-bench autoscale [flags]    static, HPA-style and Tandem autoscaling over a modelled day with batch gangs
//	                                  (--cluster: the same three for real on the local cluster, simulated engines)
//	tandem-bench controller [flags]   ServingGroup controller convergence at scale
//	tandem-bench load [flags]         serving load against engines or a router (see benchmarks/README.md)
//	tandem-bench router-overhead      tandem-router against direct calls: req/s, latency, router CPU and RSS
//	tandem-bench router-policies      tandem-router's policies side by side: TTFT, throughput, hit rate vs oracle
//	                                  (--overload KNEE: flow control off and on up to 4× the knee, and two tenants' fairness)
//	tandem-bench router-pd            2 prefill + 2 decode engines against 4 aggregated ones behind tandem-router: TTFT, ITL, E2E
//	tandem-bench scheduler [flags]    scheduler placement and session time, stock Volcano vs stock + Tandem; tandem-reclaim's cost
//	tandem-bench sim [flags]          tandem-sim against its model and calibration figures; engines per core
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tandem-serving/tandem/benchmarks/autoscalebench"
	"github.com/tandem-serving/tandem/benchmarks/controllerbench"
	"github.com/tandem-serving/tandem/benchmarks/routerbench"
	"github.com/tandem-serving/tandem/benchmarks/schedulerbench"
	"github.com/tandem-serving/tandem/benchmarks/simbench"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// benchmarks maps a subcommand to its entry point, which gets the
// arguments after the subcommand name.
var benchmarks = map[string]struct {
	summary string
	run     func(ctx context.Context, args []string) error
}{
	"autoscale":       {"a day of load in virtual time (a queueing model; --cluster: on the local cluster, simulated engines): static, HPA-style and Tandem's autoscaler with batch backfill", autoscalebench.Main},
	"controller":      {"ServingGroup controller convergence at scale on the local cluster", runController},
	"load":            {"LLM serving load: workloads, TTFT/ITL/throughput, prefix-cache hit rate vs an oracle, knee sweeps", runLoad},
	"scheduler":       {"Volcano sessions in-process: placement quality and session time, stock vs stock + Tandem; tandem-reclaim's cost", schedulerbench.Main},
	"sim":             {"tandem-sim's curves (TTFT vs prompt, throughput vs concurrency) beside its model and calibration; engines per core", simbench.Main},
	"router-overhead": {"tandem-router process against direct calls to engines: req/s, p50/p99, router CPU and RSS", routerbench.MainOverhead},
	"router-policies": {"tandem-router's policies side by side: TTFT, throughput, hit rate against the oracle; --overload KNEE: flow control off and on under overload, and fairness", routerbench.MainPolicies},
	"router-pd":       {"prefill/decode (2P2D) against aggregated engines behind tandem-router: TTFT, ITL, E2E, throughput", routerbench.MainPD},
}

func main() {
	// The benchmark's own watches log through controller-runtime.
	ctrl.SetLogger(klog.NewKlogr())
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	b, ok := benchmarks[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "tandem-bench: unknown benchmark %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := b.run(ctx, os.Args[2:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tandem-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tandem-bench <benchmark> [flags]\n\nbenchmarks:")
	for _, name := range slices.Sorted(maps.Keys(benchmarks)) {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", name, benchmarks[name].summary)
	}
	fmt.Fprintln(os.Stderr, "\n`tandem-bench <benchmark> -h` lists its flags.")
}

func runController(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tandem-bench controller", flag.ContinueOnError)
	cfg := controllerbench.Config{}
	fs.IntVar(&cfg.Groups, "groups", 500, "ServingGroups to create (mixed shapes, 4 one-GPU pods each on average)")
	fs.IntVar(&cfg.Racks, "racks", 0, "racks of fake GPU nodes; 0 sizes the fleet from the pods with 10% headroom")
	fs.IntVar(&cfg.NodesPerRack, "nodes-per-rack", controllerbench.DefaultNodesPerRack, "nodes per rack")
	fs.IntVar(&cfg.GPUsPerNode, "gpus-per-node", controllerbench.DefaultGPUsPerNode, "GPUs per node")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "orders the group shapes")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up a run this long after the first create")
	fs.IntVar(&cfg.Runs, "runs", 3, "repetitions, each on a fresh cluster; the table shows each and the median")
	fs.StringVar(&cfg.StateDir, "state-dir", "", "folder for the clusters' state and logs (default: a new temporary folder)")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep each run's cluster logs (kept anyway when a run does not finish)")
	var controllerArgs, schedulerArgs string
	fs.StringVar(&controllerArgs, "controller-args", "", "extra tandem-controller flags, space-separated (e.g. \"--workers=8\")")
	fs.StringVar(&schedulerArgs, "scheduler-args", "", "extra tandem-scheduler flags, space-separated (e.g. \"--v=2\")")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	cfg.ControllerArgs, cfg.SchedulerArgs = strings.Fields(controllerArgs), strings.Fields(schedulerArgs)
	if cfg.Groups < 1 || cfg.Runs < 1 {
		return fmt.Errorf("--groups and --runs must be at least 1")
	}
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		return err
	}
	cfg.RepoRoot = root
	if cfg.StateDir == "" {
		if cfg.StateDir, err = os.MkdirTemp("", "tandem-bench-controller-"); err != nil {
			return err
		}
	}
	cfg.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }

	env := controllerbench.Env{
		Command:  commandLine(),
		Cores:    runtime.NumCPU(),
		Seed:     cfg.Seed,
		Timeout:  cfg.Timeout,
		Platform: fmt.Sprintf("%s/%s %s", runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Date:     time.Now(),
	}
	results, err := controllerbench.Run(ctx, cfg)
	if len(results) > 0 {
		if perr := controllerbench.Print(os.Stdout, env, results); perr != nil && err == nil {
			err = perr
		}
	}
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.Complete {
			return fmt.Errorf("not every run finished within %s", cfg.Timeout)
		}
	}
	if !cfg.Keep {
		_ = os.Remove(cfg.StateDir) // only if every run's folder is gone
	}
	return nil
}

// commandLine is the command as typed, program name without its folder.
func commandLine() string {
	return strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " ")
}
