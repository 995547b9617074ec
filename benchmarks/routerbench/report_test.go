package routerbench

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// run is a small builder of overhead runs for tests.
func run(c, mode string, rep int, rps, p50, p99 float64) OverheadRun {
	nan := load.Num(math.NaN())
	r := OverheadRun{Case: c, Mode: mode, Rep: rep, OK: 10, RPS: load.Num(rps), P50: load.Num(p50), P90: load.Num(p50), P99: load.Num(p99),
		RouterCPU: nan, RouterCores: nan, RouterRSSMB: nan, RouterPeakMB: nan, MachineBusy: 1}
	if mode != ModeDirect {
		r.RouterCPU, r.RouterCores, r.RouterRSSMB, r.RouterPeakMB = 2, 0.4, 40, 50
	}
	return r
}

func TestOverheadMediansAndRatios(t *testing.T) {
	runs := []OverheadRun{
		run("trivial", "direct", 1, 1000, 1, 4), run("trivial", "router/tandem", 1, 500, 2, 6),
		run("trivial", "direct", 2, 2000, 1, 4), run("trivial", "router/tandem", 2, 1500, 3, 5),
		run("trivial", "direct", 3, 1000, 2, 8), run("trivial", "router/tandem", 3, 800, 2.5, 9),
	}
	runs[1].Errors = map[string]int{"http_502": 1}
	runs[5].Errors = map[string]int{"http_502": 2, "connect": 1}

	meds := OverheadMedians(runs)
	if len(meds) != 2 || meds[0].Mode != "direct" || meds[1].Mode != "router/tandem" {
		t.Fatalf("medians in order direct, router/tandem; got %+v", meds)
	}
	// Columns: req/s, p50, p90, p99, router CPU, cores, µs/req, cores per
	// 1k req/s (0.4 cores at 0.5k, 1.5k and 0.8k req/s: 0.8, 0.27, 0.5),
	// RSS, peak, bench cores, machine busy.
	wantRouter := []float64{800, 2.5, 2.5, 6, 2, 0.4, 2e6 / 10, 0.5, 40, 50, 0, 1}
	if diff := cmp.Diff(wantRouter, meds[1].Values); diff != "" {
		t.Errorf("router medians (-want +got):\n%s", diff)
	}
	if !math.IsNaN(meds[0].Values[4]) {
		t.Errorf("direct has no router CPU: got %v", meds[0].Values[4])
	}
	if diff := cmp.Diff(map[string]int{"http_502": 3, "connect": 1}, meds[1].Errors); diff != "" {
		t.Errorf("summed errors (-want +got):\n%s", diff)
	}

	ratios := OverheadRatios(runs)
	want := []OverheadRatio{{
		Case: "trivial", Mode: "router/tandem",
		RPS: 0.75, P50: 2, P99: 1.25, AddedP50: 1, AddedP99: 1, // per rep: 0.5 0.75 0.8; 2 3 1.25; 1.5 1.25 1.125; +1 +2 +0.5; +2 +1 +1
		PerRepRPS: []load.Num{0.5, 0.75, 0.8},
	}}
	if diff := cmp.Diff(want, ratios, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("OverheadRatios (-want +got):\n%s", diff)
	}

	var buf bytes.Buffer
	rep := &OverheadReport{Env: Env{Env: load.Env{Command: "tandem-bench router-overhead", Cores: 2, Seed: 1, Date: time.Unix(0, 0).UTC()}}, Runs: runs, Ratios: ratios}
	if err := rep.Print(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2 cores, seed 1", "share the machine's cores", "Kthena", "router against direct", "0.750"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, buf.String())
		}
	}
	if err := json.NewEncoder(&bytes.Buffer{}).Encode(rep); err != nil {
		t.Errorf("the report must encode as JSON (NaN as null): %v", err)
	}
}

// summary is a small builder of load runs for tests.
func summary(policy string, rep int, rps, p90, p99, hit float64) load.RunSummary {
	return load.RunSummary{
		Policy: policy, Rep: rep, Rate: 100, Requests: 10, OK: 10, RequestRate: load.Num(rps),
		TTFT: load.Latency{P50: load.Num(p90 / 2), P90: load.Num(p90), P99: load.Num(p99)}, HitRate: load.Num(hit),
		Oracle: load.OracleResult{Infinite: 0.9, LRU: 0.8},
	}
}

