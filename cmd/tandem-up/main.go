// Command tandem-up runs Tandem's local cluster: etcd, kube-apiserver, kwok
// fake GPU nodes with Volcano HyperNodes, and tandem-scheduler, all on
// loopback, until Ctrl-C. With --down it stops a run left in --state-dir.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-serving/tandem/test/localcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-up:", err)
		os.Exit(1)
	}
}

func run() error {
	fleet := localcluster.DefaultFleet()
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		return err
	}
	opts := localcluster.Options{RepoRoot: root}
	var products string
	var down, demo, once bool
	flag.StringVar(&opts.StateDir, "state-dir", filepath.Join(root, ".state", "cluster"), "folder the cluster owns: logs, PID files, kubeconfig")
	flag.IntVar(&fleet.Racks, "racks", fleet.Racks, "racks of fake GPU nodes (one tier-2 HyperNode each)")
	flag.IntVar(&fleet.NodesPerRack, "nodes-per-rack", fleet.NodesPerRack, "nodes per rack")
	flag.IntVar(&fleet.DomainSize, "domain-size", fleet.DomainSize, "nodes per tier-1 HyperNode (fast-interconnect group); divides --nodes-per-rack")
	flag.IntVar(&fleet.GPUsPerNode, "gpus-per-node", fleet.GPUsPerNode, "nvidia.com/gpu capacity of each node")
	flag.StringVar(&products, "gpu-products", strings.Join(fleet.Products, ","), "nvidia.com/gpu.product label values, assigned to racks in turn")
	flag.StringVar(&opts.PodCIDR, "pod-cidr", "127.1.0.0/16", "range for pod addresses; inside 127.0.0.0/8 they answer on loopback")
	flag.BoolVar(&opts.Scheduler, "scheduler", true, "start tandem-scheduler")
	flag.BoolVar(&opts.Controller, "controller", true, "start tandem-controller")
	flag.StringVar(&opts.SchedulerName, "scheduler-name", "volcano", "spec.schedulerName the scheduler serves")
	flag.BoolVar(&down, "down", false, "stop the cluster an earlier run left in --state-dir, then exit")
	flag.BoolVar(&demo, "demo", false, "run the router and simulated engines, apply a disaggregated ServingGroup and send chat requests through the whole system")
	timeScale := flag.Float64("time-scale", 0.1, "with --demo: simulated engine latency scale (1 = a real H100)")
	flag.BoolVar(&once, "once", false, "exit after start-up (and the demo) instead of waiting for Ctrl-C")
	flag.Parse()

	if down {
		stopped, err := localcluster.StopStale(opts.StateDir, 10*time.Second)
		if len(stopped) == 0 && err == nil {
			fmt.Println("nothing running under", opts.StateDir)
		}
		for _, s := range stopped {
			fmt.Println("stopped", s)
		}
		return err
	}

	fleet.Products = strings.Split(products, ",")
	opts.Fleet = fleet
	opts.Router = demo
	opts.Logf = func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()
	cluster, err := localcluster.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer cluster.Stop()
	fmt.Printf("\nlocal cluster ready in %s: %d nodes in %d racks, API server %s\n\n",
		time.Since(began).Round(100*time.Millisecond), fleet.Racks*fleet.NodesPerRack, fleet.Racks, cluster.Server)
	fmt.Printf("  export KUBECONFIG=%s\n", cluster.Kubeconfig)
	fmt.Printf("  %s get nodes -L %s,%s\n", filepath.Join(root, "bin", "kubectl"), localcluster.GPUProductLabel, localcluster.DomainLabel)
	fmt.Printf("  %s get hypernodes,queues,podgroups -A\n", filepath.Join(root, "bin", "kubectl"))
	fmt.Printf("\nlogs: %s\n", filepath.Join(cluster.StateDir(), "logs"))
	if demo {
		if err := runDemo(ctx, cluster, *timeScale); err != nil {
			return err
		}
	}
	if once {
		return nil
	}
	fmt.Println("Ctrl-C stops everything.")
	return wait(ctx, cluster)
}

// wait blocks until a signal arrives or a component dies.
func wait(ctx context.Context, cluster *localcluster.Cluster) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping")
			return nil
		case <-tick.C:
			if err := cluster.Failed(); err != nil {
				return err
			}
		}
	}
}
