package routerbench

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const routerMetricsText = `# HELP tandem_router_endpoint_metrics_fresh 1 when fresh.
# TYPE tandem_router_endpoint_metrics_fresh gauge
tandem_router_endpoint_metrics_fresh{endpoint="a"} 1
tandem_router_endpoint_metrics_fresh{endpoint="b"} 0
tandem_router_endpoint_metrics_fresh{endpoint="c"} 1
# TYPE tandem_router_kv_index_state gauge
tandem_router_kv_index_state{endpoint="a",state="exact"} 1
tandem_router_kv_index_state{endpoint="a",state="silent"} 0
tandem_router_kv_index_state{endpoint="b",state="exact"} 0
tandem_router_kv_index_state{endpoint="b",state="silent"} 1
# TYPE tandem_router_picks_total counter
tandem_router_picks_total{policy="tandem",reason="cache-affinity"} 6
tandem_router_picks_total{policy="tandem",reason="load-balance"} 2
# TYPE tandem_router_requests_total counter
tandem_router_requests_total{code="200",model="m"} 8
tandem_router_requests_total{code="429",model="m"} 1
# TYPE tandem_router_prompt_tokens_total counter
tandem_router_prompt_tokens_total{model="m"} 1000
# TYPE tandem_router_cached_tokens_total counter
tandem_router_cached_tokens_total{model="m"} 750
# TYPE tandem_router_retries_total counter
tandem_router_retries_total{cause="connect",model="m"} 2
tandem_router_retries_total{cause="status",model="m"} 1
# TYPE tandem_router_prefill_decode_total counter
tandem_router_prefill_decode_total{decision="disaggregated",model="m"} 7
tandem_router_prefill_decode_total{decision="local-prefill",model="m"} 1
# TYPE tandem_router_exact_token_sources_total counter
tandem_router_exact_token_sources_total{source="engine"} 4
tandem_router_exact_token_sources_total{source="skipped-whole-prompt"} 5
# TYPE tandem_router_tokenize_fallbacks_total counter
tandem_router_tokenize_fallbacks_total{reason="timeout"} 1
`

func TestParseRouterMetrics(t *testing.T) {
	got, err := ParseRouterMetrics(strings.NewReader(routerMetricsText))
	if err != nil {
		t.Fatal(err)
	}
	want := RouterMetrics{
		Endpoints: 3, Fresh: 2, Exact: 1,
		Picks:        map[string]float64{"cache-affinity": 6, "load-balance": 2},
		PromptTokens: 1000, CachedTokens: 750, Retries: 3,
		Requests:     map[string]float64{"200": 8, "429": 1},
		PD:           map[string]float64{"disaggregated": 7, "local-prefill": 1},
		TokenSources: map[string]float64{"engine": 4, "skipped-whole-prompt": 5},
		Fallbacks:    map[string]float64{"timeout": 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseRouterMetrics (-want +got):\n%s", diff)
	}
	if h := got.EstimatedHitRate(); h != 0.75 {
		t.Errorf("EstimatedHitRate = %v, want 0.75", h)
	}
	if s := got.PicksText(); s != "cache-affinity 0.75, load-balance 0.25" {
		t.Errorf("PicksText = %q", s)
	}

	before := RouterMetrics{Picks: map[string]float64{"cache-affinity": 6}, PromptTokens: 400, CachedTokens: 350, Retries: 3,
		Requests: map[string]float64{"200": 2}, PD: map[string]float64{"disaggregated": 3},
		TokenSources: map[string]float64{"engine": 1, "skipped-whole-prompt": 5}, Fallbacks: map[string]float64{"timeout": 1}}
	d := got.Sub(before)
	wantD := RouterMetrics{Endpoints: 3, Fresh: 2, Exact: 1, Picks: map[string]float64{"load-balance": 2}, PromptTokens: 600, CachedTokens: 400,
		Requests: map[string]float64{"200": 6, "429": 1}, PD: map[string]float64{"disaggregated": 4, "local-prefill": 1},
		TokenSources: map[string]float64{"engine": 3}, Fallbacks: map[string]float64{}}
	if diff := cmp.Diff(wantD, d); diff != "" {
		t.Errorf("Sub (-want +got):\n%s", diff)
	}

	empty, err := ParseRouterMetrics(strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(empty.EstimatedHitRate()) || empty.PicksText() != "-" {
		t.Errorf("empty metrics: hit rate %v, picks %q; want NaN and -", empty.EstimatedHitRate(), empty.PicksText())
	}
	if _, err := ParseRouterMetrics(strings.NewReader("not metrics {")); err == nil {
		t.Error("bad text: want an error")
	}
}

func TestProcStat(t *testing.T) {
	before, err := ParseProcStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (CPUTimes{Busy: 150, Total: 1000}); before != want {
		t.Errorf("ParseProcStat = %+v, want %+v", before, want)
	}
	// guest (9th) and guest_nice (10th) are inside user and nice already.
	after, err := ParseProcStat("cpu  250 0 100 850 50 0 0 0 70 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if f := BusyFraction(before, after); f != 0.8 { // 200 busy of 250
		t.Errorf("BusyFraction = %v, want 0.8", f)
	}
	if !math.IsNaN(BusyFraction(before, before)) {
		t.Error("no time passed: want NaN")
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5"} {
		if _, err := ParseProcStat(bad); err == nil {
			t.Errorf("ParseProcStat(%q): want an error", bad)
		}
	}
}
