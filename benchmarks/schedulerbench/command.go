package schedulerbench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"k8s.io/klog/v2"

	"github.com/tandem-serving/tandem/plugins/tandem"
)

// Main is `tandem-bench scheduler`: it parses args (the arguments after
// the subcommand), runs the benchmark and prints the report on stdout,
// progress on stderr.
func Main(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tandem-bench scheduler", flag.ContinueOnError)
	cfg := Config{}
	fs.IntVar(&cfg.Nodes, "nodes", 1000, "nodes in the large case (a multiple of -nodes-per-rack)")
	fs.IntVar(&cfg.NodesPerRack, "nodes-per-rack", 40, "nodes per rack (tier-2 HyperNode)")
	fs.IntVar(&cfg.DomainSize, "domain-size", 4, "nodes per tier-1 HyperNode (must divide -nodes-per-rack)")
	fs.IntVar(&cfg.GPUsPerNode, "gpus-per-node", 8, "GPUs per node")
	fs.IntVar(&cfg.Units, "units", 500, "units (one-unit ServingGroups of mixed shapes) in the large case")
	fs.Float64Var(&cfg.Busy, "busy", 0.3, "fraction of nodes already running a batch pod of 1 to gpus-per-node-1 GPUs")
	fs.IntVar(&cfg.Runs, "runs", 3, "sessions per configuration and case, stock and Tandem alternating")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of every generated cluster and unit mix")
	fs.IntVar(&cfg.SmallCases, "small-cases", 5, "small cases compared against the exhaustive optimum (0: none)")
	fs.IntVar(&cfg.SmallNodes, "small-nodes", 16, "nodes per small case (4 to 16, a multiple of 4)")
	fs.IntVar(&cfg.SearchBudget, "search-budget", 20_000_000, "pods the optimum search may place per small case before it settles for a bound")
	fs.BoolVar(&cfg.Elastic, "elastic", false, "make pd-tp2 units' second decode instance optional (placed after the gang when room allows)")
	fs.BoolVar(&cfg.GPUBinpack, "gpu-binpack", true, "configure stock binpack and network-topology-aware to pack nvidia.com/gpu (both configurations)")
	fs.StringVar(&cfg.Case, "case", CaseAll, "what to run: placement (large and small cases, stock vs Tandem), reclaim (tandem-reclaim's session cost), or all")
	fs.IntVar(&cfg.ReclaimGangs, "reclaim-gangs", 200, "reclaim case: batch gangs of 3-7 nodes in turn filling the fleet (their nodes must add up to -nodes)")
	fs.IntVar(&cfg.ReclaimUnits, "reclaim-units", 50, "reclaim case: waiting units")
	tandemArgs := fs.String("tandem-args", "", `the tandem plugin's arguments as JSON, e.g. '{"packingWeight": 2}' (default: the plugin's defaults)`)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if *tandemArgs != "" {
		if err := json.Unmarshal([]byte(*tandemArgs), &cfg.TandemArgs); err != nil {
			return fmt.Errorf("-tandem-args: %w", err)
		}
		if _, err := tandem.ParseArgs(cfg.TandemArgs); err != nil {
			return err
		}
	}
	if cfg.Runs < 1 || cfg.Units < 1 || cfg.ReclaimGangs < 1 || cfg.ReclaimUnits < 1 {
		return fmt.Errorf("-runs, -units, -reclaim-gangs and -reclaim-units must be at least 1")
	}
	if cfg.Case != CasePlacement && cfg.Case != CaseReclaim && cfg.Case != CaseAll {
		return fmt.Errorf("-case %q: want %s, %s or %s", cfg.Case, CasePlacement, CaseReclaim, CaseAll)
	}
	// Volcano logs every unschedulable gang at the default level.
	klog.SetOutput(discard{})
	klog.LogToStderr(false)
	cfg.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	env := Env{
		Command:  strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " "),
		Cores:    runtime.NumCPU(),
		Seed:     cfg.Seed,
		Runs:     cfg.Runs,
		Platform: fmt.Sprintf("%s/%s %s", runtime.GOOS, runtime.GOARCH, runtime.Version()),
		Date:     time.Now(),
		Config:   cfg,
	}
	var results []CaseResult
	var reclaim []ReclaimResult
	var err error
	if cfg.Case != CaseReclaim {
		results, err = Run(ctx, cfg)
	}
	if cfg.Case != CasePlacement && err == nil {
		reclaim, err = RunReclaim(ctx, cfg)
	}
	if len(results) > 0 || len(reclaim) > 0 {
		if perr := Print(os.Stdout, env, results, reclaim); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
