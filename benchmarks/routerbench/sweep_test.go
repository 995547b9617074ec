package routerbench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// sweepRun is a run of policy in rep 1 at rate with p90 TTFT ttft ms.
func sweepRun(policy string, rate, ttft float64) load.RunSummary {
	return load.RunSummary{Policy: policy, Rep: 1, Rate: load.Num(rate), RequestRate: load.Num(rate), TTFT: load.Latency{P90: load.Num(ttft)}}
}

func TestSweepExtension(t *testing.T) {
	rates := []float64{100, 200, 400}
	cases := []struct {
		name         string
		runs         []load.RunSummary
		wantRate     float64
		wantPolicies []string
	}{
		{"every knee bracketed: done", []load.RunSummary{
			sweepRun("a", 100, 10), sweepRun("a", 200, 50), sweepRun("a", 400, 500),
			sweepRun("b", 100, 10), sweepRun("b", 200, 300), sweepRun("b", 400, 900),
		}, 0, nil},
		{"one never crossed: one step above the top for it alone", []load.RunSummary{
			sweepRun("a", 100, 10), sweepRun("a", 200, 50), sweepRun("a", 400, 500),
			sweepRun("b", 100, 10), sweepRun("b", 200, 20), sweepRun("b", 400, 40),
		}, 800, []string{"b"}},
		{"crossed at the lowest rate: one step below", []load.RunSummary{
			sweepRun("a", 100, 300), sweepRun("a", 200, 500), sweepRun("a", 400, 900),
			sweepRun("b", 100, 10), sweepRun("b", 200, 300), sweepRun("b", 400, 900),
		}, 50, []string{"a"}},
		{"above goes first", []load.RunSummary{
			sweepRun("a", 100, 300), sweepRun("a", 200, 500), sweepRun("a", 400, 900),
			sweepRun("b", 100, 10), sweepRun("b", 200, 20), sweepRun("b", 400, 40),
		}, 800, []string{"b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rate, policies := SweepExtension(tc.runs, []string{"a", "b"}, 1, 200, rates)
			if rate != tc.wantRate || !cmp.Equal(policies, tc.wantPolicies) {
				t.Errorf("got %g for %v, want %g for %v", rate, policies, tc.wantRate, tc.wantPolicies)
			}
		})
	}
	// A close-spaced sweep still steps by at least 1.25.
	if rate, _ := SweepExtension([]load.RunSummary{sweepRun("a", 100, 10), sweepRun("a", 101, 10)}, []string{"a"}, 1, 200, []float64{100, 101}); rate != 101*1.25 {
		t.Errorf("step from 101: %g, want %g", rate, 101*1.25)
	}
}

func TestWarmupSpec(t *testing.T) {
	c := PoliciesConfig{Warmup: 2 * time.Second, SweepMaxRequests: 500}
	w := load.DefaultSpec(load.Shared)
	got := c.WarmupSpec(w, 100)
	if got.Seed == w.Seed || got.Kind != w.Kind || got.Requests != 200 {
		t.Errorf("warm-up spec seed %d (workload %d), kind %s, %d requests; want another seed, the same kind, 200", got.Seed, w.Seed, got.Kind, got.Requests)
	}
	if got := c.WarmupSpec(w, 1000); got.Requests != 500 {
		t.Errorf("at 1,000 req/s: %d requests, want the cap 500", got.Requests)
	}
}

func TestRunPoliciesWarmsUpAndExtends(t *testing.T) {
	spec := load.DefaultSpec(load.Random)
	spec.InputTokens, spec.OutputTokens = 32, 2
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	cfg := PoliciesConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"random", "tandem"}, Workloads: []load.Spec{spec},
		SweepRates: []float64{200}, TTFTBound: time.Minute, SweepFor: 50 * time.Millisecond, Warmup: 200 * time.Millisecond,
		SweepExtend: 2, Reps: 1, Engines: 1, Sim: simCfg, Timeout: 30 * time.Second, Dir: t.TempDir(),
	}
	results, err := RunPolicies(context.Background(), cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	res := results[0]
	var order []string
	runs := res.Report.Runs
	for i, r := range runs {
		order = append(order, r.Policy)
		// 40 warm-up requests precede each run; the router's counters
		// start after their arrivals, so its picks are the measured
		// requests and at most a few warm-up stragglers.
		picks := res.Routers[i].Metrics.Picks["round-robin"]
		if picks < float64(r.Requests) || picks >= float64(r.Requests)+20 {
			t.Errorf("%s run %d: router picked %g, measured %d requests; want the warm-up's 40 left out", r.Policy, i, picks, r.Requests)
		}
	}
	if got, want := strings.Join(order, " "), "random tandem random tandem random tandem"; got != want ||
		!(runs[0].Rate < runs[2].Rate && runs[2].Rate < runs[4].Rate) {
		t.Errorf("runs %s, want %s at rising rates (the bound of a minute is never crossed: two extensions)", got, want)
	}
	if diff := cmp.Diff([]float64{200, 300, 450}, res.Report.SweepRates); diff != "" {
		t.Errorf("sweep rates (-want +got):\n%s", diff)
	}
	for _, k := range res.Report.Knees {
		if k.Censored != "above" {
			t.Errorf("knee %+v: want censored above", k)
		}
	}
}

func TestKneeNotes(t *testing.T) {
	runs := []load.RunSummary{sweepRun("a", 100, 10), sweepRun("a", 400, 500), sweepRun("b", 100, 10), sweepRun("b", 800, 40),
		sweepRun("c", 50, 300), sweepRun("c", 100, 400)}
	policies := []string{"a", "b", "c"}
	got := KneeNotes(Knees(runs, policies, 1, 200), runs, policies)
	// a crosses 200 ms between 100 (10 ms) and 400 req/s (500 ms):
	// 100 + 300 × 190/490 = 216.
	want := []string{
		"a: 216 req/s — crossed inside the sweep in all 1 repetitions",
		"b: 800 req/s — did NOT cross the bound in 1 of 1 repetitions up to 800 req/s offered (its highest rate): the knee is higher",
		"c: 50.0 req/s — crossed the bound already at its lowest rate, 50.0 req/s offered, in 1 of 1 repetitions: the knee is lower",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
