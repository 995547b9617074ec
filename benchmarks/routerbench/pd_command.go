package routerbench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// pdDefaults are router-pd's defaults for flags it shares with
// router-policies: unique long prompts and modest outputs, the calibrated
// engine's KV memory (long prompts need it), and a sweep around the
// disaggregated fleet's knee.
var pdDefaults = [][2]string{
	{"workloads", load.Random},
	{"input-tokens", "4000"},
	{"output-tokens", "192"},
	{"requests", "480"},
	{"sim-num-gpu-blocks", strconv.Itoa(engine.DefaultParams().NumBlocks)},
	{"sweep", "50,100,150,200,250,300"},
	{"rate", "150"},
	{"ttft-bound", "100ms"},
}

// MainPD is `tandem-bench router-pd`.
func MainPD(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tandem-bench router-pd", flag.ContinueOnError)
	var c common
	c.bind(fs, "tandem")
	cfg := PDConfig{PoliciesConfig: PoliciesConfig{Sim: sim.DefaultConfig()}}
	f := bindPolicyFlags(fs, &cfg.PoliciesConfig)
	fs.IntVar(&cfg.Prefill, "prefill", 2, "prefill engines of the disaggregated fleet (with --decode: --engines in all)")
	fs.IntVar(&cfg.Decode, "decode", 2, "decode engines of the disaggregated fleet")
	cost := &cfg.Sim.Engine.Cost
	fs.Float64Var(&cost.TransferBandwidth, "sim-kv-transfer-bandwidth", cost.TransferBandwidth, "KV transfer rate into a decode engine, bytes/s (one link per engine)")
	fs.DurationVar(&cost.TransferLatency, "sim-kv-transfer-latency", cost.TransferLatency, "fixed cost of one KV transfer")
	if err := setDefaults(fs, pdDefaults); err != nil {
		return err
	}
	if ok, err := parse(fs, args); !ok || err != nil {
		return err
	}
	if err := f.complete(fs, &cfg.PoliciesConfig, c.seed); err != nil {
		return err
	}
	bin, base, policies, variants, cleanup, err := c.complete()
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.RouterBin, cfg.RouterBase, cfg.RouterVariants, cfg.Policies, cfg.Reps, cfg.Dir = bin, base, variants, policies, c.reps, c.dir
	cfg.Sim.Seed = c.seed
	cfg.Logf = c.logf()
	if err := cfg.Validate(); err != nil {
		return err
	}
	env := load.NewEnv(c.seed, pdNotes(&cfg, bin))
	results, err := RunPD(ctx, cfg, env)
	for _, res := range results {
		if perr := PrintPD(os.Stdout, res); perr != nil && err == nil {
			err = perr
		}
	}
	if len(results) > 0 {
		if jerr := load.WriteJSONFile(c.jsonPath, results); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// setDefaults gives flags new defaults, shown by -h; they count as set,
// so workload fields among them replace the workload's own defaults.
func setDefaults(fs *flag.FlagSet, defaults [][2]string) error {
	for _, d := range defaults {
		if err := fs.Set(d[0], d[1]); err != nil {
			return fmt.Errorf("default --%s=%s: %w", d[0], d[1], err)
		}
		fs.Lookup(d[0]).DefValue = d[1]
	}
	return nil
}

// pdNotes says what was compared and why it is fair.
func pdNotes(cfg *PDConfig, bin string) string {
	e, cost := cfg.Sim.Engine, cfg.Sim.Engine.Cost
	return fmt.Sprintf("%s = %d in-process tandem-sim engines serving whole requests; %s = %d prefill + %d decode engines, "+
		"engine i of each role in unit i mod %d (the router prefers a prefill engine of the decode engine's unit); both behind a fresh tandem-router process per run (policy %s, default P/D threshold): %s. "+
		"Same engine count, the same engine model (Llama-3.1-8B on H100 as calibrated) at time scale %g with %d KV blocks of %d tokens "+
		"and max %d batched tokens each; only the role differs. KV transfer into a decode engine: %g GB/s + %s per transfer "+
		"(an assumption: NIXL over one RDMA NIC). Client, engines and router share the machine's %d cores%s",
		ArmAggregated, cfg.Engines, cfg.PDLabel(), cfg.Prefill, cfg.Decode, min(cfg.Prefill, cfg.Decode), cfg.Policies[0], routerNote(bin),
		cfg.Sim.TimeScale, e.NumBlocks, e.BlockSize, e.MaxBatchedTokens, cost.TransferBandwidth/1e9, cost.TransferLatency, runtime.NumCPU(),
		sweepNote(cfg.PoliciesConfig))
}
