package routerbench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// Router configurations of the flow control benchmark, known by name like
// the other profiles: the tandem preset with flow control off and on,
// every other flowControl setting its default.
const (
	ProfileFlowOff = "tandem-noflow"
	ProfileFlowOn  = "tandem-flow"
)

func init() {
	Profiles[ProfileFlowOff] = "policy: tandem\nflowControl:\n  enabled: false\n"
	Profiles[ProfileFlowOn] = "policy: tandem\nflowControl:\n  enabled: true\n"
}

// OverloadConfig is router-policies --overload: a sweep of Knee × Factors
// (the workload's requests at each rate, or SweepFor of arrivals), then the
// two-tenant fairness case, the policies (flow control off and on)
// alternating within every repetition.
type OverloadConfig struct {
	PoliciesConfig
	// Knee is the offered rate (req/s) the sweep is a multiple of: the
	// knee of the same fleet and workload, measured beforehand.
	Knee    float64
	Factors []float64
	// Fairness runs the two-tenant case after the sweep: a heavy tenant at
	// HeavyFactor × Knee with a light one at LightFactor × Knee, and the
	// light one alone, each for FairFor of arrivals.
	Fairness                 bool
	HeavyFactor, LightFactor float64
	FairFor                  time.Duration
	// TenantHeader names the tenant of each request; the router
	// configuration of the fairness runs trusts it (tenants.header).
	TenantHeader string
}

// Validate reports the first impossible setting.
func (c *OverloadConfig) Validate() error {
	if !(c.Knee > 0) || len(c.Factors) == 0 {
		return fmt.Errorf("--overload needs a knee above 0 and factors")
	}
	if !slices.Contains(c.Factors, 1) {
		return fmt.Errorf("--overload-factors %v: include 1 (the knee), the hit rate's reference", c.Factors)
	}
	for _, f := range c.Factors {
		if !(f > 0) {
			return fmt.Errorf("--overload-factors: %g is not above 0", f)
		}
	}
	if c.Fairness && (!(c.HeavyFactor > 0) || !(c.LightFactor > 0) || c.TenantHeader == "" || c.FairFor <= 0) {
		return fmt.Errorf("fairness: need heavy and light factors above 0, a tenant header and a run length")
	}
	return nil
}

// OverloadResult is the sweep, its goals and the fairness runs.
type OverloadResult struct {
	Sweep    PoliciesResult `json:"sweep"`
	Goals    []OverloadGoal `json:"goals"`
	Fairness []FairRun      `json:"fairness,omitempty"`
	// FairGoals are the fairness figures per policy (medians over
	// repetitions).
	FairGoals []FairGoal `json:"fairness_goals,omitempty"`
}

// RunOverload runs the sweep and, if asked, the fairness case.
func RunOverload(ctx context.Context, cfg OverloadConfig, env load.Env) (OverloadResult, error) {
	var out OverloadResult
	if err := cfg.Validate(); err != nil {
		return out, err
	}
	pc := cfg.PoliciesConfig
	pc.SweepRates = nil
	for _, f := range cfg.Factors {
		pc.SweepRates = append(pc.SweepRates, cfg.Knee*f)
	}
	results, err := RunPolicies(ctx, pc, env)
	if len(results) > 0 {
		out.Sweep = results[0]
		out.Goals = OverloadGoals(PolicyRows(out.Sweep.Report.Runs, out.Sweep.Routers, pc.Policies[0]), pc.Policies, cfg.Knee, cfg.Factors,
			float64(pc.TTFTBound)/float64(time.Millisecond))
	}
	if err != nil || !cfg.Fairness {
		return out, err
	}
	out.Fairness, err = runFairness(ctx, cfg)
	out.FairGoals = FairGoals(out.Fairness, pc.Policies)
	return out, err
}

