package routerbench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// Engine kinds of the overhead benchmark.
const (
	// EngineSim is tandem-sim engines in this process at time scale 0 (no
	// modelled latency): the simulator's HTTP, tokenizer and scheduler
	// still run.
	EngineSim = "sim"
	// EngineStub is StubEngine: a fixed answer, no work at all.
	EngineStub = "stub"
)

// ModeDirect is the overhead benchmark's baseline: the client spreads
// requests round-robin over the engines itself.
const ModeDirect = "direct"

// simDelayScale is the time scale of simulated engines given a fixed
// delay: modelled step times shrink to nanoseconds, and the delay is an
// injected latency spike on every request (spikes scale too, so the spike
// is delay / simDelayScale).
const simDelayScale = 1e-6

// OverheadConfig is the router overhead benchmark: one closed-loop load
// run DIRECT against the engines and THROUGH a tandem-router process per
// policy, alternating, for each engine delay.
type OverheadConfig struct {
	// RouterBin is the tandem-router binary; RouterBase extra YAML for
	// its configuration.
	RouterBin  string
	RouterBase []byte
	// RouterVariants are the policy variants' files (ParsePolicies).
	RouterVariants map[string][]byte
	// Policies are the router policies run, each a mode beside direct.
	Policies []string
	// Engine is EngineSim or EngineStub; Engines how many.
	Engine  string
	Engines int
	// Delays are the cases: a fixed per-request engine delay each, run
	// with each of Streams (false: whole answers, true: streamed chats).
	Delays      []time.Duration
	Streams     []bool
	Concurrency int
	// Rate, if positive, replaces the closed loop with an open one: a
	// request every 1/Rate seconds, however many are in flight.
	Rate float64
	// Warmup precedes every measured Window.
	Warmup, Window time.Duration
	Reps           int
	// PromptBytes is the approximate size of each chat message,
	// MaxTokens what each request asks for, Prompts the number of
	// distinct messages sent in turn.
	PromptBytes, MaxTokens, Prompts int
	Seed                            uint64
	// Dir holds the routers' files and logs.
	Dir  string
	Logf func(format string, args ...any)
}

// Validate reports the first impossible setting.
func (c *OverheadConfig) Validate() error {
	switch {
	case c.Engine != EngineSim && c.Engine != EngineStub:
		return fmt.Errorf("engine %q: want %s or %s", c.Engine, EngineSim, EngineStub)
	case c.Engines < 1, c.Concurrency < 1, c.Reps < 1, c.Prompts < 1, c.MaxTokens < 1:
		return fmt.Errorf("engines, concurrency, reps, prompts and max tokens must be at least 1")
	case c.Rate < 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate):
		return fmt.Errorf("rate %v: want a positive rate, or 0 for a closed loop", c.Rate)
	case c.Window <= 0 || c.Warmup < 0:
		return fmt.Errorf("the window must be positive and the warm-up not negative")
	case len(c.Delays) == 0:
		return fmt.Errorf("no engine delay given")
	case len(c.Streams) == 0:
		return fmt.Errorf("no answer mode (whole, streaming) given")
	}
	for _, d := range c.Delays {
		if d < 0 {
			return fmt.Errorf("engine delay %s: must not be negative", d)
		}
	}
	return checkPolicies(c.Policies, c.RouterVariants)
}

// Modes are the runs of one repetition, in order: direct, then each
// policy through the router ("router/<policy>").
func (c *OverheadConfig) Modes() []string {
	modes := []string{ModeDirect}
	for _, p := range c.Policies {
		modes = append(modes, routerMode+p)
	}
	return modes
}

const routerMode = "router/"

