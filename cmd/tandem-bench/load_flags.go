package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/plot"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// complete turns the flags into a load.Config: the workload's defaults
// under the flags given, the trace read, the arrival, the sweep and the fleet.
func (f *loadFlags) complete(fs *flag.FlagSet, cfg *load.Config) error {
	spec := load.DefaultSpec(f.workload.Kind)
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	override := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	w := f.workload
	spec.Seed, spec.Skew = w.Seed, w.Skew
	override("requests", &spec.Requests, w.Requests)
	override("groups", &spec.Groups, w.Groups)
	override("users", &spec.Users, w.Users)
	override("system-tokens", &spec.SystemTokens, w.SystemTokens)
	override("question-tokens", &spec.QuestionTokens, w.QuestionTokens)
	override("output-tokens", &spec.OutputTokens, w.OutputTokens)
	override("conversations", &spec.Conversations, w.Conversations)
	override("turns", &spec.Turns, w.Turns)
	override("input-tokens", &spec.InputTokens, w.InputTokens)
	override("trace-block-tokens", &spec.TraceBlockTokens, w.TraceBlockTokens)
	if f.trace != "" {
		file, err := os.Open(f.trace)
		if err != nil {
			return err
		}
		spec.Trace, err = load.ParseTrace(file)
		file.Close()
		if err != nil {
			return err
		}
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	cfg.Workload = spec
	if spec.Kind == load.Trace && !set["arrival"] {
		f.arrival = load.TraceTimes // replay the trace's own timing
	}
	if err := f.arrivalConfig(cfg); err != nil {
		return err
	}
	cfg.Policies = load.SplitList(f.policies)
	if len(cfg.Policies) == 0 || cfg.Reps < 1 {
		return fmt.Errorf("need at least one policy and one repetition")
	}
	if n := len(urls(f.targets)); n == 1 || (n == 0 && f.simEngines == 1) {
		// One target: the harness spreads nothing; the policy is a label.
		switch {
		case !set["policies"]:
			cfg.Policies = []string{"single-target"}
		case len(cfg.Policies) > 1:
			return fmt.Errorf("with one target --policies is only a label for the run: give one name")
		}
	}
	if cfg.API != load.APIChat && cfg.API != load.APICompletions {
		return fmt.Errorf("--api %q: want chat or completions", cfg.API)
	}
	cfg.ResetCache = f.resetCache
	return f.fleet(cfg)
}

func (f *loadFlags) arrivalConfig(cfg *load.Config) error {
	a := load.Arrival{Kind: f.arrival, BurstSize: f.burst, Concurrency: f.concurrency, Speedup: f.speedup}
	if f.arrival == load.Poisson || f.arrival == load.Constant || f.arrival == load.Burst {
		steps, err := load.ParseRateSteps(f.rate)
		if err != nil {
			return err
		}
		a.Steps = steps
	}
	if f.sweep != "" {
		rates, err := load.ParseSweep(f.sweep)
		if err != nil {
			return err
		}
		cfg.SweepRates = rates
		if a.Kind != load.Poisson {
			return fmt.Errorf("--sweep runs poisson arrivals; drop --arrival=%s", a.Kind)
		}
	}
	if f.plots != "" && f.sweep == "" {
		return fmt.Errorf("--plots draws a sweep: give --sweep too")
	}
	if err := a.Validate(); err != nil {
		return err
	}
	cfg.Arrival = a
	return nil
}

// fleet sets cfg.NewFleet: in-process simulated engines started afresh for
// every run (--sim), or the given targets.
func (f *loadFlags) fleet(cfg *load.Config) error {
	targets, metrics := urls(f.targets), urls(f.metrics)
	if f.metrics == "none" {
		metrics = nil
	}
	if f.simEngines == 0 {
		if len(targets) == 0 {
			return fmt.Errorf("give --targets, or --sim N to start simulated engines")
		}
		if f.metrics == "" {
			metrics = targets
		}
		cfg.NewFleet = func(context.Context) (load.Fleet, error) {
			return load.Fleet{Targets: targets, Engines: metrics}, nil
		}
		return nil
	}
	if f.simEngines < 1 || f.simScale < 0 {
		return fmt.Errorf("--sim must be at least 1 and --sim-time-scale not negative")
	}
	base := sim.DefaultConfig()
	base.TimeScale, base.Seed = f.simScale, cfg.Workload.Seed
	if f.simBlocks > 0 {
		base.Engine.NumBlocks = f.simBlocks
	}
	if f.simSeqs > 0 {
		base.Engine.MaxNumSeqs = f.simSeqs
	}
	if err := base.Validate(); err != nil {
		return err
	}
	addrs, err := sim.Addresses(f.simListen, f.simEngines)
	if err != nil {
		return err
	}
	cfg.NewFleet = func(ctx context.Context) (load.Fleet, error) {
		engines, err := sim.StartMany(ctx, base, addrs)
		if err != nil {
			return load.Fleet{}, err
		}
		urls := make([]string, len(engines))
		for i, e := range engines {
			urls[i] = e.URL()
		}
		fl := load.Fleet{Targets: urls, Engines: urls, Close: func() {
			for _, e := range engines {
				e.Close()
			}
		}}
		if len(targets) > 0 {
			fl.Targets = targets // a router in front of the simulated engines
		}
		if f.metrics == "none" {
			fl.Engines = nil
		}
		return fl, nil
	}
	return nil
}

func (f *loadFlags) fleetNotes() string {
	if f.simEngines == 0 {
		return "external targets " + f.targets
	}
	blocks := f.simBlocks
	if blocks == 0 {
		blocks = sim.DefaultConfig().Engine.NumBlocks
	}
	n := fmt.Sprintf("%d in-process tandem-sim engines (Llama-3.1-8B on H100 model), time scale %g, %d KV blocks of 16 tokens each, fresh for every run",
		f.simEngines, f.simScale, blocks)
	if f.targets != "" {
		n += ", requests through " + f.targets
	}
	return n
}

// write prints the tables and writes the JSON, CSV and plot files asked
// for.
func (f *loadFlags) write(r *load.Report) error {
	if err := r.Print(os.Stdout); err != nil {
		return err
	}
	files := []struct {
		path  string
		write func(*os.File) error
	}{
		{f.jsonPath, func(out *os.File) error { return r.WriteJSON(out) }},
		{f.csvPath, func(out *os.File) error { return r.WriteCSV(out) }},
	}
	for _, file := range files {
		path, write := file.path, file.write
		if path == "" {
			continue
		}
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := write(out); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	if f.plots != "" {
		paths, err := plot.WriteSweep(f.plots, "load", r)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		fmt.Printf("\nplots: %s\n", strings.Join(paths, " "))
	}
	return nil
}

// urls splits a comma-separated list of base URLs, without trailing "/".
func urls(s string) []string {
	out := load.SplitList(s)
	for i, u := range out {
		out[i] = strings.TrimRight(u, "/")
	}
	return out
}
