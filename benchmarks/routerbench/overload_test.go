package routerbench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// row makes a PolicyRow with the headline values the goals read.
func row(policy string, rate, reqS, p90, hit float64, ok, requests int) PolicyRow {
	v := make([]load.Num, len(headlineMetrics))
	for i := range v {
		v[i] = load.Num(math.NaN())
	}
	set := func(name string, x float64) {
		for i, n := range headlineMetrics {
			if n == name {
				v[i] = load.Num(x)
			}
		}
	}
	set("req/s", reqS)
	set("TTFT p90 ms", p90)
	set("hit rate", hit)
	return PolicyRow{Policy: policy, Rate: rate, Values: v, OK: ok, Requests: requests}
}

func TestOverloadGoals(t *testing.T) {
	rows := []PolicyRow{
		row("off", 90, 90, 20, 0.8, 900, 900), row("on", 90, 90, 20, 0.8, 900, 900),
		row("off", 181, 175, 150, 0.84, 1800, 1800), row("on", 179, 176, 120, 0.84, 1800, 1800),
		row("off", 726, 66, 9000, 0.28, 2000, 7200), row("on", 716, 170, 150, 0.8, 1800, 7200),
	}
	got := OverloadGoals(rows, []string{"off", "on"}, 180, []float64{0.5, 1, 4}, 200)
	want := []OverloadGoal{
		{Policy: "off", Factor: 4, Peak: 175, PeakRate: 181, At: 66, AtRatio: 66.0 / 175, P90TTFT: 9000, BoundMs: 200,
			HitKnee: 0.84, HitAt: 0.28, HitRatio: 0.28 / 0.84, Refused: 5200.0 / 7200},
		{Policy: "on", Factor: 4, Peak: 176, PeakRate: 179, At: 170, AtRatio: 170.0 / 176, P90TTFT: 150, BoundMs: 200,
			HitKnee: 0.84, HitAt: 0.8, HitRatio: 0.8 / 0.84, Refused: 5400.0 / 7200},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("goals (-want +got):\n%s", diff)
	}
	type met struct{ Thr, TTFT, Hit bool }
	var gotMet []met
	for _, g := range got {
		a, b, c := g.Met()
		gotMet = append(gotMet, met{a, b, c})
	}
	if diff := cmp.Diff([]met{{false, false, false}, {true, true, true}}, gotMet); diff != "" {
		t.Errorf("goals met (-want +got):\n%s", diff)
	}
}

func TestFairGoals(t *testing.T) {
	lat := func(p90 float64) load.Latency { return load.Latency{P90: load.Num(p90)} }
	type num = load.Num
	runs := []FairRun{
		{Policy: "on", Rep: 1, Case: "solo", Tenant: "light", Sent: 100, OK: 100, TTFT: lat(10)},
		{Policy: "on", Rep: 1, Case: "mixed", Tenant: "light", Sent: 100, OK: 100, TTFT: lat(12)},
		{Policy: "on", Rep: 1, Case: "mixed", Tenant: "heavy", Sent: 400, OK: 200, ReqRate: 170, TTFT: lat(150)},
		{Policy: "on", Rep: 2, Case: "solo", Tenant: "light", Sent: 100, OK: 100, TTFT: lat(20)},
		{Policy: "on", Rep: 2, Case: "mixed", Tenant: "light", Sent: 100, OK: 90, TTFT: lat(40)},
		{Policy: "on", Rep: 2, Case: "mixed", Tenant: "heavy", Sent: 400, OK: 100, ReqRate: 150, TTFT: lat(150)},
		{Policy: "off", Rep: 1, Case: "mixed", Tenant: "light", Sent: 100, OK: 100, TTFT: lat(900)},
	}
	got := FairGoals(runs, []string{"on", "off"})
	nan := load.Num(math.NaN())
	want := []FairGoal{
		{Policy: "on", SoloP90: 15, MixedP90: 26, Ratio: num((1.2 + 2) / 2), LightOK: 0.95, HeavyReqS: 160, HeavyOK: 0.375, Repetition: 2},
		// No solo run: no ratio; the heavy tenant was not seen either.
		{Policy: "off", SoloP90: nan, MixedP90: nan, Ratio: nan, LightOK: nan, HeavyReqS: nan, HeavyOK: nan},
	}
	sameNum := cmp.Comparer(func(a, b load.Num) bool {
		x, y := float64(a), float64(b)
		return (math.IsNaN(x) && math.IsNaN(y)) || math.Abs(x-y) < 1e-9
	})
	if diff := cmp.Diff(want, got, sameNum); diff != "" {
		t.Errorf("fairness goals (-want +got):\n%s", diff)
	}
}

func TestWithTenantHeader(t *testing.T) {
	got, err := withTenantHeader([]byte("tenants:\n  default: {maxInFlight: 5}\nscrape: {interval: 50ms}\n"), "X-T")
	if err != nil {
		t.Fatal(err)
	}
	want := "scrape:\n  interval: 50ms\ntenants:\n  default:\n    maxInFlight: 5\n  header: X-T\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestRunOverloadThroughFakeRouter(t *testing.T) {
	spec := load.DefaultSpec(load.Chat)
	spec.Conversations, spec.Turns, spec.SystemTokens, spec.QuestionTokens, spec.OutputTokens = 8, 2, 32, 8, 2
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	cfg := OverloadConfig{
		PoliciesConfig: PoliciesConfig{
			RouterBin: fakeRouterBin(t), Policies: []string{ProfileFlowOff, ProfileFlowOn}, RouterVariants: map[string][]byte{
				ProfileFlowOff: []byte(Profiles[ProfileFlowOff]), ProfileFlowOn: []byte(Profiles[ProfileFlowOn]),
			},
			Workloads: []load.Spec{spec}, SweepFor: 200 * time.Millisecond, TTFTBound: time.Second, Reps: 1, Engines: 2, Sim: simCfg,
			Timeout: 30 * time.Second, Dir: t.TempDir(),
		},
		Knee: 50, Factors: []float64{1, 2}, Fairness: true, HeavyFactor: 2, LightFactor: 0.5, TenantHeader: "X-Tandem-Tenant", FairFor: 200 * time.Millisecond,
	}
	res, err := RunOverload(context.Background(), cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var sweep []string
	for _, r := range res.Sweep.Report.Runs {
		sweep = append(sweep, fmt.Sprintf("%s@%g", r.Policy, math.Round(float64(r.Rate)/50)))
	}
	if got, want := strings.Join(sweep, " "), "tandem-noflow@1 tandem-flow@1 tandem-noflow@2 tandem-flow@2"; got != want {
		t.Errorf("sweep runs %s (policy@multiple of the knee), want %s", got, want)
	}
	var fair []string
	for _, r := range res.Fairness {
		fair = append(fair, r.Policy+"/"+r.Case+"/"+r.Tenant)
		if r.Sent == 0 || r.OK != r.Sent {
			t.Errorf("%s %s %s: %d of %d ok (%v)", r.Policy, r.Case, r.Tenant, r.OK, r.Sent, r.Errors)
		}
	}
	want := "tandem-noflow/solo/light tandem-noflow/mixed/light tandem-noflow/mixed/heavy tandem-flow/solo/light tandem-flow/mixed/light tandem-flow/mixed/heavy"
	if got := strings.Join(fair, " "); got != want {
		t.Errorf("fairness runs\n%s\nwant\n%s", got, want)
	}
	if len(res.Goals) != 2 || len(res.FairGoals) != 2 || res.FairGoals[1].Repetition != 1 {
		t.Errorf("goals %+v, fairness goals %+v; want one of each per policy", res.Goals, res.FairGoals)
	}
}
