package autoscalebench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Calibration of the model (doc.go says where each figure comes from).
const (
	// Per-engine req/s: tandem's knees on 8 engines at time scale 0.25
	// (router.md), ÷ 8 engines ÷ 4 (the time scale back to the modelled
	// H100's seconds).
	sharedRate = 1028.0 / 8 / 4
	chatRate   = 919.0 / 8 / 4
	// Idle TTFT at the uncached prompt (sim.md, 128 and 256 tokens).
	sharedPrefill = 0.0123
	chatPrefill   = 0.0162
	// 64 output tokens at the mean ITL of 16 in flight (sim.md, 8.528 ms).
	decodeSeconds = 64 * 0.008528
)

// DefaultConfig is the recorded run's configuration.
func DefaultConfig() Config {
	day := 4 * 3600.0
	return Config{
		Seed: 1,
		Curve: Curve{Day: day, Trough: 60, Peak: 400, Bursts: []float64{0.35 * day, 0.7 * day},
			BurstFactor: 3, BurstRamp: 30, BurstHold: 300},
		SharedFraction: 0.5,
		Model: Model{
			Shared:         Class{Name: "shared-prefix", Rate: sharedRate, Prefill: sharedPrefill, Decode: decodeSeconds, Uncached: 100},
			Chat:           Class{Name: "chat", Rate: chatRate, Prefill: chatPrefill, Decode: decodeSeconds, Uncached: 164},
			EnginesPerUnit: 2, Bound: 1, MaxWait: 60,
		},
		GPUs: 64, UnitGPUs: 2, ColdStart: 90,
		GangSizes: []int{8, 4}, GangMeanSec: 1800,
		IntervalSec: 15, WindowSec: 60,
		TTFTTarget: 500 * time.Millisecond, Utilisation: 0.7, DownWindowSec: 300,
		HPAQueuePerUnit: 2, TandemColdStart: -1,
		SampleSec: 60,
	}
}

