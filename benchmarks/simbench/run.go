package simbench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// Parts of the benchmark.
const (
	PartTTFT       = "ttft"
	PartThroughput = "throughput"
	PartHost       = "host"
	// PartOutputs: where answers end, and the size of tokens of the load
	// harness's text (not run by default: it postdates the recorded run).
	PartOutputs = "outputs"
)

// Parts lists them in the order they run.
var Parts = []string{PartTTFT, PartThroughput, PartHost, PartOutputs}

// DefaultParts are the parts run unless --parts says otherwise.
var DefaultParts = []string{PartTTFT, PartThroughput, PartHost}

// HostConfig is the host-capacity sweep.
type HostConfig struct {
	// Engines are the fleet sizes to run, rising.
	Engines []int `json:"engines"`
	// TimeScale is the engines' time scale: small, so that a few engines
	// load the host as many real-time ones would.
	TimeScale float64 `json:"time_scale"`
	// Concurrency is each engine's closed loop.
	Concurrency  int `json:"concurrency"`
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// Window is how long a run lasts if the host keeps up.
	Window time.Duration `json:"window_ns"`
	// Threshold is the deviation from the model that counts as the host's
	// limit.
	Threshold float64 `json:"threshold"`
}

// Config is the whole benchmark.
type Config struct {
	// Engine is the modelled engine (default: the calibrated one).
	Engine engine.Params `json:"engine"`
	// Parts to run.
	Parts []string `json:"parts"`
	// TimeScale of the TTFT and throughput engines; their figures are
	// divided by it, back into the modelled GPU's time.
	TimeScale float64 `json:"time_scale"`
	Seed      uint64  `json:"seed"`
	// PromptTokens are the TTFT curve's prompt lengths; Reps the requests
	// per length (and the repetitions of the CI latency case).
	PromptTokens []int `json:"prompt_tokens"`
	Reps         int   `json:"reps"`
	// Concurrency are the throughput curve's closed loops, each with
	// RequestsPerSlot × concurrency requests (at least 8) of InputTokens
	// prompt tokens and OutputTokens generated.
	Concurrency     []int         `json:"concurrency"`
	InputTokens     int           `json:"input_tokens"`
	OutputTokens    int           `json:"output_tokens"`
	RequestsPerSlot int           `json:"requests_per_slot"`
	Host            HostConfig    `json:"host"`
	Outputs         OutputsConfig `json:"outputs"`
	// Timeout bounds one request.
	Timeout time.Duration `json:"timeout_ns"`
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any) `json:"-"`
}

// DefaultConfig is what `make bench-sim` runs: a few minutes on two cores.
func DefaultConfig() Config {
	return Config{
		Engine:          engine.DefaultParams(),
		Parts:           DefaultParts,
		TimeScale:       1,
		Seed:            1,
		PromptTokens:    []int{128, 256, 512, 1000, 2048, 4096, 8192, 12288, 16384, 32768},
		Reps:            5,
		Concurrency:     []int{1, 2, 4, 8, 16, 32, 64, 128, 256},
		InputTokens:     512,
		OutputTokens:    128,
		RequestsPerSlot: 3,
		Host: HostConfig{
			Engines:   []int{1, 2, 4, 8, 16, 24, 32, 48, 64, 96},
			TimeScale: 0.1, Concurrency: 8, InputTokens: 256, OutputTokens: 64,
			Window: 2 * time.Second, Threshold: 0.10,
		},
		Outputs: OutputsConfig{Requests: 2000, MaxTokens: 256, Texts: 20, TextTokens: 1000},
		Timeout: 5 * time.Minute,
	}
}

// Validate reports the first impossible setting.
func (c Config) Validate() error {
	if err := c.Engine.Validate(); err != nil {
		return err
	}
	for _, p := range c.Parts {
		if !slices.Contains(Parts, p) {
			return fmt.Errorf("part %q: want one of %v", p, Parts)
		}
	}
	positive := func(name string, vs ...int) error {
		for _, v := range vs {
			if v < 1 {
				return fmt.Errorf("%s must be at least 1, got %d", name, v)
			}
		}
		return nil
	}
	h := c.Host
	for _, err := range []error{
		positive("prompt tokens", c.PromptTokens...), positive("reps", c.Reps),
		positive("concurrency", c.Concurrency...), positive("input tokens", c.InputTokens, h.InputTokens),
		positive("output tokens", c.OutputTokens, h.OutputTokens), positive("requests per slot", c.RequestsPerSlot),
		positive("host engines", h.Engines...), positive("host concurrency", h.Concurrency),
		positive("outputs requests", c.Outputs.Requests, c.Outputs.Texts, c.Outputs.TextTokens), positive("outputs max tokens", c.Outputs.MaxTokens),
	} {
		if err != nil {
			return err
		}
	}
	switch {
	case !(c.TimeScale > 0) || !(h.TimeScale > 0):
		return errors.New("time scales must be positive: measurements are divided by them")
	case !(h.Threshold > 0):
		return errors.New("the host threshold must be positive")
	case h.Window <= 0 || c.Timeout <= 0:
		return errors.New("the host window and the timeout must be positive")
	case !slices.IsSorted(h.Engines):
		return errors.New("host engines must rise: the sweep stops at the first counts past the limit")
	}
	return nil
}

func (c Config) runs(part string) bool { return slices.Contains(c.Parts, part) }

// Run runs the configured parts in order; what finished before an error
// comes back with it.
func Run(ctx context.Context, cfg Config, rep *Report) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rep.Config = cfg
	s := newSession(cfg)
	defer s.close()
	if cfg.runs(PartTTFT) {
		curve, err := s.ttftCurve(ctx)
		rep.TTFT = curve
		if err != nil {
			return fmt.Errorf("TTFT curve: %w", err)
		}
		ciSim, ciModel, err := s.ciLatency(ctx)
		if err != nil {
			return fmt.Errorf("CI latency case: %w", err)
		}
		rep.References = references(curve, ciSim, ciModel)
	}
	if cfg.runs(PartThroughput) {
		curve, err := s.throughputCurve(ctx)
		rep.Throughput = curve
		if err != nil {
			return fmt.Errorf("throughput curve: %w", err)
		}
	}
	if cfg.runs(PartHost) {
		host, err := s.hostSweep(ctx)
		if len(host.Points) > 0 {
			rep.Host = &host
		}
		if err != nil {
			return fmt.Errorf("host sweep: %w", err)
		}
	}
	if cfg.runs(PartOutputs) {
		out, err := s.outputs(ctx)
		rep.Outputs = &out
		if err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
	}
	return ctx.Err()
}
