package autoscalebench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/test/localcluster"
)

// wantsCluster says whether the arguments ask for the local-cluster run.
func wantsCluster(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--cluster" || a == "-cluster" || a == "--cluster=true" || a == "-cluster=true" {
			return true
		}
	}
	return false
}

// runLocal is `tandem-bench autoscale --cluster`.
func runLocal(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, plots, keep, err := parseLocalFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if cfg.RepoRoot == "" {
		if cfg.RepoRoot, err = localcluster.FindRepoRoot(); err != nil {
			return err
		}
	}
	if cfg.StateDir == "" {
		if cfg.StateDir, err = os.MkdirTemp("", "tandem-bench-autoscale-"); err != nil {
			return err
		}
	}
	cfg.Logf = func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	h := LocalHeader{
		Command: strings.Join(append([]string{"tandem-bench autoscale"}, args...), " "),
		Commit:  commitOf(cfg.RepoRoot),
		Machine: machine(),
		Date:    time.Now().UTC().Format(time.RFC3339),
	}
	rs, err := RunLocal(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (cluster state and logs in %s)", err, cfg.StateDir)
	}
	if err := PrintLocal(stdout, h, cfg, rs); err != nil {
		return err
	}
	if plots != "" {
		paths, err := SaveLocalCharts(plots, cfg, rs)
		if err != nil {
			return err
		}
		for _, p := range paths {
			fmt.Fprintf(stdout, "wrote %s\n", filepath.ToSlash(p))
		}
	}
	if !keep {
		_ = os.RemoveAll(cfg.StateDir)
	}
	return nil
}

// parseLocalFlags reads the --cluster run's flags into a config.
func parseLocalFlags(args []string, stderr io.Writer) (LocalConfig, string, bool, error) {
	fs := flag.NewFlagSet("tandem-bench autoscale --cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := DefaultLocalConfig()
	var day, ramp, hold time.Duration
	var bursts, gangs, plots, scalers string
	var keep bool
	fs.Bool("cluster", true, "run on the local cluster (this flag set)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the arrivals, the conversations and the batch gangs")
	fs.DurationVar(&day, "day", time.Duration(c.Curve.Day)*time.Second, "wall time of the compressed day, per scaler")
	fs.Float64Var(&c.Curve.Trough, "trough", c.Curve.Trough, "request rate at night, req/s")
	fs.Float64Var(&c.Curve.Peak, "peak", c.Curve.Peak, "request rate at mid-day before bursts, req/s")
	fs.StringVar(&bursts, "bursts", "0.35,0.7", "burst starts as fractions of the day, comma-separated (empty: none)")
	fs.Float64Var(&c.Curve.BurstFactor, "burst-factor", c.Curve.BurstFactor, "a burst multiplies the rate by this")
	fs.DurationVar(&ramp, "burst-ramp", time.Duration(c.Curve.BurstRamp)*time.Second, "time a burst takes to reach its factor (and to fall back)")
	fs.DurationVar(&hold, "burst-hold", time.Duration(c.Curve.BurstHold)*time.Second, "time a burst holds its factor")
	fs.IntVar(&c.Fleet.Racks, "racks", c.Fleet.Racks, "racks of kwok nodes")
	fs.IntVar(&c.Fleet.NodesPerRack, "nodes-per-rack", c.Fleet.NodesPerRack, "kwok nodes per rack")
	fs.IntVar(&c.Fleet.GPUsPerNode, "gpus-per-node", c.Fleet.GPUsPerNode, "GPUs per node")
	fs.IntVar(&c.UnitGPUs, "unit-gpus", c.UnitGPUs, "GPUs of a unit's engine pod")
	fs.Float64Var(&c.TimeScale, "time-scale", c.TimeScale, "simulated engines' time scale (latencies ×this; higher keeps CPU low)")
	fs.DurationVar(&c.ColdStart, "cold-start", c.ColdStart, "from a serving pod Running with its engine listening to Ready")
	fs.Float64Var(&c.UnitRate, "unit-rate", c.UnitRate, "req/s one unit serves within the bounds: sizes static, the need line and burst→capacity")
	fs.DurationVar(&c.TTFTBound, "ttft-bound", c.TTFTBound, "TTFT bound of the SLO")
	fs.DurationVar(&c.ITLBound, "itl-bound", c.ITLBound, "bound on a request's mean inter-token latency (0: not part of the SLO)")
	fs.Float64Var(&c.HPAQueuePerUnit, "hpa-queue-per-unit", c.HPAQueuePerUnit, "hpa: target requests waiting at the router per ready unit")
	fs.Func("in-flight-per-unit", fmt.Sprintf("tandem's inFlightRequestsPerUnit target (default %d)", c.InFlightPerUnit), func(s string) error {
		var n int32
		if _, err := fmt.Sscan(s, &n); err != nil || n < 1 {
			return fmt.Errorf("want a positive integer")
		}
		c.InFlightPerUnit = n
		return nil
	})
	fs.DurationVar(&c.TTFTTarget, "ttft-target", c.TTFTTarget, "tandem's ttftP90Milliseconds target (0: unset)")
	fs.DurationVar(&c.DownWindow, "down-window", c.DownWindow, "tandem's scaleDownWindowSeconds and the HPA's down stabilisation")
	fs.DurationVar(&c.Interval, "interval", c.Interval, "tandem-controller --autoscale-interval and the HPA's period")
	fs.DurationVar(&c.Window, "window", c.Window, "tandem-controller --autoscale-window")
	fs.StringVar(&gangs, "gang-sizes", "8,4", "batch gang sizes in GPUs (2-GPU pods), drawn uniformly, comma-separated")
	fs.DurationVar(&c.GangMean, "gang-mean", c.GangMean, "mean run time of a batch gang once whole (exponential, at least 10s)")
	fs.IntVar(&c.GangsQueued, "gangs-queued", c.GangsQueued, "batch gangs kept waiting at all times")
	fs.IntVar(&c.MaxTokens, "max-tokens", c.MaxTokens, "max_tokens of every request")
	fs.StringVar(&c.StateDir, "state-dir", "", "folder for the clusters' state and logs (default: a new temporary folder)")
	fs.BoolVar(&keep, "keep", false, "keep the clusters' logs after a successful run")
	fs.StringVar(&c.PodCIDR, "pod-cidr", c.PodCIDR, "pod addresses (inside 127.0.0.0/8), apart from other local clusters")
	fs.StringVar(&scalers, "scalers", strings.Join(c.Scalers, ","), "rows to run, in order, comma-separated (the GPU-hour goal is judged against static-peak's row)")
	fs.StringVar(&plots, "plots", "", "write autoscale-cluster-gpus.svg and autoscale-cluster-batch-share.svg into this folder")
	if err := fs.Parse(args); err != nil {
		return c, "", false, err
	}
	if fs.NArg() > 0 {
		return c, "", false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.Curve.Day, c.Curve.BurstRamp, c.Curve.BurstHold = day.Seconds(), ramp.Seconds(), hold.Seconds()
	fr, err := parseFloats(bursts)
	if err != nil {
		return c, "", false, fmt.Errorf("--bursts: %w", err)
	}
	c.Curve.Bursts = nil
	for _, f := range fr {
		if f < 0 || f >= 1 {
			return c, "", false, fmt.Errorf("--bursts: %v is not a fraction of the day in [0, 1)", f)
		}
		c.Curve.Bursts = append(c.Curve.Bursts, float64(int(f*c.Curve.Day)))
	}
	if c.Scalers, err = parseScalers(scalers); err != nil {
		return c, "", false, err
	}
	if c.GangSizes, err = parseInts(gangs); err != nil {
		return c, "", false, fmt.Errorf("--gang-sizes: %w", err)
	}
	return c, plots, keep, c.validate()
}

// parseScalers reads --scalers: known names, each once.
func parseScalers(list string) ([]string, error) {
	var out []string
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name != Static && name != HPAKey && name != TandemKey:
			return nil, fmt.Errorf("--scalers: unknown %q (want %s, %s or %s)", name, Static, HPAKey, TandemKey)
		case slices.Contains(out, name):
			return nil, fmt.Errorf("--scalers: %s twice", name)
		}
		out = append(out, name)
	}
	return out, nil
}