// OverheadBodies are the requests' JSON bodies: n small chats of about
// promptBytes each, with distinct seeded text, streamed or not.
func OverheadBodies(model string, n, promptBytes, maxTokens int, seed uint64, stream bool) ([][]byte, error) {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type body struct {
		Model     string    `json:"model"`
		Messages  []message `json:"messages"`
		MaxTokens int       `json:"max_tokens"`
		Stream    bool      `json:"stream"`
	}
	out := make([][]byte, n)
	for i := range out {
		words := max(1, promptBytes/4) // a word is a space and three letters
		b, err := json.Marshal(body{Model: model, MaxTokens: maxTokens, Stream: stream,
			Messages: []message{{Role: "user", Content: load.Words(words, seed, 0x0e7, uint64(i))}}})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// RunOverhead runs the benchmark; the runs so far come back with an error.
func RunOverhead(ctx context.Context, cfg OverheadConfig) ([]OverheadRun, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var runs []OverheadRun
	for _, delay := range cfg.Delays {
		for _, stream := range cfg.Streams {
			out, err := overheadCase(ctx, cfg, delay, stream)
			runs = append(runs, out...)
			if err != nil {
				return runs, err
			}
		}
	}
	return runs, nil
}

// overheadCase runs every repetition of every mode against one fleet.
func overheadCase(ctx context.Context, cfg OverheadConfig, delay time.Duration, stream bool) ([]OverheadRun, error) {
	model := sim.DefaultConfig().Engine.Model
	addrs, closeFleet, err := startOverheadFleet(ctx, cfg, model, delay)
	if err != nil {
		return nil, err
	}
	defer closeFleet()
	bodies, err := OverheadBodies(model, cfg.Prompts, cfg.PromptBytes, cfg.MaxTokens, cfg.Seed, stream)
	if err != nil {
		return nil, err
	}
	var runs []OverheadRun
	for rep := 1; rep <= cfg.Reps; rep++ {
		for _, mode := range cfg.Modes() {
			if err := ctx.Err(); err != nil {
				return runs, err
			}
			r, err := overheadRun(ctx, cfg, mode, addrs, model, bodies, stream)
			r.Case, r.Rep = CaseName(delay, stream), rep
			if err != nil {
				return runs, fmt.Errorf("%s, %s, rep %d: %w", r.Case, mode, rep, err)
			}
			cfg.logf("%s %-13s rep %d: %.0f req/s, p50 %.2f ms, p99 %.2f ms, router CPU %.2f s, errors %s",
				r.Case, mode, rep, r.RPS, r.P50, r.P99, r.RouterCPU, errorsText(r.Errors))
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// CaseName names a case by its engine delay and answer mode.
func CaseName(delay time.Duration, stream bool) string {
	name := "trivial engines"
	if delay > 0 {
		name = "engines +" + delay.String()
	}
	if stream {
		name += ", streaming"
	}
	return name
}

func startOverheadFleet(ctx context.Context, cfg OverheadConfig, model string, delay time.Duration) ([]string, func(), error) {
	addrs := make([]string, cfg.Engines)
	if cfg.Engine == EngineStub {
		var stubs []*StubEngine
		closeAll := func() {
			for _, s := range stubs {
				s.Close()
			}
		}
		for i := range addrs {
			s, err := StartStub(ctx, "127.0.0.1:0", model, delay)
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			stubs = append(stubs, s)
			addrs[i] = s.Addr()
		}
		return addrs, closeAll, nil
	}
	base := sim.DefaultConfig()
	base.Seed, base.TimeScale = cfg.Seed, 0
	if delay > 0 {
		base.TimeScale = simDelayScale
		base.Faults.SpikeRate, base.Faults.SpikeLatency = 1, time.Duration(float64(delay)/simDelayScale)
	}
	listen, err := sim.Addresses("127.0.0.1:0", cfg.Engines)
	if err != nil {
		return nil, nil, err
	}
	engines, err := sim.StartMany(ctx, base, listen)
	if err != nil {
		return nil, nil, err
	}
	for i, e := range engines {
		addrs[i] = e.Addr()
	}
	return addrs, func() {
		for _, e := range engines {
			e.Close()
		}
	}, nil
}

// overheadRun measures one mode once: a fresh router process for a
// policy, none for direct.
func overheadRun(ctx context.Context, cfg OverheadConfig, mode string, engines []string, model string, bodies [][]byte, stream bool) (OverheadRun, error) {
	r := OverheadRun{Mode: mode}
	var urls []string
	var router *RouterProcess
	if mode == ModeDirect {
		for _, e := range engines {
			urls = append(urls, "http://"+e+"/v1/chat/completions")
		}
	} else {
		policy := strings.TrimPrefix(mode, routerMode)
		dir, err := os.MkdirTemp(cfg.Dir, "router-"+policy+"-")
		if err != nil {
			return r, err
		}
		router, err = StartRouter(ctx, RouterSpec{Bin: cfg.RouterBin, Dir: dir, Policy: policy, Base: cfg.RouterBase, Variants: cfg.RouterVariants,
			Model: model, Engines: engines})
		if err != nil {
			return r, err
		}
		defer router.Stop()
		urls = []string{router.URL + "/v1/chat/completions"}
	}
	tr := NewLoadTransport(cfg.Concurrency)
	defer tr.CloseIdleConnections()
	var marks [2]struct {
		self, router Usage
		machine      CPUTimes
		errs         []error
	}
	mark := func(end bool) {
		m := &marks[0]
		if end {
			m = &marks[1]
		}
		var err error
		m.self, err = ReadUsage(os.Getpid())
		m.errs = append(m.errs, err)
		m.machine, err = readMachine()
		m.errs = append(m.errs, err)
		if router != nil {
			m.router, err = router.Usage()
			m.errs = append(m.errs, err)
		}
	}
	loop := Loop{URLs: urls, Bodies: bodies, Stream: stream, Concurrency: cfg.Concurrency, Rate: cfg.Rate, Warmup: cfg.Warmup, Window: cfg.Window, Mark: mark}
	res := loop.Run(ctx, &http.Client{Transport: tr})
	for _, m := range marks {
		for _, err := range m.errs {
			if err != nil {
				return r, err
			}
		}
	}
	r.summarize(res)
	secs := res.Window.Seconds()
	r.BenchCores = load.Num((marks[1].self.CPU - marks[0].self.CPU).Seconds() / secs)
	r.MachineBusy = load.Num(BusyFraction(marks[0].machine, marks[1].machine))
	nan := load.Num(math.NaN())
	r.RouterCPU, r.RouterCores, r.RouterRSSMB, r.RouterPeakMB = nan, nan, nan, nan
	if router != nil {
		cpu := (marks[1].router.CPU - marks[0].router.CPU).Seconds()
		r.RouterCPU, r.RouterCores = load.Num(cpu), load.Num(cpu/secs)
		r.RouterRSSMB = load.Num(float64(marks[1].router.RSS) / (1 << 20))
		r.RouterPeakMB = load.Num(float64(marks[1].router.PeakRSS) / (1 << 20))
		if router.Exited() {
			return r, fmt.Errorf("tandem-router exited during the run\n%s", router.LogTail(2000))
		}
	}
	return r, nil
}

func (c *OverheadConfig) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}