func TestPolicyRowsAndChecks(t *testing.T) {
	runs := []load.RunSummary{
		summary("random", 1, 100, 40, 80, 0.45), summary("round-robin", 1, 100, 30, 60, 0.45), summary("tandem", 1, 110, 4, 20, 0.9),
		summary("random", 2, 100, 50, 90, 0.45), summary("round-robin", 2, 100, 35, 70, 0.45), summary("tandem", 2, 120, 5, 30, 0.87),
	}
	runs[2].Errors, runs[2].OK = map[string]int{"http_503": 1}, 9
	routers := make([]RouterRun, len(runs))
	for i := range routers {
		routers[i] = RouterRun{CPU: load.Num(i), PeakRSSMB: 40, Metrics: RouterMetrics{
			PromptTokens: 100, CachedTokens: 50, Picks: map[string]float64{"random": 10}}}
	}
	routers[2].Metrics.Picks = map[string]float64{"cache-affinity": 9, "load-balance": 1}
	routers[5].Metrics.Picks = map[string]float64{"cache-affinity": 7, "load-balance": 3}
	routers[2].Metrics.TokenSources = map[string]float64{"engine": 3, "skipped-whole-prompt": 4}
	routers[5].Metrics.TokenSources = map[string]float64{"engine": 1}
	routers[5].Metrics.Fallbacks = map[string]float64{"timeout": 2}

	rows := PolicyRows(runs, routers, "random")
	if len(rows) != 3 {
		t.Fatalf("want a row per policy, got %d", len(rows))
	}
	tandem := rows[2]
	if tandem.Policy != "tandem" || tandem.OK != 19 || tandem.Requests != 20 || tandem.Errors["http_503"] != 1 {
		t.Errorf("tandem row counts: %+v", tandem)
	}
	// Values: req/s, TTFT p50, p90, p99, E2E p90, hit rate, ÷oracle inf, ÷oracle LRU.
	if got, want := float64(tandem.Values[2]), 4.5; got != want {
		t.Errorf("tandem TTFT p90 median = %v, want %v", got, want)
	}
	// Per repetition 4/40 = 0.1 and 5/50 = 0.1.
	if got := float64(tandem.Ratios[2]); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("tandem TTFT p90 ÷ random = %v, want 0.1", got)
	}
	if got, want := float64(tandem.Values[6]), (1+0.87/0.9)/2; math.Abs(got-want) > 1e-9 { // hit rates 0.9, 0.87 over 0.9
		t.Errorf("tandem hit ÷ oracle = %v, want %v", got, want)
	}
	if tandem.Picks != "cache-affinity 0.80, load-balance 0.20" || float64(tandem.RouterCPU) != 3.5 || float64(tandem.RouterHitRate) != 0.5 {
		t.Errorf("tandem router figures: picks %q, CPU %v, hit %v", tandem.Picks, tandem.RouterCPU, tandem.RouterHitRate)
	}
	if want := "engine 0.40, skipped-whole-prompt 0.40, fallback-timeout 0.20"; tandem.TokenSources != want || rows[0].TokenSources != "" {
		t.Errorf("token sources: tandem %q, want %q; random %q, want none", tandem.TokenSources, want, rows[0].TokenSources)
	}

	knees := []load.KneeRun{
		{Policy: "round-robin", Rep: 1, Knee: load.Knee{Throughput: 100}}, {Policy: "round-robin", Rep: 2, Knee: load.Knee{Throughput: 120}},
		{Policy: "tandem", Rep: 1, Knee: load.Knee{Throughput: 300}}, {Policy: "tandem", Rep: 2, Knee: load.Knee{Throughput: 250}},
	}
	checks := Checks(load.Shared, rows, knees)
	wantChecks := []Check{
		{"tandem hit rate ÷ oracle (infinite cache) at 100 req/s", (1 + 0.87/0.9) / 2, "≥ 0.9"},
		{"tandem TTFT p90 ÷ round-robin's at 100 req/s", 4.5 / 32.5, "≤ 0.2 at the knee"},
		{"tandem knee throughput ÷ round-robin's", 275.0 / 110, "≥ 2"},
	}
	if diff := cmp.Diff(wantChecks, checks, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Checks (-want +got):\n%s", diff)
	}
	if got := Checks(load.Random, rows, nil); len(got) != 0 {
		t.Errorf("no least-request run: want no parity check, got %v", got)
	}

	var buf bytes.Buffer
	res := PoliciesResult{Report: &load.Report{Workload: load.DefaultSpec(load.Shared), Policies: []string{"random", "round-robin", "tandem"},
		Runs: runs, Ratios: load.Ratios(runs, "random")}, Routers: routers}
	if err := PrintPolicies(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"headline", "×random TTFT p90", "issue 6's goals", "ratio to random", "exact mode: where request token ids came from"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, buf.String())
		}
	}
}

