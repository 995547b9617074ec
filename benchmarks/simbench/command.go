package simbench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/plot"
)

// Main is `tandem-bench sim`.
func Main(ctx context.Context, args []string) error {
	return run(ctx, args, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tandem-bench sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := DefaultConfig()
	var parts, prompts, conc, engines, jsonPath, plots string
	var quiet bool
	fs.StringVar(&parts, "parts", strings.Join(DefaultParts, ","), "parts to run: "+strings.Join(Parts, ", "))
	fs.Float64Var(&cfg.TimeScale, "time-scale", cfg.TimeScale, "ttft, throughput: the engine's time scale; figures are divided by it back into modelled time")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of prompts and generated text")
	fs.StringVar(&prompts, "prompt-tokens", joinInts(cfg.PromptTokens), "ttft: prompt lengths, comma-separated")
	fs.IntVar(&cfg.Reps, "reps", cfg.Reps, "ttft: requests per prompt length, and repetitions of the vLLM CI latency case")
	fs.StringVar(&conc, "concurrency", joinInts(cfg.Concurrency), "throughput: closed-loop concurrencies, comma-separated")
	fs.IntVar(&cfg.InputTokens, "input-tokens", cfg.InputTokens, "throughput: prompt tokens (unique prompts)")
	fs.IntVar(&cfg.OutputTokens, "output-tokens", cfg.OutputTokens, "throughput: tokens generated per request")
	fs.IntVar(&cfg.RequestsPerSlot, "requests-per-slot", cfg.RequestsPerSlot, "throughput: requests per unit of concurrency (at least 8 in all)")
	h := &cfg.Host
	fs.StringVar(&engines, "host-engines", joinInts(h.Engines), "host: engine counts to run, rising, comma-separated")
	fs.Float64Var(&h.TimeScale, "host-time-scale", h.TimeScale, "host: the engines' time scale")
	fs.IntVar(&h.Concurrency, "host-concurrency", h.Concurrency, "host: requests in flight per engine")
	fs.IntVar(&h.InputTokens, "host-input-tokens", h.InputTokens, "host: prompt tokens")
	fs.IntVar(&h.OutputTokens, "host-output-tokens", h.OutputTokens, "host: tokens generated per request")
	fs.DurationVar(&h.Window, "host-window", h.Window, "host: how long each run lasts if the host keeps up")
	fs.Float64Var(&h.Threshold, "host-threshold", h.Threshold, "host: deviation from the model that marks the limit")
	fs.IntVar(&cfg.Outputs.Requests, "outputs-requests", cfg.Outputs.Requests, "outputs: requests whose lengths are measured")
	fs.IntVar(&cfg.Outputs.MaxTokens, "outputs-max-tokens", cfg.Outputs.MaxTokens, "outputs: their max_tokens")
	fs.IntVar(&cfg.Outputs.Texts, "outputs-texts", cfg.Outputs.Texts, "outputs: texts per style tokenized")
	fs.IntVar(&cfg.Outputs.TextTokens, "outputs-text-tokens", cfg.Outputs.TextTokens, "outputs: tokens asked of each text")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "timeout of one request")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&plots, "plots", "", "write the charts as SVG into this folder (sim-*.svg; make bench-sim: benchmarks/results/plots)")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg.Parts = load.SplitList(parts)
	var err error
	for _, l := range []struct {
		flag string
		dst  *[]int
		text string
	}{{"prompt-tokens", &cfg.PromptTokens, prompts}, {"concurrency", &cfg.Concurrency, conc}, {"host-engines", &h.Engines, engines}} {
		if *l.dst, err = parseInts(l.text); err != nil {
			return fmt.Errorf("--%s: %w", l.flag, err)
		}
	}
	if !quiet {
		cfg.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	rep := &Report{Env: load.NewEnv(cfg.Seed, "")}
	err = Run(ctx, cfg, rep)
	if rep.TTFT == nil && rep.Throughput == nil && rep.Host == nil && rep.Outputs == nil {
		return err
	}
	for _, write := range []func() error{
		func() error { return rep.Print(stdout) },
		func() error { return load.WriteJSONFile(jsonPath, rep) },
		func() error { return writePlots(stdout, plots, rep) },
	} {
		if werr := write(); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func writePlots(w io.Writer, dir string, rep *Report) error {
	if dir == "" {
		return nil
	}
	paths, err := plot.SaveAll(dir, rep.Charts())
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	fmt.Fprintf(w, "\nplots: %s\n", strings.Join(paths, " "))
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range load.SplitList(s) {
		v, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", p)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no number", s)
	}
	return out, nil
}

func joinInts(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}
