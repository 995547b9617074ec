package routerbench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// PoliciesConfig is the routing-quality benchmark: each workload run
// through a tandem-router process once per policy, policies alternating
// within every repetition, on fresh simulated engines and a fresh router
// each time.
type PoliciesConfig struct {
	RouterBin  string
	RouterBase []byte
	// RouterVariants are the policy variants' files (ParsePolicies).
	RouterVariants map[string][]byte
	// Policies are router presets; the first is the baseline of ratios.
	Policies  []string
	Workloads []load.Spec
	Arrival   load.Arrival
	// SweepRates, if set, replaces the arrival's rate: Poisson arrivals
	// at each rate, and the knee where p90 TTFT crosses TTFTBound.
	SweepRates []float64
	TTFTBound  time.Duration
	// SweepFor, if set, sizes each sweep rate's runs to this long of
	// arrivals (rate × SweepFor requests, Workload.Requests ignored), so
	// that every rate reaches the same steady state; SweepMaxRequests, if
	// set, caps that count (a point ends at whichever comes first).
	SweepFor         time.Duration
	SweepMaxRequests int
	// Warmup, if set, precedes every sweep run's measured requests with
	// this long of arrivals at the same rate (capped like a point by
	// SweepMaxRequests) of the same workload under another seed: the same
	// shape, other content, so that queues, caches and learned rates are
	// at their steady state without handing the measured requests hits
	// they would not have. The warm-up is not waited out: its last
	// requests are still in flight when measurement begins, the queue the
	// measured requests meet.
	Warmup time.Duration
	// SweepExtend, with a sweep, adds up to this many rates beyond it
	// until every policy's p90 TTFT has crossed TTFTBound in every
	// repetition (above the highest rate) and none crossed it already at
	// the lowest (below it), each rate the last one times the sweep's
	// step, run by the policies that have not crossed; the report says
	// which never did (SweepExtension).
	SweepExtend int
	Reps        int
	// Replicas, if set, runs every policy at each of these replica counts
	// (labels POLICY/rN, replicas.go): N routers exchanging what they
	// routed, behind a round-robin front.
	Replicas []Replicas
	// Engines in-process tandem-sim engines configured as Sim (Listen is
	// ignored: free ports). With Sim.KVEventsEndpoint set (tcp://host:0:
	// free ports) every engine publishes KV events, for every policy alike,
	// and the router's endpoints file names each engine's port; a router
	// with exact mode on then gets KVEventsWait to subscribe to them all
	// before the run.
	Engines int
	Sim     sim.Config
	// Layouts, by policy label, place the engines of that label's runs in
	// prefill/decode roles (len(layout) engines, Engines ignored); labels
	// without one run Engines engines that serve whole requests.
	Layouts map[string][]Placement
	// Timeout bounds one request.
	Timeout time.Duration
	// KVEventsWait bounds the wait for an exact-mode router's subscriptions
	// (default 10 s).
	KVEventsWait time.Duration
	// Dir holds the routers' files and logs.
	Dir  string
	Logf func(format string, args ...any)
}

// Validate reports the first impossible setting.
func (c *PoliciesConfig) Validate() error {
	if c.Engines < 1 || c.Reps < 1 || len(c.Workloads) == 0 {
		return fmt.Errorf("need at least one engine, repetition and workload")
	}
	for _, w := range c.Workloads {
		if err := w.Validate(); err != nil {
			return err
		}
	}
	if len(c.SweepRates) == 0 {
		if err := c.Arrival.Validate(); err != nil {
			return err
		}
	}
	if err := c.Sim.Validate(); err != nil {
		return err
	}
	if c.SweepFor < 0 || (c.SweepFor > 0 && len(c.SweepRates) == 0) {
		return fmt.Errorf("a run length per rate needs a sweep")
	}
	if c.Warmup < 0 || (c.Warmup > 0 && len(c.SweepRates) == 0) || c.SweepExtend < 0 || c.SweepMaxRequests < 0 {
		return fmt.Errorf("a warm-up needs a sweep; warm-up, sweep extension and request cap must not be negative")
	}
	return checkPolicies(c.Policies, c.RouterVariants)
}