// OverloadGoal is one policy's figures against the goals: at the
// highest factor, throughput against the policy's own peak over the
// sweep, p90 TTFT against the bound, and hit rate against the policy's
// own at the knee (factor 1). Figures are medians over repetitions.
type OverloadGoal struct {
	Policy string  `json:"policy"`
	Factor float64 `json:"factor"`
	// Peak is the highest median throughput over the sweep, PeakRate the
	// offered rate it was seen at.
	Peak     float64 `json:"peak_req_s"`
	PeakRate float64 `json:"peak_offered"`
	// At is the median throughput at the highest factor, AtRatio At ÷ Peak.
	At      float64 `json:"at_req_s"`
	AtRatio float64 `json:"throughput_ratio"`
	P90TTFT float64 `json:"p90_ttft_ms"`
	BoundMs float64 `json:"bound_ms"`
	// HitKnee and HitAt are the fleet's hit rates at the knee and at the
	// highest factor; HitRatio HitAt ÷ HitKnee.
	HitKnee  float64 `json:"hit_knee"`
	HitAt    float64 `json:"hit_at"`
	HitRatio float64 `json:"hit_ratio"`
	// Refused is the share of requests at the highest factor that got an
	// error (429 and timeouts alike).
	Refused float64 `json:"refused_share"`
}

// MarshalJSON writes figures not measured (NaN) as null.
func (g OverloadGoal) MarshalJSON() ([]byte, error) {
	type num = load.Num
	return json.Marshal(struct {
		Policy   string  `json:"policy"`
		Factor   float64 `json:"factor"`
		Peak     num     `json:"peak_req_s"`
		PeakRate num     `json:"peak_offered"`
		At       num     `json:"at_req_s"`
		AtRatio  num     `json:"throughput_ratio"`
		P90TTFT  num     `json:"p90_ttft_ms"`
		BoundMs  num     `json:"bound_ms"`
		HitKnee  num     `json:"hit_knee"`
		HitAt    num     `json:"hit_at"`
		HitRatio num     `json:"hit_ratio"`
		Refused  num     `json:"refused_share"`
	}{g.Policy, g.Factor, num(g.Peak), num(g.PeakRate), num(g.At), num(g.AtRatio), num(g.P90TTFT), num(g.BoundMs),
		num(g.HitKnee), num(g.HitAt), num(g.HitRatio), num(g.Refused)})
}

// Met reports the three goals.
func (g OverloadGoal) Met() (throughput, ttft, hit bool) {
	return g.AtRatio >= 0.9, g.P90TTFT <= g.BoundMs, g.HitRatio >= 0.9
}

// OverloadGoals reads the goals from the sweep's rows (PolicyRows).
func OverloadGoals(rows []PolicyRow, policies []string, knee float64, factors []float64, boundMs float64) []OverloadGoal {
	top := slices.Max(factors)
	var out []OverloadGoal
	for _, p := range policies {
		g := OverloadGoal{Policy: p, Factor: top, BoundMs: boundMs, At: math.NaN(), P90TTFT: math.NaN(), HitKnee: math.NaN(), HitAt: math.NaN()}
		for _, r := range rows {
			if r.Policy != p {
				continue
			}
			thr := r.value("req/s")
			if thr > g.Peak || g.PeakRate == 0 {
				g.Peak, g.PeakRate = thr, r.Rate
			}
			// The offered rate is the schedule's own mean, near the asked one.
			switch nearestFactor(r.Rate/knee, factors) {
			case 1:
				g.HitKnee = r.value("hit rate")
			case top:
				g.At, g.P90TTFT, g.HitAt = thr, r.value("TTFT p90 ms"), r.value("hit rate")
				if r.Requests > 0 {
					g.Refused = float64(r.Requests-r.OK) / float64(r.Requests)
				}
			}
		}
		if knee*top == knee { // a sweep of the knee alone
			g.At, g.HitAt = g.Peak, g.HitKnee
		}
		g.AtRatio, g.HitRatio = g.At/g.Peak, g.HitAt/g.HitKnee
		out = append(out, g)
	}
	return out
}

// nearestFactor is the factor closest to x.
func nearestFactor(x float64, factors []float64) float64 {
	best := factors[0]
	for _, f := range factors {
		if math.Abs(f-x) < math.Abs(best-x) {
			best = f
		}
	}
	return best
}