// Main is `tandem-bench autoscale`: the model, or with --cluster the
// local-cluster run.
func Main(ctx context.Context, args []string) error {
	if wantsCluster(args) {
		return runLocal(ctx, args, os.Stdout, os.Stderr)
	}
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tandem-bench autoscale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := DefaultConfig()
	var day, ramp, hold, bound time.Duration
	var bursts, gangs, plots string
	var gpusPerEngine int
	var events bool
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the arrivals and the batch gangs")
	fs.DurationVar(&day, "day", time.Duration(c.Curve.Day)*time.Second, "length of the compressed day (one diurnal cycle)")
	fs.Float64Var(&c.Curve.Trough, "trough", c.Curve.Trough, "request rate at night, req/s")
	fs.Float64Var(&c.Curve.Peak, "peak", c.Curve.Peak, "request rate at mid-day before bursts, req/s")
	fs.StringVar(&bursts, "bursts", "0.35,0.7", "burst starts as fractions of the day, comma-separated (empty: none)")
	fs.Float64Var(&c.Curve.BurstFactor, "burst-factor", c.Curve.BurstFactor, "a burst multiplies the rate by this")
	fs.DurationVar(&ramp, "burst-ramp", time.Duration(c.Curve.BurstRamp)*time.Second, "time a burst takes to reach its factor (and to fall back)")
	fs.DurationVar(&hold, "burst-hold", time.Duration(c.Curve.BurstHold)*time.Second, "time a burst holds its factor")
	fs.Float64Var(&c.SharedFraction, "shared-fraction", c.SharedFraction, "share of shared-prefix requests (the rest is chat)")
	fs.IntVar(&c.GPUs, "gpus", c.GPUs, "GPUs in the cluster")
	fs.IntVar(&c.UnitGPUs, "unit-gpus", c.UnitGPUs, "GPUs per serving unit")
	fs.IntVar(&gpusPerEngine, "gpus-per-engine", 1, "GPUs per engine (a unit has unit-gpus/gpus-per-engine engines; the calibration is one H100 per engine)")
	fs.IntVar(&c.ColdStart, "cold-start", c.ColdStart, "seconds from a unit's GPUs to serving (image pull + weight load)")
	fs.StringVar(&gangs, "gang-sizes", "8,4", "batch gang sizes in GPUs, drawn uniformly, comma-separated")
	fs.Float64Var(&c.GangMeanSec, "gang-mean", c.GangMeanSec, "mean seconds of work of a batch gang (exponential, at least 60)")
	fs.DurationVar(&bound, "ttft-bound", time.Duration(c.Model.Bound*float64(time.Second)), "TTFT bound of the SLO")
	fs.DurationVar(&c.TTFTTarget, "ttft-target", c.TTFTTarget, "tandem: autoscaling.targets.ttftP90Milliseconds (0: unset)")
	fs.Float64Var(&c.Utilisation, "utilisation", c.Utilisation, "tandem: in-flight target per unit = this share of a unit's capacity × time in system")
	fs.Float64Var(&c.InFlightPerUnit, "in-flight-per-unit", 0, "tandem: autoscaling.targets.inFlightRequestsPerUnit (0: derived from --utilisation; negative: unset)")
	fs.IntVar(&c.TandemColdStart, "tandem-cold-start", c.TandemColdStart, "tandem: coldStartSeconds in its policy (-1: --cold-start; 0 turns off Decide's growth prediction)")
	fs.IntVar(&c.DownWindowSec, "down-window", c.DownWindowSec, "tandem: scaleDownWindowSeconds")
	fs.Float64Var(&c.HPAQueuePerUnit, "hpa-queue-per-unit", c.HPAQueuePerUnit, "hpa: target waiting requests per unit")
	fs.BoolVar(&c.HPAInFlight, "hpa-in-flight", false, "also run the HPA on requests in flight per unit, with tandem's in-flight target (a fourth row)")
	fs.IntVar(&c.IntervalSec, "interval", c.IntervalSec, "seconds between decisions of both autoscalers")
	fs.IntVar(&c.WindowSec, "window", c.WindowSec, "tandem: signal window in seconds (p90 TTFT, requests)")
	fs.IntVar(&c.SampleSec, "sample", c.SampleSec, "seconds between plotted points")
	fs.BoolVar(&events, "events", false, "print every scale event of the autoscalers, with its reason, before the table")
	fs.StringVar(&plots, "plots", "", "write autoscale-gpus.svg and autoscale-batch-share.svg into this folder")
	fs.Bool("cluster", false, "run on the local cluster instead of the model (its own flags: tandem-bench autoscale --cluster -h)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Curve.Day, c.Curve.BurstRamp, c.Curve.BurstHold = day.Seconds(), ramp.Seconds(), hold.Seconds()
	c.Model.Bound = bound.Seconds()
	if gpusPerEngine < 1 || c.UnitGPUs%gpusPerEngine != 0 {
		return fmt.Errorf("--gpus-per-engine %d must divide --unit-gpus %d", gpusPerEngine, c.UnitGPUs)
	}
	c.Model.EnginesPerUnit = c.UnitGPUs / gpusPerEngine
	fr, err := parseFloats(bursts)
	if err != nil {
		return fmt.Errorf("--bursts: %w", err)
	}
	c.Curve.Bursts = nil
	for _, f := range fr {
		if f < 0 || f >= 1 {
			return fmt.Errorf("--bursts: %v is not a fraction of the day in [0, 1)", f)
		}
		c.Curve.Bursts = append(c.Curve.Bursts, math.Round(f*c.Curve.Day)) // on a step
	}
	if c.GangSizes, err = parseInts(gangs); err != nil {
		return fmt.Errorf("--gang-sizes: %w", err)
	}
	if events {
		c.OnScale = func(scaler string, at, from, to int, why string) {
			fmt.Fprintf(stdout, "event %-10s t=%6d s  %2d -> %2d units  %s\n", scaler, at, from, to, why)
		}
	}
	d, rs, err := Run(c)
	if err != nil {
		return err
	}
	h := Header{
		Command:  strings.Join(append([]string{"tandem-bench autoscale"}, args...), " "),
		Platform: fmt.Sprintf("%s/%s %s", runtime.GOOS, runtime.GOARCH, runtime.Version()),
	}
	if err := Print(stdout, h, c, d, rs); err != nil {
		return err
	}
	if plots != "" {
		paths, err := SaveCharts(plots, c, rs)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintf(stdout, "wrote %s\n", filepath.ToSlash(p))
		}
	}
	return nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}