// RouterRun is what the router process itself reported over one run.
type RouterRun struct {
	Policy string   `json:"policy"`
	Rep    int      `json:"rep"`
	Rate   load.Num `json:"offered_rate"`
	// CPU is the router's CPU seconds from ready to the end of the run;
	// PeakRSSMB its peak resident memory.
	CPU       load.Num `json:"cpu_s"`
	PeakRSSMB load.Num `json:"peak_rss_mib"`
	// Metrics are the router's counters over the run.
	Metrics RouterMetrics `json:"metrics"`
	// Engines are the engines' own counters, in fleet order.
	Engines []EngineStats `json:"engines,omitempty"`
}

// PoliciesResult is one workload's runs.
type PoliciesResult struct {
	// Report holds the client's figures per run, the medians, the ratios
	// to the first policy and the knees, as tandem-bench load prints them.
	Report *load.Report `json:"report"`
	// Routers are the router's own figures, one per run of Report.Runs.
	Routers []RouterRun `json:"routers"`
}

// RunPolicies runs the benchmark for every workload; what ran before an
// error comes back with it.
func RunPolicies(ctx context.Context, cfg PoliciesConfig, env load.Env) ([]PoliciesResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var out []PoliciesResult
	for _, w := range cfg.Workloads {
		res, err := runWorkload(ctx, cfg, w, env)
		if res.Report != nil {
			out = append(out, res)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// runWorkload alternates the policies within each repetition and rate
// (A, B, A, B, …), one load.Run of a single policy, repetition and rate at
// a time, so that a shared machine's drift hits every policy alike.
func runWorkload(ctx context.Context, cfg PoliciesConfig, w load.Spec, env load.Env) (PoliciesResult, error) {
	model := cfg.Sim.Engine.Model
	labels := replicaLabels(cfg.Policies, cfg.Replicas)
	rep := &load.Report{Env: env, Workload: w, Arrival: cfg.Arrival, API: load.APIChat, Model: model, Policies: labels}
	rates := []float64{0} // 0: the configured arrival
	if len(cfg.SweepRates) > 0 {
		rates = cfg.SweepRates
		rep.SweepRates, rep.TTFTBound = cfg.SweepRates, float64(cfg.TTFTBound)/float64(time.Millisecond)
	}
	res := PoliciesResult{Report: rep}
	for k := 1; k <= cfg.Reps; k++ {
		for _, rate := range rates {
			for _, policy := range labels {
				if err := runOne(ctx, cfg, cfg.point(w, rate), env, policy, k, rate, &res); err != nil {
					return res, fmt.Errorf("workload %s, policy %s, rep %d: %w", w.Kind, policy, k, err)
				}
			}
		}
	}
	for n := 0; len(cfg.SweepRates) > 0 && n < cfg.SweepExtend; n++ {
		rate, policies := SweepExtension(rep.Runs, labels, cfg.Reps, rep.TTFTBound, rep.SweepRates)
		if len(policies) == 0 {
			break
		}
		rep.SweepRates = append(rep.SweepRates, rate)
		cfg.logf("%s: extending the sweep to %s req/s for %s (p90 TTFT has not crossed %s ms on that side)",
			w.Kind, load.FormatNum(rate), strings.Join(policies, ", "), load.FormatNum(rep.TTFTBound))
		for k := 1; k <= cfg.Reps; k++ {
			for _, policy := range policies {
				if err := runOne(ctx, cfg, cfg.point(w, rate), env, policy, k, rate, &res); err != nil {
					return res, fmt.Errorf("workload %s, policy %s, rep %d: %w", w.Kind, policy, k, err)
				}
			}
		}
	}
	if len(cfg.SweepRates) > 0 {
		rep.Knees = Knees(rep.Runs, labels, cfg.Reps, rep.TTFTBound)
	} else if len(labels) > 1 {
		rep.Ratios = load.Ratios(rep.Runs, labels[0])
	}
	return res, nil
}

// point is the workload of one sweep rate: SweepFor of arrivals, at most
// SweepMaxRequests requests (Workload.Requests without SweepFor).
func (c *PoliciesConfig) point(w load.Spec, rate float64) load.Spec {
	if c.SweepFor > 0 && rate > 0 {
		w.Requests = c.capped(int(math.Ceil(rate * c.SweepFor.Seconds())))
	}
	return w
}

func (c *PoliciesConfig) capped(n int) int {
	if c.SweepMaxRequests > 0 {
		return min(n, c.SweepMaxRequests)
	}
	return n
}

// SweepExtension is the next rate of a sweep and the policies to run at
// it: above the highest rate tried (rates, in any order) for the policies
// whose p90 TTFT has not crossed boundMs in some repetition, or, once all
// have, below the lowest for those that crossed it already there (Knees;
// load.FindKnee's censoring). The step is the ratio of the sweep's two
// highest (or lowest) rates, at least 1.25; no policies when every knee is
// bracketed.
func SweepExtension(runs []load.RunSummary, labels []string, reps int, boundMs float64, rates []float64) (float64, []string) {
	if len(rates) == 0 {
		return 0, nil
	}
	sorted := slices.Sorted(slices.Values(rates))
	censored := func(side string) []string {
		var out []string
		for _, kn := range Knees(runs, labels, reps, boundMs) {
			if kn.Censored == side && !slices.Contains(out, kn.Policy) {
				out = append(out, kn.Policy)
			}
		}
		return out
	}
	step := func(a, b float64) float64 { return max(b/a, 1.25) }
	n := len(sorted)
	if above := censored("above"); len(above) > 0 {
		f := 1.5
		if n > 1 {
			f = step(sorted[n-2], sorted[n-1])
		}
		return sorted[n-1] * f, above
	}
	if below := censored("below"); len(below) > 0 {
		f := 1.5
		if n > 1 {
			f = step(sorted[0], sorted[1])
		}
		return sorted[0] / f, below
	}
	return 0, nil
}

// runOne runs one policy once, at rate (Poisson) or, for rate 0, at the
// configured arrival, and adds the run to res.
func runOne(ctx context.Context, cfg PoliciesConfig, w load.Spec, env load.Env, policy string, k int, rate float64, res *PoliciesResult) error {
	var routers []RouterRun
	lc := load.Config{
		Workload: w, Arrival: cfg.Arrival, API: load.APIChat, Model: cfg.Sim.Engine.Model, Policies: []string{policy}, Reps: 1,
		TTFTBound: cfg.TTFTBound, Timeout: cfg.Timeout,
		// The engines are fresh for every run; after a warm-up a reset
		// would empty caches the router's index still believes full.
		ResetCache: cfg.Warmup == 0 || rate <= 0,
		NewFleet: func(ctx context.Context) (load.Fleet, error) {
			var warm warmFunc
			if cfg.Warmup > 0 && rate > 0 {
				warm = cfg.warmUp(w, rate)
			}
			return newRoutedFleet(ctx, cfg, policy, warm, func(r RouterRun) { routers = append(routers, r) })
		},
		Logf: func(format string, args ...any) {
			// load numbers its single repetition 1; say which it is.
			cfg.logf("%s, rep %d of %d, router policy "+format, append([]any{w.Kind, k, cfg.Reps}, args...)...)
		},
	}
	if rate > 0 {
		lc.SweepRates = []float64{rate} // Poisson at this rate
	}
	one, err := load.Run(ctx, lc, env)
	if one != nil {
		for i, s := range one.Runs {
			s.Rep = k
			res.Report.Runs = append(res.Report.Runs, s)
			if i < len(routers) {
				routers[i].Policy, routers[i].Rep, routers[i].Rate = policy, k, s.Rate
				res.Routers = append(res.Routers, routers[i])
			}
		}
	}
	return err
}

// warmFunc loads a fleet's targets before measurement; the function it
// returns waits for the warm-up's last requests.
type warmFunc func(ctx context.Context, targets []string) (wait func(), err error)

// WarmupSpec is the warm-up workload of a sweep point (PoliciesConfig.Warmup):
// w under another seed, rate × warmup requests, capped like the point.
func (c *PoliciesConfig) WarmupSpec(w load.Spec, rate float64) load.Spec {
	w.Seed ^= 0x5741524d // "WARM"
	w.Requests = c.capped(max(int(math.Ceil(rate*c.Warmup.Seconds())), 1))
	return w
}

// warmUp sends WarmupSpec's requests as Poisson arrivals at rate and
// returns when the last has arrived, leaving the slow ones in flight.
func (c *PoliciesConfig) warmUp(w load.Spec, rate float64) warmFunc {
	return func(ctx context.Context, targets []string) (func(), error) {
		spec := c.WarmupSpec(w, rate)
		reqs, err := spec.Generate()
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		offsets, err := load.Arrival{Kind: load.Poisson, Steps: []load.RateStep{{Rate: rate}}}.Schedule(reqs, spec.Seed)
		if err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		client := &load.Client{HTTP: &http.Client{Transport: load.NewTransport()}, API: load.APIChat, Model: c.Sim.Engine.Model}
		done := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done)
			defer client.HTTP.CloseIdleConnections()
			load.Execute(ctx, load.Plan{Requests: reqs, Offsets: offsets, Targets: targets, Assigned: make([]int, len(reqs)),
				Client: client, Timeout: c.Timeout})
		}()
		select {
		case <-time.After(time.Until(start.Add(offsets[len(offsets)-1]))):
		case <-done:
		case <-ctx.Done():
		}
		return func() { <-done }, nil
	}
}

// Knees finds every policy's knee in every repetition of a sweep: the
// throughput where p90 TTFT crosses boundMs (load.FindKnee).
func Knees(runs []load.RunSummary, policies []string, reps int, boundMs float64) []load.KneeRun {
	var out []load.KneeRun
	for _, p := range policies {
		for k := 1; k <= reps; k++ {
			var pts []load.SweepPoint
			for _, r := range runs {
				if r.Policy == p && r.Rep == k {
					pts = append(pts, load.SweepPoint{Rate: float64(r.Rate), Throughput: float64(r.RequestRate), P90TTFT: float64(r.TTFT.P90)})
				}
			}
			out = append(out, load.KneeRun{Policy: p, Rep: k, Knee: load.FindKnee(pts, boundMs)})
		}
	}
	return out
}

// newRoutedFleet starts fresh engines and fresh routers for the run label
// (a policy, or POLICY/rN: N replicas behind a front) in front of them;
// closing the fleet reports the routers' figures, summed, to done, then
// stops them all.
func newRoutedFleet(ctx context.Context, cfg PoliciesConfig, label string, warm warmFunc, done func(RouterRun)) (load.Fleet, error) {
	policy, replicas := splitLabel(label)
	layout := cfg.Layouts[policy]
	engines, err := startEngines(ctx, cfg.Sim, cfg.Engines, layout)
	if err != nil {
		return load.Fleet{}, err
	}
	closeEngines := func() { closeAll(engines) }
	urls, hostports := make([]string, len(engines)), make([]string, len(engines))
	for i, e := range engines {
		urls[i], hostports[i] = e.URL(), e.Addr()
	}
	kvPorts, err := kvEventsPorts(engines)
	if err != nil {
		closeEngines()
		return load.Fleet{}, err
	}
	spec := RouterSpec{Bin: cfg.RouterBin, Policy: policy, Base: cfg.RouterBase, Variants: cfg.RouterVariants,
		Model: cfg.Sim.Engine.Model, Engines: hostports, Layout: layout, KVEventsPorts: kvPorts}
	dir := func(i int) (string, error) {
		return os.MkdirTemp(cfg.Dir, "router-"+strings.ReplaceAll(label, "/", "-")+"-"+strconv.Itoa(i)+"-")
	}
	routers, err := startReplicas(ctx, max(replicas.N, 1), !replicas.Alone, spec, dir)
	if err != nil {
		closeEngines()
		return load.Fleet{}, err
	}
	stopRouters := func() {
		for _, r := range routers {
			r.Stop()
		}
	}
	for _, router := range routers {
		if err := waitExact(ctx, cfg, router, policy, len(engines)); err != nil {
			stopRouters()
			closeEngines()
			return load.Fleet{}, err
		}
	}
	targets := []string{routers[0].URL}
	var front *Front
	if replicas.N > 0 {
		all := make([]string, len(routers))
		for i, r := range routers {
			all[i] = r.URL
		}
		if front, err = StartFront(all); err != nil {
			stopRouters()
			closeEngines()
			return load.Fleet{}, err
		}
		targets = []string{front.URL}
	}
	stopAll := func() {
		if front != nil {
			front.Close()
		}
		stopRouters()
		closeEngines()
	}
	// The router's and engines' counters start after the warm-up's
	// arrivals; its stragglers finish inside the measurement.
	warmed := func() {}
	if warm != nil {
		if warmed, err = warm(ctx, targets); err != nil {
			stopAll()
			return load.Fleet{}, err
		}
	}
	engines0 := readEngineStats(engines)
	befores := make([]RouterMetrics, len(routers))
	u0s := make([]Usage, len(routers))
	for i, router := range routers {
		var err1, err2 error
		befores[i], err1 = router.Metrics(ctx)
		u0s[i], err2 = router.Usage()
		if err1 != nil || err2 != nil {
			warmed()
			stopAll()
			return load.Fleet{}, fmt.Errorf("read the router's state: %w", errors.Join(err1, err2))
		}
	}
	closeFleet := func() {
		defer closeEngines()
		defer stopRouters()
		if front != nil {
			defer front.Close()
		}
		warmed()
		nan := load.Num(math.NaN())
		r := RouterRun{CPU: nan, PeakRSSMB: nan, Engines: subEngineStats(readEngineStats(engines), engines0)}
		var cpu, rss float64
		okUsage := true
		for i, router := range routers {
			if after, err := router.Metrics(context.WithoutCancel(ctx)); err == nil {
				d := after.Sub(befores[i])
				if i == 0 {
					r.Metrics = d
				} else {
					r.Metrics = r.Metrics.Add(d)
				}
			}
			if u1, err := router.Usage(); err == nil {
				cpu += (u1.CPU - u0s[i].CPU).Seconds()
				rss = max(rss, float64(u1.PeakRSS)/(1<<20))
			} else {
				okUsage = false
				cfg.logf("router %s: %v\n%s", label, err, router.LogTail(2000))
			}
		}
		if okUsage {
			// CPU is the replicas' sum; peak RSS the largest replica's.
			r.CPU, r.PeakRSSMB = load.Num(cpu), load.Num(rss)
		}
		done(r)
	}
	return load.Fleet{Targets: targets, Engines: urls, Close: closeFleet}, nil
}

// waitExact waits, for a router whose configuration turns exact mode on,
// until its index of every engine is trusted, so that the run's first
// requests are not routed by the fallback while it subscribes.
func waitExact(ctx context.Context, cfg PoliciesConfig, router *RouterProcess, policy string, engines int) error {
	_, merged, err := resolve(cfg.RouterBase, cfg.RouterVariants, policy)
	if err != nil {
		return err
	}
	if on, err := WantsKVEvents(merged, nil); err != nil || !on {
		return err
	}
	wait := cfg.KVEventsWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		m, err := router.Metrics(ctx)
		if err == nil && m.Exact == engines {
			return nil
		}
		if time.Now().After(deadline) && err != nil {
			return fmt.Errorf("router %s: no metrics after %s: %w\n%s", policy, wait, err, router.LogTail(2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router %s: %d of %d endpoints' exact indexes trusted after %s; are the engines publishing KV events (--sim-kv-events)?\n%s",
				policy, m.Exact, engines, wait, router.LogTail(2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *PoliciesConfig) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}
