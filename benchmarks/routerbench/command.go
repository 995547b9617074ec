package routerbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/plot"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// common are the flags both subcommands share.
type common struct {
	routerBin, routerConfig string
	policies                string
	reps                    int
	seed                    uint64
	jsonPath, dir           string
	keep, quiet             bool
}

func (c *common) bind(fs *flag.FlagSet, policies string) {
	bin := "bin/tandem-router"
	if root, err := localcluster.FindRepoRoot(); err == nil {
		bin = filepath.Join(root, "bin", "tandem-router")
	}
	fs.StringVar(&c.routerBin, "router-bin", bin, "tandem-router binary (build: go build -o bin/ ./cmd/tandem-router)")
	fs.StringVar(&c.routerConfig, "router-config", "", "extra router configuration (YAML, router/README.md) under the generated listen, policy and discovery")
	fs.StringVar(&c.policies, "policies", policies, "router policies, comma-separated: "+strings.Join(Policies, ", ")+
		", a profile ("+strings.Join(slices.Sorted(maps.Keys(Profiles)), ", ")+"), or NAME=FILE: router configuration (YAML, e.g. a profile) run under the label NAME")
	fs.IntVar(&c.reps, "reps", 3, "repetitions; modes alternate within each")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of prompts, arrivals and engines")
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.dir, "dir", "", "folder for the routers' configs and logs (default: a new temporary folder, removed unless --keep)")
	fs.BoolVar(&c.keep, "keep", false, "keep the routers' configs and logs")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines on stderr")
}

// complete checks the router binary, reads the extra config and the
// policy variants' files, and makes the work folder; cleanup removes the
// folder unless kept.
func (c *common) complete() (bin string, base []byte, policies []string, variants map[string][]byte, cleanup func(), err error) {
	if bin, err = FindRouterBin(c.routerBin); err != nil {
		return "", nil, nil, nil, nil, err
	}
	if c.routerConfig != "" {
		if base, err = os.ReadFile(c.routerConfig); err != nil {
			return "", nil, nil, nil, nil, err
		}
	}
	if policies, variants, err = ParsePolicies(load.SplitList(c.policies), os.ReadFile); err != nil {
		return "", nil, nil, nil, nil, err
	}
	if c.reps < 1 {
		return "", nil, nil, nil, nil, fmt.Errorf("--reps must be at least 1")
	}
	made := c.dir == ""
	if made {
		if c.dir, err = os.MkdirTemp("", "tandem-bench-router-"); err != nil {
			return "", nil, nil, nil, nil, err
		}
	} else if err = os.MkdirAll(c.dir, 0o755); err != nil {
		return "", nil, nil, nil, nil, err
	}
	cleanup = func() {
		if made && !c.keep {
			_ = os.RemoveAll(c.dir)
		}
	}
	return bin, base, policies, variants, cleanup, nil
}

func (c *common) logf() func(string, ...any) {
	if c.quiet {
		return nil
	}
	return func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
}

// routerNote says which router binary ran: its path and build time.
func routerNote(bin string) string {
	if st, err := os.Stat(bin); err == nil {
		return fmt.Sprintf("%s (built %s)", bin, st.ModTime().Format("2006-01-02 15:04 MST"))
	}
	return bin
}

func parse(fs *flag.FlagSet, args []string) (bool, error) {
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return true, nil
}

