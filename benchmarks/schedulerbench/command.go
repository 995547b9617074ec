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
	"strconv"
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
	fs.StringVar(&cfg.Case, "case", CaseAll, "what to run: placement (large and small cases, stock vs Tandem), reclaim (tandem-reclaim's session cost), all (both), or scale (tandem-allocate vs Volcano's allocate at -scale-nodes, two fleets, and the small cases)")
	fs.IntVar(&cfg.ReclaimGangs, "reclaim-gangs", 200, "reclaim case: batch gangs of 3-7 nodes in turn filling the fleet (their nodes must add up to -nodes)")
	fs.IntVar(&cfg.ReclaimUnits, "reclaim-units", 50, "reclaim case: waiting units")
	scaleNodes := fs.String("scale-nodes", "1000,5000", "scale case: fleet sizes, comma-separated (each a multiple of -nodes-per-rack; the NVL72 fleet takes the nearest whole racks of 72)")
	fs.IntVar(&cfg.VolcanoMaxNodes, "volcano-max-nodes", 1000, "scale case: above this many nodes Volcano's allocate runs once, not -runs times (it takes minutes there)")
	fs.BoolVar(&cfg.NoVolcano, "no-volcano", false, "scale case: run tandem-allocate only (for a quick look or a profile; no ratios)")
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
	if cfg.Case != CasePlacement && cfg.Case != CaseReclaim && cfg.Case != CaseAll && cfg.Case != CaseScale {
		return fmt.Errorf("-case %q: want %s, %s, %s or %s", cfg.Case, CasePlacement, CaseReclaim, CaseScale, CaseAll)
	}
	for _, f := range strings.Split(*scaleNodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-scale-nodes %q: want positive whole numbers", *scaleNodes)
		}
		cfg.ScaleNodes = append(cfg.ScaleNodes, n)
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
	var scale []ScaleResult
	var err error
	if cfg.Case == CasePlacement || cfg.Case == CaseAll {
		results, err = Run(ctx, cfg)
	}
	if (cfg.Case == CaseReclaim || cfg.Case == CaseAll) && err == nil {
		reclaim, err = RunReclaim(ctx, cfg)
	}
	if cfg.Case == CaseScale && err == nil {
		scale, err = RunScale(ctx, cfg)
	}
	if len(results) > 0 || len(reclaim) > 0 {
		if perr := Print(os.Stdout, env, results, reclaim); perr != nil && err == nil {
			err = perr
		}
	}
	if len(scale) > 0 {
		if perr := PrintScale(os.Stdout, env, scale); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