func TestWorkloadSpec(t *testing.T) {
	given := load.Spec{Requests: 64, Groups: 4, InputTokens: 10}
	got, err := workloadSpec(load.Shared, given, map[string]bool{"groups": true, "input-tokens": true}, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := load.DefaultSpec(load.Shared)
	want.Seed, want.Requests, want.Groups, want.InputTokens = 7, 64, 4, 10
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("workloadSpec (-want +got):\n%s", diff)
	}
	if tr, err := workloadSpec(load.Trace, given, nil, 1); err != nil || len(tr.Trace) != len(load.SampleTrace()) {
		t.Errorf("trace: %v, %d records; want the shipped sample", err, len(tr.Trace))
	}
	if _, err := workloadSpec("nope", given, nil, 1); err == nil {
		t.Error("unknown kind: want an error")
	}
}

func TestOverheadBodies(t *testing.T) {
	bodies, err := OverheadBodies("m", 3, 256, 8, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range bodies {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role, Content string
			} `json:"messages"`
			MaxTokens int  `json:"max_tokens"`
			Stream    bool `json:"stream"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatal(err)
		}
		c := req.Messages[0].Content
		if req.Model != "m" || req.MaxTokens != 8 || req.Stream || len(c) != 256 || seen[c] {
			t.Errorf("body %s: want model m, max_tokens 8, not streaming, a distinct 256-byte message", b)
		}
		seen[c] = true
	}
	again, _ := OverheadBodies("m", 3, 256, 8, 1, false)
	if diff := cmp.Diff(bodies, again); diff != "" {
		t.Errorf("bodies are not deterministic (-first +second):\n%s", diff)
	}
	streamed, _ := OverheadBodies("m", 1, 256, 8, 1, true)
	if !strings.Contains(string(streamed[0]), `"stream":true`) {
		t.Errorf("streaming body %s: want stream true", streamed[0])
	}
}

func TestPolicyFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		check   func(*testing.T, PoliciesConfig)
		wantErr bool
	}{
		{name: "defaults", check: func(t *testing.T, c PoliciesConfig) {
			if len(c.Workloads) != 2 || c.Workloads[0].Kind != load.Shared || c.Workloads[1].Kind != load.Random ||
				c.Workloads[0].Requests != 1024 || c.Arrival.Kind != load.Poisson || c.Arrival.Steps[0].Rate != 300 ||
				c.Sim.Engine.NumBlocks != 27000 || c.Sim.TimeScale != 0.1 || c.SweepRates != nil {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "sweep and workload flags", args: []string{"--workloads", "chat", "--turns", "3", "--sweep", "100,200"}, check: func(t *testing.T, c PoliciesConfig) {
			if len(c.Workloads) != 1 || c.Workloads[0].Turns != 3 || len(c.SweepRates) != 2 {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "closed loop", args: []string{"--arrival", "concurrency", "--concurrency", "8"}, check: func(t *testing.T, c PoliciesConfig) {
			if c.Arrival.Kind != load.Concurrency || c.Arrival.Concurrency != 8 {
				t.Errorf("arrival %+v", c.Arrival)
			}
		}},
		{name: "a sweep point is 30 s of arrivals (at most 5,000 requests) after a 10 s warm-up, extended up to 3 rates",
			args: []string{"--sweep", "100,200"}, check: func(t *testing.T, c PoliciesConfig) {
				got := []any{c.SweepFor, c.SweepMaxRequests, c.Warmup, c.SweepExtend}
				if diff := cmp.Diff([]any{30 * time.Second, 5000, 10 * time.Second, 3}, got); diff != "" {
					t.Errorf("sweep-for, max requests, warm-up, extend (-want +got):\n%s", diff)
				}
			}},
		{name: "--short makes a smoke run", args: []string{"--sweep", "100,200", "--short", "--warmup", "0"}, check: func(t *testing.T, c PoliciesConfig) {
			got := []any{c.SweepFor, c.SweepMaxRequests, c.Warmup}
			if diff := cmp.Diff([]any{3 * time.Second, 1000, time.Duration(0)}, got); diff != "" {
				t.Errorf("sweep-for, max requests, warm-up (-want +got):\n%s", diff)
			}
		}},
		{name: "without a sweep no point length, warm-up or extension", args: []string{"--rate", "100"}, check: func(t *testing.T, c PoliciesConfig) {
			if c.SweepFor != 0 || c.Warmup != 0 || c.SweepExtend != 0 {
				t.Errorf("sweep-for %s, warm-up %s, extend %d; want none", c.SweepFor, c.Warmup, c.SweepExtend)
			}
		}},
		{name: "bad arrival", args: []string{"--arrival", "burst"}, wantErr: true},
		{name: "bad rate", args: []string{"--rate", "x"}, wantErr: true},
		{name: "bad workload", args: []string{"--workloads", "nope"}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			cfg := PoliciesConfig{Sim: sim.DefaultConfig()}
			f := bindPolicyFlags(fs, &cfg)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := f.complete(fs, &cfg, 1)
			if tc.wantErr {
				if err == nil {
					t.Error("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}