// MainOverhead is `tandem-bench router-overhead`.
func MainOverhead(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tandem-bench router-overhead", flag.ContinueOnError)
	var c common
	c.bind(fs, "tandem")
	cfg := OverheadConfig{}
	var delays string
	fs.StringVar(&cfg.Engine, "engine", EngineSim, "engines: sim (tandem-sim in this process, time scale 0) or stub (a fixed answer, no work)")
	fs.IntVar(&cfg.Engines, "engines", 4, "number of engines")
	fs.StringVar(&delays, "engine-delays", "0,20ms", "cases: a fixed per-request engine delay each, comma-separated")
	answers := fs.String("answers", "whole,streaming", "cases: each delay with these answer modes, comma-separated: whole (one JSON answer) and streaming (an SSE chat stream, read to its end)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "requests in flight (closed loop)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop instead: requests per second, however many are in flight (0: closed loop at --concurrency)")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "load before each measured window (not measured)")
	fs.DurationVar(&cfg.Window, "window", 5*time.Second, "measured window of each run")
	fs.IntVar(&cfg.PromptBytes, "prompt-bytes", 256, "size of each request's chat message")
	fs.IntVar(&cfg.MaxTokens, "max-tokens", 8, "max_tokens of each request")
	fs.IntVar(&cfg.Prompts, "prompts", 64, "distinct messages, sent in turn")
	tokSizes := fs.String("tokenize-sizes", "", "instead: measure exact mode's tokenization (the engine's /tokenize, the token cache) against the approximate hashing, per prompt size in bytes, comma-separated (e.g. 1000,16000,200000)")
	tokIters := fs.Int("tokenize-iterations", 200, "with --tokenize-sizes: calls per step and repetition")
	if ok, err := parse(fs, args); !ok || err != nil {
		return err
	}
	if *tokSizes != "" {
		return mainTokenize(ctx, *tokSizes, *tokIters, c)
	}
	for _, d := range load.SplitList(delays) {
		v, err := time.ParseDuration(d)
		if d == "0" {
			v, err = 0, nil
		}
		if err != nil {
			return fmt.Errorf("--engine-delays: %w", err)
		}
		cfg.Delays = append(cfg.Delays, v)
	}
	for _, a := range load.SplitList(*answers) {
		switch a {
		case "whole":
			cfg.Streams = append(cfg.Streams, false)
		case "streaming":
			cfg.Streams = append(cfg.Streams, true)
		default:
			return fmt.Errorf("--answers: %q: want whole or streaming", a)
		}
	}
	bin, base, policies, variants, cleanup, err := c.complete()
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.RouterVariants = variants
	cfg.RouterBin, cfg.RouterBase, cfg.Policies, cfg.Seed, cfg.Reps, cfg.Dir = bin, base, policies, c.seed, c.reps, c.dir
	cfg.Logf = c.logf()
	if err := cfg.Validate(); err != nil {
		return err
	}
	engine := fmt.Sprintf("%d in-process tandem-sim engines at time scale 0 (a delay: scale %g plus an injected spike of that delay on every request)", cfg.Engines, simDelayScale)
	if cfg.Engine == EngineStub {
		engine = fmt.Sprintf("%d in-process stub engines (a fixed answer after the delay)", cfg.Engines)
	}
	loop := fmt.Sprintf("closed loop, %d in flight", cfg.Concurrency)
	if cfg.Rate > 0 {
		loop = fmt.Sprintf("open loop at %g req/s", cfg.Rate)
	}
	rep := &OverheadReport{Env: Env{
		Router: routerNote(bin),
		Env: load.NewEnv(c.seed, fmt.Sprintf("%s; %s, chats of ~%d bytes (answers: %s; a streamed one is read to its last event), max_tokens %d, %d distinct prompts; "+
			"warm-up %s then %s measured per run; direct = the client round-robins over the engines; router = a fresh tandem-router process per run",
			engine, loop, cfg.PromptBytes, *answers, cfg.MaxTokens, cfg.Prompts, cfg.Warmup, cfg.Window)),
	}}
	rep.Runs, err = RunOverhead(ctx, cfg)
	rep.Ratios = OverheadRatios(rep.Runs)
	if len(rep.Runs) > 0 {
		if perr := rep.Print(os.Stdout); perr != nil && err == nil {
			err = perr
		}
		if jerr := load.WriteJSONFile(c.jsonPath, rep); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

func mainTokenize(ctx context.Context, sizes string, iterations int, c common) error {
	cfg := TokenizeConfig{Iterations: iterations, Reps: c.reps, Seed: c.seed, Logf: c.logf()}
	for _, s := range load.SplitList(sizes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("--tokenize-sizes: %q is not a size in bytes", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	rep := struct {
		load.Env
		Rows []TokenizeRow `json:"rows"`
	}{Env: load.NewEnv(c.seed, fmt.Sprintf("one in-process tandem-sim engine at time scale 0; steps alternate within each of %d repetitions, %d calls each; p50/p99 are medians over repetitions", c.reps, iterations))}
	var err error
	rep.Rows, err = RunTokenize(ctx, cfg)
	if len(rep.Rows) > 0 {
		if perr := PrintTokenize(os.Stdout, rep.Rows); perr != nil && err == nil {
			err = perr
		}
		if jerr := load.WriteJSONFile(c.jsonPath, rep); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// MainPolicies is `tandem-bench router-policies`.
func MainPolicies(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tandem-bench router-policies", flag.ContinueOnError)
	var c common
	c.bind(fs, strings.Join(Policies, ","))
	cfg := PoliciesConfig{Sim: sim.DefaultConfig()}
	f := bindPolicyFlags(fs, &cfg)
	kvEvents := fs.Bool("sim-kv-events", false, "engines publish vLLM KV events (on by itself when a policy's router config enables kvEvents, e.g. the tandem-exact profile); every policy's engines alike")
	plots := fs.String("plots", "", "sweep: write SVG charts of p90 TTFT, throughput and hit rate vs offered rate into this folder (router-policies-<workload>-*.svg)")
	ov := bindOverloadFlags(fs)
	replicas := fs.String("replicas", "", `router replica counts, comma-separated (e.g. "1,3,3-alone"): each policy runs as POLICY/rN, N tandem-router processes exchanging what they routed (router/peers) behind a round-robin front; N-alone: without the exchange`)
	if ok, err := parse(fs, args); !ok || err != nil {
		return err
	}
	counts, err := ParseReplicas(*replicas)
	if err != nil {
		return err
	}
	cfg.Replicas = counts
	if ov.knee > 0 {
		if err := ov.complete(fs, &c, f); err != nil {
			return err
		}
	}
	if err := f.complete(fs, &cfg, c.seed); err != nil {
		return err
	}
	if *plots != "" && len(cfg.SweepRates) == 0 {
		return fmt.Errorf("--plots draws a sweep: give --sweep too")
	}
	bin, base, policies, variants, cleanup, err := c.complete()
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.RouterVariants = variants
	cfg.RouterBin, cfg.RouterBase, cfg.Policies, cfg.Reps, cfg.Dir = bin, base, policies, c.reps, c.dir
	cfg.Sim.Seed = c.seed
	if want, err := WantsKVEvents(base, variants); err != nil {
		return err
	} else if want || *kvEvents {
		cfg.Sim.KVEventsEndpoint = "tcp://127.0.0.1:0"
	}
	cfg.Logf = c.logf()
	if err := cfg.Validate(); err != nil {
		return err
	}
	extra := ""
	if cfg.Sim.KVEventsEndpoint != "" {
		extra = ", publishing KV events (vLLM's format) for every policy"
	}
	extra += sweepNote(cfg)
	env := load.NewEnv(c.seed, fmt.Sprintf("%d in-process tandem-sim engines (Llama-3.1-8B on H100 model), time scale %g, %d KV blocks of 16 tokens each%s, "+
		"fresh for every run, behind a fresh tandem-router process per run: %s; client, engines and router share the machine's %d cores",
		cfg.Engines, cfg.Sim.TimeScale, cfg.Sim.Engine.NumBlocks, extra, routerNote(bin), runtime.NumCPU()))
	if ov.knee > 0 {
		return mainOverload(ctx, ov, cfg, env, c.jsonPath)
	}
	results, err := RunPolicies(ctx, cfg, env)
	for _, res := range results {
		if perr := PrintPolicies(os.Stdout, res); perr != nil && err == nil {
			err = perr
		}
	}
	if len(results) > 0 {
		if jerr := load.WriteJSONFile(c.jsonPath, results); jerr != nil && err == nil {
			err = jerr
		}
	}
	for i := 0; i < len(results) && *plots != ""; i++ {
		paths, perr := plot.WriteSweep(*plots, "router-policies", results[i].Report)
		if perr != nil && err == nil {
			err = fmt.Errorf("plots: %w", perr)
		}
		fmt.Printf("\nplots: %s\n", strings.Join(paths, " "))
	}
	return err
}

// sweepNote says how long each sweep point ran, after what warm-up, and
// how far the sweep may extend.
func sweepNote(cfg PoliciesConfig) string {
	var out string
	if cfg.SweepFor > 0 {
		out += fmt.Sprintf(", each sweep rate's runs %s of arrivals (rate × %s requests, not --requests", cfg.SweepFor, cfg.SweepFor)
		if cfg.SweepMaxRequests > 0 {
			out += fmt.Sprintf(", at most %d", cfg.SweepMaxRequests)
		}
		out += ")"
	}
	if cfg.Warmup > 0 {
		out += fmt.Sprintf(" after a warm-up of %s of arrivals at the same rate (the same workload under another seed; not measured, its stragglers finish inside the measurement)", cfg.Warmup)
	}
	if cfg.SweepExtend > 0 {
		out += fmt.Sprintf("; the sweep extends by up to %d rates for policies whose p90 TTFT has not crossed the bound", cfg.SweepExtend)
	}
	return out
}

// policyFlags are router-policies' workload and arrival flags.
type policyFlags struct {
	workloads, rate, sweep, arrival string
	concurrency                     int
	w                               load.Spec
	// short is --short; overload says --overload made the sweep.
	short, overload bool
}

// bindPolicyFlags defines router-policies' own flags, into cfg where they
// map one to one.
func bindPolicyFlags(fs *flag.FlagSet, cfg *PoliciesConfig) *policyFlags {
	f := &policyFlags{}
	w := &f.w
	fs.StringVar(&f.workloads, "workloads", load.Shared+","+load.Random, "workloads, comma-separated, each run through every policy: "+strings.Join(load.Kinds, ", ")+" (trace: the shipped synthetic sample, arrivals from the sweep)")
	fs.IntVar(&w.Requests, "requests", 1024, "requests per run")
	fs.IntVar(&w.Groups, "groups", 0, "shared: tenant groups; long: documents; chat: system prompts (default: the workload's)")
	fs.IntVar(&w.Users, "users", 0, "shared: users per group")
	fs.Float64Var(&w.Skew, "skew", 0, "shared: Zipf exponent of group popularity (0: every group alike)")
	fs.IntVar(&w.SystemTokens, "system-tokens", 0, "tokens of a system prompt (long: of a document)")
	fs.IntVar(&w.QuestionTokens, "question-tokens", 0, "tokens of a question")
	fs.IntVar(&w.OutputTokens, "output-tokens", 0, "tokens generated per request")
	fs.IntVar(&w.Conversations, "conversations", 0, "chat: conversations open at once")
	fs.IntVar(&w.Turns, "turns", 0, "chat: turns per conversation")
	fs.IntVar(&w.InputTokens, "input-tokens", 0, "random: prompt tokens")
	fs.IntVar(&w.ToolTokens, "tool-tokens", 0, "agentic: mean tokens of a tool output")
	fs.IntVar(&w.Docs, "docs", 0, "rag: documents per request")
	fs.StringVar(&f.arrival, "arrival", load.Poisson, "arrivals: poisson, constant or concurrency")
	fs.StringVar(&f.rate, "rate", "300", `requests/s, or steps "R1@D1,...,Rn" (poisson, constant)`)
	fs.IntVar(&f.concurrency, "concurrency", 32, "concurrency arrivals: requests in flight")
	fs.StringVar(&f.sweep, "sweep", "", `sweep poisson rates instead: "LO:HI:N" (N rates, geometric) or "R1,R2,..."`)
	fs.DurationVar(&cfg.SweepFor, "sweep-for", 30*time.Second, "sweep: give every rate this long of arrivals (rate × it requests, instead of --requests; at most --sweep-max-requests)")
	fs.IntVar(&cfg.SweepMaxRequests, "sweep-max-requests", 5000, "sweep: at most this many requests per rate (a point ends at whichever of it and --sweep-for comes first; 0: no cap)")
	fs.DurationVar(&cfg.Warmup, "warmup", 10*time.Second, "sweep: before each run's measured requests, this long of arrivals at the same rate (same workload, another seed; capped by --sweep-max-requests), not measured")
	fs.IntVar(&cfg.SweepExtend, "sweep-extend", 3, "sweep: add up to this many rates beyond the sweep (one step further each) for the policies whose p90 TTFT has not crossed --ttft-bound; the report says which never did")
	fs.BoolVar(&f.short, "short", false, "sweep: a smoke run, not a measurement: --sweep-for 3s --warmup 1s --sweep-max-requests 1000 unless given")
	fs.DurationVar(&cfg.TTFTBound, "ttft-bound", 200*time.Millisecond, "sweep: the p90 TTFT bound that defines the knee")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "timeout of one request")
	fs.IntVar(&cfg.Engines, "engines", 4, "in-process tandem-sim engines, fresh for every run")
	fs.Float64Var(&cfg.Sim.TimeScale, "sim-time-scale", 0.1, "engines' time scale (1: the modelled H100's speed)")
	sim.BindKVMemory(fs, "sim-", &cfg.Sim.Engine.NumBlocks) // --sim-num-gpu-blocks, --sim-kv-memory calibrated|memory-pressured
	fs.StringVar(&cfg.Sim.Lengths.Dist, "sim-output-lengths", cfg.Sim.Lengths.Dist, "engines' output lengths: lognormal (answers end on their own, max_tokens a cap) or fixed (exactly max_tokens)")
	fs.IntVar(&cfg.Sim.Engine.MaxNumSeqs, "sim-max-num-seqs", cfg.Sim.Engine.MaxNumSeqs, "engines' running batch limit")
	fs.Func("sim-scheduling-policy", "engines' waiting-queue order, as vLLM's --scheduling-policy: fcfs (default) or priority (the request's priority member, lower first; the router writes it with flowControl.enginePriority)", func(v string) error {
		p, err := engine.ParsePolicy(v)
		cfg.Sim.Engine.Policy = p
		return err
	})
	return f
}

// complete sets cfg's workloads, arrival and sweep from the flags.
func (f *policyFlags) complete(fs *flag.FlagSet, cfg *PoliciesConfig, seed uint64) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, kind := range load.SplitList(f.workloads) {
		spec, err := workloadSpec(kind, f.w, set, seed)
		if err != nil {
			return err
		}
		cfg.Workloads = append(cfg.Workloads, spec)
	}
	cfg.Arrival = load.Arrival{Kind: f.arrival, Concurrency: f.concurrency}
	if f.arrival == load.Poisson || f.arrival == load.Constant {
		steps, err := load.ParseRateSteps(f.rate)
		if err != nil {
			return err
		}
		cfg.Arrival.Steps = steps
	} else if f.arrival != load.Concurrency {
		return fmt.Errorf("--arrival %q: want poisson, constant or concurrency", f.arrival)
	}
	if f.short {
		setUnless(set, "sweep-for", &cfg.SweepFor, 3*time.Second)
		setUnless(set, "warmup", &cfg.Warmup, time.Second)
		setUnless(set, "sweep-max-requests", &cfg.SweepMaxRequests, 1000)
	}
	if f.sweep == "" || f.overload {
		// Without a sweep the defaults do not apply; --overload sweeps a
		// knee's multiples with the same requests at every rate.
		setUnless(set, "sweep-for", &cfg.SweepFor, 0)
		setUnless(set, "warmup", &cfg.Warmup, 0)
		setUnless(set, "sweep-extend", &cfg.SweepExtend, 0)
	}
	if f.sweep != "" {
		rates, err := load.ParseSweep(f.sweep)
		if err != nil {
			return err
		}
		cfg.SweepRates = rates
	}
	return nil
}

// setUnless sets *dst to v unless the flag name was given.
func setUnless[T any](set map[string]bool, name string, dst *T, v T) {
	if !set[name] {
		*dst = v
	}
}

// workloadSpec is the workload's defaults with the flags given over them.
func workloadSpec(kind string, w load.Spec, set map[string]bool, seed uint64) (load.Spec, error) {
	s := load.DefaultSpec(kind)
	s.Seed, s.Requests = seed, w.Requests
	if set["skew"] { // rag's default popularity is Zipf 1
		s.Skew = w.Skew
	}
	for name, f := range map[string]struct{ dst, v *int }{
		"groups": {&s.Groups, &w.Groups}, "users": {&s.Users, &w.Users}, "system-tokens": {&s.SystemTokens, &w.SystemTokens},
		"question-tokens": {&s.QuestionTokens, &w.QuestionTokens}, "output-tokens": {&s.OutputTokens, &w.OutputTokens},
		"conversations": {&s.Conversations, &w.Conversations}, "turns": {&s.Turns, &w.Turns}, "input-tokens": {&s.InputTokens, &w.InputTokens},
		"tool-tokens": {&s.ToolTokens, &w.ToolTokens}, "docs": {&s.Docs, &w.Docs},
	} {
		if set[name] {
			*f.dst = *f.v
		}
	}
	return s, s.Validate()
}

// overloadFlags are router-policies --overload's flags.
type overloadFlags struct {
	knee         float64
	factors      string
	fairness     bool
	heavy, light float64
	tenantHeader string
	fairFor      time.Duration
}

func bindOverloadFlags(fs *flag.FlagSet) *overloadFlags {
	o := &overloadFlags{}
	fs.Float64Var(&o.knee, "overload", 0, "flow control benchmark: the knee in req/s (from a --sweep of the same fleet and workload); offers --overload-factors × it, then the two-tenant fairness case. "+
		"Defaults then: --policies "+ProfileFlowOff+","+ProfileFlowOn+" (flow control off and on, alternating), --workloads chat; every rate runs the same --requests unless --sweep-for is given")
	fs.StringVar(&o.factors, "overload-factors", "0.5,1,2,4", "--overload: offered rates as multiples of the knee (1 must be among them)")
	fs.BoolVar(&o.fairness, "fairness", true, "--overload: also run the two-tenant fairness case")
	fs.Float64Var(&o.heavy, "fairness-heavy", 4, "--overload fairness: the heavy tenant's rate as a multiple of the knee")
	fs.Float64Var(&o.light, "fairness-light", 0.1, "--overload fairness: the light tenant's rate as a multiple of the knee")
	fs.DurationVar(&o.fairFor, "fairness-for", 10*time.Second, "--overload fairness: arrivals per run")
	fs.StringVar(&o.tenantHeader, "tenant-header", "X-Tandem-Tenant", "--overload fairness: the header naming each request's tenant (the fairness runs' router config sets tenants.header to it)")
	return o
}

// complete sets the overload defaults for flags not given.
func (o *overloadFlags) complete(fs *flag.FlagSet, c *common, f *policyFlags) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["sweep"] {
		return fmt.Errorf("--overload makes its own sweep (--overload-factors × the knee); leave out --sweep")
	}
	if !set["policies"] {
		c.policies = ProfileFlowOff + "," + ProfileFlowOn
	}
	if !set["workloads"] {
		f.workloads = load.Chat
	}
	var sweep []string
	for _, s := range load.SplitList(o.factors) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("--overload-factors: %q is not a number", s)
		}
		sweep = append(sweep, strconv.FormatFloat(v*o.knee, 'f', -1, 64))
	}
	f.sweep = strings.Join(sweep, ",") // checked by complete like any sweep
	f.overload = true
	return nil
}

func (o *overloadFlags) config(cfg PoliciesConfig) (OverloadConfig, error) {
	oc := OverloadConfig{PoliciesConfig: cfg, Knee: o.knee, Fairness: o.fairness, HeavyFactor: o.heavy, LightFactor: o.light, TenantHeader: o.tenantHeader, FairFor: o.fairFor}
	for _, s := range load.SplitList(o.factors) {
		v, _ := strconv.ParseFloat(s, 64)
		oc.Factors = append(oc.Factors, v)
	}
	if len(oc.Workloads) != 1 {
		return oc, fmt.Errorf("--overload runs one workload; got %d", len(oc.Workloads))
	}
	return oc, oc.Validate()
}

func mainOverload(ctx context.Context, o *overloadFlags, cfg PoliciesConfig, env load.Env, jsonPath string) error {
	oc, err := o.config(cfg)
	if err != nil {
		return err
	}
	res, err := RunOverload(ctx, oc, env)
	if perr := PrintOverload(os.Stdout, res, oc); perr != nil && err == nil {
		err = perr
	}
	if jerr := load.WriteJSONFile(jsonPath, res); jerr != nil && err == nil {
		err = jerr
	}
	return err
}
