package routerbench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
)

// RouterMetrics are the figures the benchmarks read from tandem-router's
// /metrics (names in router/README.md).
type RouterMetrics struct {
	// Endpoints and Fresh count endpoints with per-endpoint gauges, and
	// those whose engine metrics are fresh: the router is ready to route
	// by load when Fresh equals the fleet.
	Endpoints, Fresh int
	// Exact counts endpoints whose exact-mode index is trusted
	// (tandem_router_kv_index_state{state="exact"} 1).
	Exact int
	// Picks are tandem_router_picks_total by reason, summed over policies.
	Picks map[string]float64
	// PromptTokens and CachedTokens are the router's own estimate of the
	// prompt tokens routed and found in its prefix index.
	PromptTokens, CachedTokens float64
	// Retries is tandem_router_retries_total over every cause.
	Retries float64
	// Requests is tandem_router_requests_total by status code.
	Requests map[string]float64
	// PD is tandem_router_prefill_decode_total by decision
	// (disaggregated, local-prefill, no-prefill-aggregated, ...): what the
	// router did with each request of a model that has decode endpoints.
	PD map[string]float64
	// TokenSources is tandem_router_exact_token_sources_total by source
	// and Fallbacks tandem_router_tokenize_fallbacks_total by reason: in
	// exact mode, how often the router asked the engine's /tokenize, used
	// its token cache, let the approximate index decide, or fell back.
	TokenSources, Fallbacks map[string]float64
}

// Sub is the change from before to m (counters differenced).
func (m RouterMetrics) Sub(before RouterMetrics) RouterMetrics {
	out := m
	out.PromptTokens -= before.PromptTokens
	out.CachedTokens -= before.CachedTokens
	out.Retries -= before.Retries
	out.Picks = subMap(m.Picks, before.Picks)
	out.Requests = subMap(m.Requests, before.Requests)
	out.PD = subMap(m.PD, before.PD)
	out.TokenSources = subMap(m.TokenSources, before.TokenSources)
	out.Fallbacks = subMap(m.Fallbacks, before.Fallbacks)
	return out
}

func subMap(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// EstimatedHitRate is the router's own estimate of the prefix-cache hit
// rate: cached over prompt tokens; NaN with no prompt tokens.
func (m RouterMetrics) EstimatedHitRate() float64 {
	return ratio(m.CachedTokens, m.PromptTokens)
}

// PicksText lists the picks by reason as shares, largest first, e.g.
// "cache-affinity 0.91, load-balance 0.09".
func (m RouterMetrics) PicksText() string { return sharesText(m.Picks) }

// sharesText lists counts as shares of their sum, largest first, "-" for
// none.
func sharesText(counts map[string]float64) string {
	total := 0.0
	for _, v := range counts {
		total += v
	}
	if total == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(counts))
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case counts[a] > counts[b]:
			return -1
		case counts[a] < counts[b]:
			return 1
		}
		return 0
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", k, counts[k]/total)
	}
	return strings.Join(parts, ", ")
}

// ParseRouterMetrics reads RouterMetrics from Prometheus text exposition.
func ParseRouterMetrics(r io.Reader) (RouterMetrics, error) {
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return RouterMetrics{}, err
	}
	m := RouterMetrics{Picks: map[string]float64{}, Requests: map[string]float64{}, PD: map[string]float64{},
		TokenSources: map[string]float64{}, Fallbacks: map[string]float64{}}
	// Getters of absent parts are zero, so summing all three value kinds
	// reads counters, gauges and untyped samples alike.
	for _, s := range families["tandem_router_endpoint_metrics_fresh"].GetMetric() {
		m.Endpoints++
		if s.GetGauge().GetValue()+s.GetUntyped().GetValue() == 1 {
			m.Fresh++
		}
	}
	for _, s := range families["tandem_router_kv_index_state"].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "state" && l.GetValue() == "exact" && s.GetGauge().GetValue()+s.GetUntyped().GetValue() == 1 {
				m.Exact++
			}
		}
	}
	sum := func(name string, by string, into map[string]float64) float64 {
		total := 0.0
		for _, s := range families[name].GetMetric() {
			v := s.GetCounter().GetValue() + s.GetGauge().GetValue() + s.GetUntyped().GetValue()
			total += v
			if into == nil {
				continue
			}
			for _, l := range s.GetLabel() {
				if l.GetName() == by {
					into[l.GetValue()] += v
				}
			}
		}
		return total
	}
	sum("tandem_router_picks_total", "reason", m.Picks)
	sum("tandem_router_requests_total", "code", m.Requests)
	sum("tandem_router_prefill_decode_total", "decision", m.PD)
	sum("tandem_router_exact_token_sources_total", "source", m.TokenSources)
	sum("tandem_router_tokenize_fallbacks_total", "reason", m.Fallbacks)
	m.PromptTokens = sum("tandem_router_prompt_tokens_total", "", nil)
	m.CachedTokens = sum("tandem_router_cached_tokens_total", "", nil)
	m.Retries = sum("tandem_router_retries_total", "", nil)
	return m, nil
}

// errorsText formats error counts as "kind:n,kind:n" in key order, "-"
// for none.
func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	keys := slices.Sorted(maps.Keys(errs))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(errs[k])
	}
	return strings.Join(parts, ",")
}