// validate reports the first setting the run cannot use.
func (c LocalConfig) validate() error {
	switch {
	case c.Curve.Day < 10:
		return fmt.Errorf("--day %gs: at least 10s", c.Curve.Day)
	case !(c.Curve.Peak > 0) || c.Curve.Trough < 0:
		return fmt.Errorf("--peak must be positive and --trough not negative")
	case !(c.UnitRate > 0):
		return fmt.Errorf("--unit-rate must be positive")
	case !(c.HPAQueuePerUnit > 0):
		return fmt.Errorf("--hpa-queue-per-unit must be positive")
	case c.UnitGPUs < 1 || c.UnitGPUs > c.Fleet.GPUsPerNode:
		return fmt.Errorf("--unit-gpus %d must be between 1 and --gpus-per-node %d", c.UnitGPUs, c.Fleet.GPUsPerNode)
	case c.Interval < time.Second || c.Window < c.Interval:
		return fmt.Errorf("--interval must be at least 1s and --window at least the interval")
	case len(c.GangSizes) == 0:
		return fmt.Errorf("--gang-sizes: at least one size")
	case c.GangsQueued < 0:
		return fmt.Errorf("--gangs-queued must not be negative")
	}
	for _, g := range c.GangSizes {
		if g < gangPodGPUs || g%gangPodGPUs != 0 || g > c.GPUs() {
			return fmt.Errorf("--gang-sizes: %d GPUs is not a positive multiple of the %d-GPU pod that fits %d GPUs", g, gangPodGPUs, c.GPUs())
		}
	}
	if err := c.Fleet.Validate(); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// commitOf is the checkout's HEAD, marked when the tree has changes.
func commitOf(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		commit += " (tree has uncommitted changes)"
	}
	return commit
}

// machine is the CPU model, cores, memory and Go of this host.
func machine() string {
	cpu, mem := "unknown CPU", ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s %s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
