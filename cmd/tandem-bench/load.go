package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// loadFlags are tandem-bench load's flags beyond the workload's.
type loadFlags struct {
	workload           load.Spec
	trace              string
	arrival, rate      string
	burst, concurrency int
	speedup            float64
	targets, metrics   string
	policies           string
	sweep              string
	jsonPath, csvPath  string
	plots              string
	resetCache         bool
	quiet              bool
	simEngines         int
	simScale           float64
	simListen          string
	simBlocks, simSeqs int
}

// newLoadFlags defines tandem-bench load's flags.
func newLoadFlags() (*flag.FlagSet, *loadFlags, *load.Config) {
	fs := flag.NewFlagSet("tandem-bench load", flag.ContinueOnError)
	f, cfg := &loadFlags{}, &load.Config{}
	w := &f.workload
	fs.StringVar(&w.Kind, "workload", load.Shared, "workload: "+strings.Join(load.Kinds, ", "))
	fs.IntVar(&w.Requests, "requests", 0, "requests to send (default: the workload's; trace: 0 is the whole trace)")
	fs.Uint64Var(&w.Seed, "seed", 1, "seed of the workload, the arrivals and the random policy")
	fs.IntVar(&w.Groups, "groups", 0, "shared: tenant groups; long: documents; chat: system prompts")
	fs.IntVar(&w.Users, "users", 0, "shared: users per group, each with its own question")
	fs.Float64Var(&w.Skew, "skew", 0, "shared: Zipf exponent of group popularity (0: every prompt equally often)")
	fs.IntVar(&w.SystemTokens, "system-tokens", 0, "tokens of a system prompt (long: of a document)")
	fs.IntVar(&w.QuestionTokens, "question-tokens", 0, "tokens of a question")
	fs.IntVar(&w.OutputTokens, "output-tokens", 0, "tokens generated per request")
	fs.IntVar(&w.Conversations, "conversations", 0, "chat: conversations open at once")
	fs.IntVar(&w.Turns, "turns", 0, "chat: turns per conversation")
	fs.IntVar(&w.InputTokens, "input-tokens", 0, "random: prompt tokens")
	fs.IntVar(&w.TraceBlockTokens, "trace-block-tokens", 0, "trace: tokens per hash id (Mooncake: 512)")
	fs.StringVar(&f.trace, "trace", "", "trace: JSONL file of {timestamp (ms), input_length, output_length, hash_ids}")

	fs.StringVar(&f.arrival, "arrival", load.Poisson, "arrivals: "+strings.Join(load.ArrivalKinds, ", "))
	fs.StringVar(&f.rate, "rate", "8", `requests/s, or steps "R1@D1,R2@D2,...,Rn" (poisson, constant, burst)`)
	fs.IntVar(&f.burst, "burst-size", 16, "burst: requests per burst")
	fs.IntVar(&f.concurrency, "concurrency", 16, "concurrency: requests in flight")
	fs.Float64Var(&f.speedup, "trace-speedup", 1, "trace arrivals: divide the trace's timestamps by this")
	fs.StringVar(&f.sweep, "sweep", "", `sweep poisson rates instead: "LO:HI:N" (N rates, geometric) or "R1,R2,..."`)
	fs.DurationVar(&cfg.TTFTBound, "ttft-bound", 2*time.Second, "sweep: the p90 TTFT bound that defines the knee")

	fs.StringVar(&f.targets, "targets", "", "comma-separated base URLs to send requests to (engines, or one router); default: the --sim engines")
	fs.StringVar(&f.metrics, "metrics", "", `engine base URLs to scrape for prefix-cache metrics (default: the --sim engines, else the targets; "none": skip)`)
	fs.StringVar(&f.policies, "policies", "random,round-robin", "with several targets, how the harness spreads requests, compared in one run (first: baseline): "+strings.Join(load.Policies, ", "))
	fs.IntVar(&cfg.Reps, "reps", 3, "repetitions of every policy, alternating policies")
	fs.StringVar(&cfg.API, "api", load.APIChat, "API: chat (/v1/chat/completions) or completions (/v1/completions)")
	fs.StringVar(&cfg.Model, "model", "", "model name in requests (default: the first target's /v1/models)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "timeout of one request")
	fs.BoolVar(&f.resetCache, "reset-cache", true, "POST /reset_prefix_cache to every engine before each run (ignored where missing)")
	fs.IntVar(&cfg.BlockSize, "block-size", 0, "oracle block size (default: the engines' cache_config_info, else 16)")
	fs.IntVar(&cfg.CapacityBlocks, "capacity-blocks", 0, "oracle KV capacity in blocks (default: the engines' summed num_gpu_blocks)")
	fs.StringVar(&f.jsonPath, "json", "", "write the report as JSON to this file")
	fs.StringVar(&f.csvPath, "csv", "", "write one CSV row per run to this file")
	fs.StringVar(&f.plots, "plots", "", "sweep: write SVG charts of p90 TTFT, throughput and hit rate vs offered rate into this folder (load-<workload>-*.svg)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")

	fs.IntVar(&f.simEngines, "sim", 0, "start this many tandem-sim engines in this process (fresh for every run)")
	fs.Float64Var(&f.simScale, "sim-time-scale", 0.1, "--sim engines' time scale (1: modelled H100 speed)")
	fs.StringVar(&f.simListen, "sim-listen", "127.0.0.1:0", "--sim engines' first address; consecutive ports (0: free ports)")
	fs.IntVar(&f.simBlocks, "sim-num-gpu-blocks", 0, "--sim engines' KV blocks of 16 tokens (default: the calibrated 27,000)")
	fs.IntVar(&f.simSeqs, "sim-max-num-seqs", 0, "--sim engines' running batch limit (default: 1,024)")
	return fs, f, cfg
}

func runLoad(ctx context.Context, args []string) error {
	fs, f, cfg := newLoadFlags()
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := f.complete(fs, cfg); err != nil {
		return err
	}
	env := load.NewEnv(cfg.Workload.Seed, f.fleetNotes())
	if !f.quiet {
		cfg.Logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	}
	report, err := load.Run(ctx, *cfg, env)
	if report != nil && len(report.Runs) > 0 {
		if perr := f.write(report); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}