// FairRun is one tenant's figures in one fairness run.
type FairRun struct {
	Policy string `json:"policy"`
	Rep    int    `json:"rep"`
	// Case is "solo" (the light tenant alone) or "mixed" (with the heavy).
	Case    string         `json:"case"`
	Tenant  string         `json:"tenant"`
	Offered float64        `json:"offered_rate"`
	Sent    int            `json:"sent"`
	OK      int            `json:"ok"`
	Errors  map[string]int `json:"errors,omitempty"`
	// ReqRate is successful requests over the run's span; TTFT of the
	// successful ones, ms.
	ReqRate load.Num     `json:"req_s"`
	TTFT    load.Latency `json:"ttft_ms"`
}

// FairGoal is one policy's fairness figures: medians over repetitions of
// the light tenant's p90 TTFT alone and beside the heavy tenant.
type FairGoal struct {
	Policy     string   `json:"policy"`
	SoloP90    load.Num `json:"light_solo_p90_ms"`
	MixedP90   load.Num `json:"light_mixed_p90_ms"`
	Ratio      load.Num `json:"ratio"`
	LightOK    load.Num `json:"light_ok_share"`
	HeavyReqS  load.Num `json:"heavy_req_s"`
	HeavyOK    load.Num `json:"heavy_ok_share"`
	Repetition int      `json:"reps"`
}

// FairGoals folds fairness runs per policy; Ratio is the median of the
// per-repetition ratios mixed ÷ solo.
func FairGoals(runs []FairRun, policies []string) []FairGoal {
	var out []FairGoal
	for _, p := range policies {
		g := FairGoal{Policy: p}
		var solo, mixed, ratio, lightOK, heavy, heavyOK []float64
		byRep := map[int]map[string]FairRun{}
		for _, r := range runs {
			if r.Policy != p {
				continue
			}
			if byRep[r.Rep] == nil {
				byRep[r.Rep] = map[string]FairRun{}
			}
			byRep[r.Rep][r.Case+"/"+r.Tenant] = r
		}
		for _, m := range byRep {
			s, okS := m["solo/light"]
			x, okX := m["mixed/light"]
			if okS && okX {
				solo, mixed = append(solo, float64(s.TTFT.P90)), append(mixed, float64(x.TTFT.P90))
				ratio = append(ratio, float64(x.TTFT.P90)/float64(s.TTFT.P90))
				lightOK = append(lightOK, share(x.OK, x.Sent))
			}
			if h, ok := m["mixed/heavy"]; ok {
				heavy, heavyOK = append(heavy, float64(h.ReqRate)), append(heavyOK, share(h.OK, h.Sent))
			}
		}
		g.Repetition = len(ratio)
		med := func(v []float64) load.Num { return load.Num(load.Median(v)) }
		g.SoloP90, g.MixedP90, g.Ratio = med(solo), med(mixed), med(ratio)
		g.LightOK, g.HeavyReqS, g.HeavyOK = med(lightOK), med(heavy), med(heavyOK)
		out = append(out, g)
	}
	return out
}

func share(n, of int) float64 {
	if of == 0 {
		return math.NaN()
	}
	return float64(n) / float64(of)
}

// runFairness runs, per repetition and policy (alternating), the light
// tenant alone and then both tenants together, each on a fresh fleet.
func runFairness(ctx context.Context, cfg OverloadConfig) ([]FairRun, error) {
	pc := cfg.PoliciesConfig
	base, err := withTenantHeader(pc.RouterBase, cfg.TenantHeader)
	if err != nil {
		return nil, err
	}
	pc.RouterBase = base
	w := pc.Workloads[0]
	var out []FairRun
	for k := 1; k <= pc.Reps; k++ {
		for _, policy := range pc.Policies {
			for _, mixed := range []bool{false, true} {
				runs, err := fairOnce(ctx, pc, cfg, w, policy, k, mixed)
				out = append(out, runs...)
				if err != nil {
					return out, fmt.Errorf("fairness, policy %s, rep %d: %w", policy, k, err)
				}
			}
		}
	}
	return out, nil
}

