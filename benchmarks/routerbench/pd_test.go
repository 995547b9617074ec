package routerbench

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// pdConfig is a valid 2P2D configuration for tests; edit modifies it.
func pdConfig(edit func(*PDConfig)) PDConfig {
	c := PDConfig{PoliciesConfig: PoliciesConfig{
		Policies: []string{"tandem"}, Workloads: []load.Spec{load.DefaultSpec(load.Random)},
		SweepRates: []float64{10, 20}, Reps: 1, Engines: 4, Sim: sim.DefaultConfig(),
	}, Prefill: 2, Decode: 2}
	if edit != nil {
		edit(&c)
	}
	return c
}

func TestPDConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(*PDConfig)
		wantErr string
	}{
		{name: "2P2D against 4"},
		{name: "3P1D against 4", edit: func(c *PDConfig) { c.Prefill, c.Decode = 3, 1 }},
		{name: "a variant as the policy", edit: func(c *PDConfig) {
			c.Policies, c.RouterVariants = []string{"aff"}, map[string][]byte{"aff": []byte("profile: {}\n")}
		}},
		{name: "two policies", edit: func(c *PDConfig) { c.Policies = []string{"tandem", "random"} }, wantErr: "give one router policy"},
		{name: "no decode engine", edit: func(c *PDConfig) { c.Prefill, c.Decode = 4, 0 }, wantErr: "at least one prefill and one decode"},
		{name: "more engines disaggregated", edit: func(c *PDConfig) { c.Prefill, c.Decode = 3, 2 }, wantErr: "3P2D is 5 engines but the aggregated fleet has 4"},
		{name: "layouts given", edit: func(c *PDConfig) { c.Layouts = map[string][]Placement{"x": nil} }, wantErr: "layouts are the benchmark's own"},
		{name: "unknown policy", edit: func(c *PDConfig) { c.Policies = []string{"sticky"} }, wantErr: `router policy "sticky"`},
		{name: "bad engine", edit: func(c *PDConfig) { c.Sim.TimeScale = -1 }, wantErr: "time scale"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pdConfig(tc.edit)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("want no error, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPDArms(t *testing.T) {
	cases := []struct {
		name     string
		edit     func(*PDConfig)
		wantConf string
	}{
		{name: "preset", wantConf: "policy: tandem\n"},
		{name: "variant", edit: func(c *PDConfig) {
			c.Policies, c.RouterVariants = []string{"aff"}, map[string][]byte{"aff": []byte("profile: {}\n")}
		}, wantConf: "profile: {}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pdConfig(tc.edit)
			p := cfg.arms()
			if diff := cmp.Diff([]string{"aggregated", "2P2D"}, p.Policies); diff != "" {
				t.Errorf("labels, the aggregated fleet first (-want +got):\n%s", diff)
			}
			want := map[string][]byte{"aggregated": []byte(tc.wantConf), "2P2D": []byte(tc.wantConf)}
			if diff := cmp.Diff(want, p.RouterVariants); diff != "" {
				t.Errorf("both fleets run the same router configuration (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[string][]Placement{"2P2D": PDLayout(2, 2)}, p.Layouts); diff != "" {
				t.Errorf("layouts (-want +got):\n%s", diff)
			}
			if p.Engines != 4 || p.Sim.Engine != cfg.Sim.Engine {
				t.Errorf("engines %d, engine model changed: the fleets must differ only in roles", p.Engines)
			}
		})
	}
}

func TestPDLayout(t *testing.T) {
	p := func(role, unit string) Placement { return Placement{Role: role, Group: "pd", Unit: unit} }
	cases := []struct {
		name            string
		prefill, decode int
		want            []Placement
	}{
		{"2P2D pairs units", 2, 2, []Placement{p("prefill", "0"), p("prefill", "1"), p("decode", "0"), p("decode", "1")}},
		{"3P1D one unit", 3, 1, []Placement{p("prefill", "0"), p("prefill", "0"), p("prefill", "0"), p("decode", "0")}},
		{"2P4D two units", 2, 4, []Placement{p("prefill", "0"), p("prefill", "1"), p("decode", "0"), p("decode", "1"), p("decode", "0"), p("decode", "1")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PDLayout(tc.prefill, tc.decode)); diff != "" {
				t.Errorf("PDLayout(%d, %d) (-want +got):\n%s", tc.prefill, tc.decode, diff)
			}
		})
	}
}

func TestEndpointsFile(t *testing.T) {
	data, err := EndpointsFile("m", []string{"h:1", "h:2"}, PDLayout(1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"models": []any{"m"}, "endpoints": []any{
		map[string]any{"address": "h:1", "role": "prefill", "group": "pd", "unit": "0"},
		map[string]any{"address": "h:2", "role": "decode", "group": "pd", "unit": "0"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpoints file (-want +got):\n%s", diff)
	}
	if _, err := EndpointsFile("m", []string{"h:1"}, PDLayout(1, 1), nil); err == nil {
		t.Error("2 placements for 1 engine: want an error")
	}

	data, err = EndpointsFile("m", []string{"h:1", "h:2"}, nil, []int{5601, 5602})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"models": []any{"m"}, "endpoints": []any{
		map[string]any{"address": "h:1", "kvEventsPort": float64(5601)},
		map[string]any{"address": "h:2", "kvEventsPort": float64(5602)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpoints file with KV events ports (-want +got):\n%s", diff)
	}
	if _, err := EndpointsFile("m", []string{"h:1"}, nil, []int{1, 2}); err == nil {
		t.Error("2 KV events ports for 1 engine: want an error")
	}
}

func TestBusiestShare(t *testing.T) {
	got := busiestShare([]EngineStats{
		{Role: "both", Requests: 300}, {Role: "both", Requests: 100}, {Role: "both"}, {Role: "both"},
		{Role: "prefill", Requests: 60}, {Role: "prefill", Requests: 40}, {Role: "decode"},
	})
	// both: 300 of a mean 100; prefill: 60 of 50; decode finished nothing.
	if diff := cmp.Diff(map[string]float64{"both": 3, "prefill": 1.2}, got); diff != "" {
		t.Errorf("busiestShare (-want +got):\n%s", diff)
	}
}

// pdRun is a small builder of one fleet's run for tests.
func pdRun(fleet string, rep int, ttftP90, itlP99 float64) load.RunSummary {
	return load.RunSummary{
		Policy: fleet, Rep: rep, Rate: 100, Requests: 10, OK: 10, RequestRate: 90,
		TTFT: load.Latency{P90: load.Num(ttftP90)}, ITL: load.Latency{P99: load.Num(itlP99)}, HitRate: load.Num(math.NaN()),
	}
}

func TestPDRowsAndReport(t *testing.T) {
	runs := []load.RunSummary{
		pdRun("aggregated", 1, 40, 30), pdRun("2P2D", 1, 50, 3),
		pdRun("aggregated", 2, 60, 20), pdRun("2P2D", 2, 66, 4),
	}
	agg := []EngineStats{{Role: "both", Requests: 7}, {Role: "both", Requests: 1}, {Role: "both", Requests: 1}, {Role: "both", Requests: 1}}
	pd := []EngineStats{{Role: "prefill", Requests: 5}, {Role: "prefill", Requests: 4}, {Role: "decode", Requests: 5}, {Role: "decode", Requests: 5}}
	routers := []RouterRun{
		{Engines: agg}, {Engines: pd, Metrics: RouterMetrics{PD: map[string]float64{"disaggregated": 9, "no-prefill-aggregated": 1}}},
		{Engines: agg}, {Engines: pd, Metrics: RouterMetrics{PD: map[string]float64{"disaggregated": 10}}},
	}
	res := PoliciesResult{Report: &load.Report{Workload: load.DefaultSpec(load.Random), Policies: []string{"aggregated", "2P2D"}, Runs: runs}, Routers: routers}
	rows := PDRows(res)
	if len(rows) != 2 || rows[0].Policy != "aggregated" || rows[1].Policy != "2P2D" {
		t.Fatalf("want a row per fleet, aggregated first; got %+v", rows)
	}
	value := func(row PolicyRow, name string, ratios bool) float64 {
		for i, m := range pdMetrics {
			if m == name && ratios {
				return float64(row.Ratios[i])
			} else if m == name {
				return float64(row.Values[i])
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	pdRow := rows[1]
	got := map[string]float64{
		"TTFT p90 median": value(pdRow, "TTFT p90 ms", false), // 50, 66
		"ITL p99 median":  value(pdRow, "ITL p99 ms", false),  // 3, 4
		"TTFT p90 ratio":  value(pdRow, "TTFT p90 ms", true),  // 50/40, 66/60
		"ITL p99 ratio":   value(pdRow, "ITL p99 ms", true),   // 3/30, 4/20
		"prefill share":   PrefillShare(pdRow),                // 19 of 20
		"busiest prefill": float64(pdRow.Busiest["prefill"]),  // 5 of a mean 4.5
		"busiest both":    float64(rows[0].Busiest["both"]),   // 7 of a mean 2.5
	}
	want := map[string]float64{
		"TTFT p90 median": 58, "ITL p99 median": 3.5, "TTFT p90 ratio": (1.25 + 1.1) / 2, "ITL p99 ratio": (0.1 + 0.2) / 2,
		"prefill share": 0.95, "busiest prefill": 5 / 4.5, "busiest both": 2.8,
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("P/D rows (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]uint64{"prefill": 18, "decode": 20}, pdRow.Served); diff != "" {
		t.Errorf("served by role, summed (-want +got):\n%s", diff)
	}
	if !math.IsNaN(PrefillShare(rows[0])) || rows[0].PD != nil {
		t.Errorf("aggregated fleet: prefill share %v, decisions %v; want none", PrefillShare(rows[0]), rows[0].PD)
	}

	var buf bytes.Buffer
	if err := PrintPD(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"×aggregated ITL p99", "disaggregated 0.95, no-prefill-aggregated 0.05", "decode 20, prefill 18",
		"both 2.800", "policy = the fleet"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, buf.String())
		}
	}
	if err := json.NewEncoder(&bytes.Buffer{}).Encode(rows); err != nil {
		t.Errorf("rows must encode as JSON (NaN as null): %v", err)
	}
}

func TestPDFlagDefaults(t *testing.T) {
	// The defaults are set through the flags, so that they show in -h and
	// count as given for the workload; the command line goes over them.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg := PDConfig{PoliciesConfig: PoliciesConfig{Sim: sim.DefaultConfig()}}
	f := bindPolicyFlags(fs, &cfg.PoliciesConfig)
	if err := setDefaults(fs, pdDefaults); err != nil {
		t.Fatal(err)
	}
	if got := fs.Lookup("input-tokens").DefValue; got != "4000" {
		t.Errorf("-h shows input-tokens default %q, want 4000", got)
	}
	if err := fs.Parse([]string{"--output-tokens", "128"}); err != nil {
		t.Fatal(err)
	}
	if err := f.complete(fs, &cfg.PoliciesConfig, 1); err != nil {
		t.Fatal(err)
	}
	w := cfg.Workloads
	if len(w) != 1 || w[0].Kind != load.Random || w[0].InputTokens != 4000 || w[0].OutputTokens != 128 || len(cfg.SweepRates) == 0 ||
		cfg.Sim.Engine.NumBlocks != sim.DefaultConfig().Engine.NumBlocks {
		t.Errorf("router-pd defaults: workloads %+v, sweep %v, KV blocks %d", w, cfg.SweepRates, cfg.Sim.Engine.NumBlocks)
	}
}