// withTenantHeader sets tenants.header in a router configuration, so the
// router names each request's tenant by that header (from any peer: the
// benchmark's client is on loopback).
func withTenantHeader(base []byte, header string) ([]byte, error) {
	cfg := map[string]any{}
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return nil, fmt.Errorf("router config: %w", err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	t, _ := cfg["tenants"].(map[string]any)
	if t == nil {
		t = map[string]any{}
	}
	t["header"] = header
	cfg["tenants"] = t
	return yaml.Marshal(cfg)
}

// tenantStream is one tenant's share of a fairness run.
type tenantStream struct {
	name string
	rate float64
	seed uint64
}

func fairOnce(ctx context.Context, pc PoliciesConfig, cfg OverloadConfig, w load.Spec, policy string, k int, mixed bool) ([]FairRun, error) {
	streams := []tenantStream{{name: "light", rate: cfg.Knee * cfg.LightFactor, seed: w.Seed + 1000}}
	label := "solo"
	if mixed {
		label = "mixed"
		streams = append(streams, tenantStream{name: "heavy", rate: cfg.Knee * cfg.HeavyFactor, seed: w.Seed})
	}
	pc.logf("fairness %s, rep %d of %d, router policy %s: %s", w.Kind, k, pc.Reps, policy, label)
	fleet, err := newRoutedFleet(ctx, pc, policy, nil, func(RouterRun) {})
	if err != nil {
		return nil, err
	}
	defer fleet.Close()
	type planned struct {
		s    tenantStream
		plan load.Plan
	}
	var plans []planned
	for _, s := range streams {
		ws := w
		ws.Seed = s.seed
		ws.Requests = int(math.Ceil(s.rate * cfg.FairFor.Seconds()))
		if s.name == "light" {
			// A light tenant holds few conversations open at once, so
			// each sees its own history again (and its rate is not
			// throttled by its own turns: the heavy tenant's share is).
			ws.Conversations = max(1, min(w.Conversations, ws.Requests/max(w.Turns, 1)))
		}
		reqs, err := ws.Generate()
		if err != nil {
			return nil, err
		}
		arr := load.Arrival{Kind: load.Poisson, Steps: []load.RateStep{{Rate: s.rate}}}
		offsets, err := arr.Schedule(reqs, s.seed+uint64(k))
		if err != nil {
			return nil, err
		}
		client := &load.Client{
			HTTP:  &http.Client{Transport: &tenantTransport{base: load.NewTransport(), header: cfg.TenantHeader, tenant: s.name}},
			API:   load.APIChat,
			Model: pc.Sim.Engine.Model,
		}
		plans = append(plans, planned{s: s, plan: load.Plan{
			Requests: reqs, Offsets: offsets, Targets: fleet.Targets, Assigned: make([]int, len(reqs)), Client: client, Timeout: pc.Timeout,
		}})
	}
	runs := make([]FairRun, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			results, span := load.Execute(ctx, p.plan)
			runs[i] = fairRun(policy, k, label, p.s, results, span)
		})
	}
	wg.Wait()
	return runs, ctx.Err()
}

func fairRun(policy string, k int, label string, s tenantStream, results []load.Result, span time.Duration) FairRun {
	r := FairRun{Policy: policy, Rep: k, Case: label, Tenant: s.name, Offered: s.rate}
	var ttft []float64
	for _, res := range results {
		if res.Err == "not_sent" {
			continue
		}
		r.Sent++
		if res.Err != "" {
			if r.Errors == nil {
				r.Errors = map[string]int{}
			}
			r.Errors[res.Err]++
			continue
		}
		r.OK++
		ttft = append(ttft, float64(res.TTFT)/float64(time.Millisecond))
	}
	sum := load.Summarize(ttft)
	r.TTFT = load.Latency{N: sum.N, Mean: load.Num(sum.Mean), P50: load.Num(sum.P50), P90: load.Num(sum.P90), P99: load.Num(sum.P99), Max: load.Num(sum.Max)}
	r.ReqRate = load.Num(math.NaN())
	if span > 0 {
		r.ReqRate = load.Num(float64(r.OK) / span.Seconds())
	}
	return r
}

// tenantTransport names the tenant of every request it carries.
type tenantTransport struct {
	base           http.RoundTripper
	header, tenant string
}

func (t *tenantTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(t.header, t.tenant)
	return t.base.RoundTrip(r)
}
