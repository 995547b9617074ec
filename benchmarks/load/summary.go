package load

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Num is a float64 that encodes NaN and ±Inf (nothing measured) as JSON
// null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 6, 64), nil
}

// Latency summarizes a latency sample in milliseconds.
type Latency struct {
	N    int `json:"n"`
	Mean Num `json:"mean"`
	P50  Num `json:"p50"`
	P90  Num `json:"p90"`
	P99  Num `json:"p99"`
	Max  Num `json:"max"`
}

func latency(values []float64) Latency {
	s := Summarize(values)
	return Latency{N: s.N, Mean: Num(s.Mean), P50: Num(s.P50), P90: Num(s.P90), P99: Num(s.P99), Max: Num(s.Max)}
}

// RunSummary is the figures of one run.
type RunSummary struct {
	Policy string `json:"policy"`
	Rep    int    `json:"rep"`
	// Rate is the offered arrival rate (requests/s); NaN for closed loop.
	Rate     Num            `json:"offered_rate"`
	Requests int            `json:"requests"`
	OK       int            `json:"ok"`
	Errors   map[string]int `json:"errors,omitempty"`
	// Seconds is the span from the first send to the last end.
	Seconds Num `json:"seconds"`
	// Throughput of successful requests: requests, generated tokens, and
	// prompt plus generated tokens per second.
	RequestRate     Num `json:"request_rate"`
	OutputTokenRate Num `json:"output_token_rate"`
	TotalTokenRate  Num `json:"total_token_rate"`
	// Client-side latencies of successful requests, ms; ITL pools every gap.
	TTFT Latency `json:"ttft_ms"`
	ITL  Latency `json:"itl_ms"`
	E2E  Latency `json:"e2e_ms"`
	// PerTarget counts requests sent to each target.
	PerTarget []int `json:"per_target"`
	// Engines is the fleet's metrics over the run (counters differenced).
	Engines EngineMetrics `json:"engines"`
	// HitRate is the fleet's prefix-cache hits over queries during the run;
	// NaN when no engine reported any.
	HitRate Num          `json:"hit_rate"`
	Oracle  OracleResult `json:"oracle"`
}

// summarize reduces one run's results.
func summarize(policy string, rep int, rate float64, results []Result, elapsed time.Duration, targets []string) RunSummary {
	s := RunSummary{Policy: policy, Rep: rep, Rate: Num(rate), Requests: len(results), PerTarget: make([]int, len(targets))}
	var ttft, itl, e2e []float64
	var out, prompt int
	targetIndex := map[string]int{}
	for i, t := range targets {
		targetIndex[t] = i
	}
	for _, r := range results {
		if r.Err != "" {
			if s.Errors == nil {
				s.Errors = map[string]int{}
			}
			s.Errors[r.Err]++
		} else {
			s.OK++
			out += r.OutputTokens
			prompt += r.PromptTokens
			ttft = append(ttft, ms(r.TTFT))
			e2e = append(e2e, ms(r.E2E))
			for _, g := range r.ITL {
				itl = append(itl, ms(g))
			}
		}
		if i, ok := targetIndex[r.Target]; ok && r.Err != "not_sent" {
			s.PerTarget[i]++
		}
	}
	secs := elapsed.Seconds()
	s.Seconds = Num(secs)
	s.RequestRate, s.OutputTokenRate, s.TotalTokenRate = Num(math.NaN()), Num(math.NaN()), Num(math.NaN())
	if secs > 0 {
		s.RequestRate = Num(float64(s.OK) / secs)
		s.OutputTokenRate = Num(float64(out) / secs)
		s.TotalTokenRate = Num(float64(out+prompt) / secs)
	}
	s.TTFT, s.ITL, s.E2E = latency(ttft), latency(itl), latency(e2e)
	s.HitRate = Num(math.NaN())
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Metric reads one figure of a run by name, for medians, ratios and CSV.
type Metric struct {
	Name string
	// Better is +1 when larger is better, −1 when smaller is.
	Better int
	Get    func(RunSummary) float64
}

// Metrics are the figures tables and ratios show.
var Metrics = []Metric{
	{"req/s", +1, func(s RunSummary) float64 { return float64(s.RequestRate) }},
	{"out tok/s", +1, func(s RunSummary) float64 { return float64(s.OutputTokenRate) }},
	{"TTFT p50 ms", -1, func(s RunSummary) float64 { return float64(s.TTFT.P50) }},
	{"TTFT p90 ms", -1, func(s RunSummary) float64 { return float64(s.TTFT.P90) }},
	{"TTFT p99 ms", -1, func(s RunSummary) float64 { return float64(s.TTFT.P99) }},
	{"ITL p50 ms", -1, func(s RunSummary) float64 { return float64(s.ITL.P50) }},
	{"ITL p90 ms", -1, func(s RunSummary) float64 { return float64(s.ITL.P90) }},
	{"ITL p99 ms", -1, func(s RunSummary) float64 { return float64(s.ITL.P99) }},
	{"E2E p50 ms", -1, func(s RunSummary) float64 { return float64(s.E2E.P50) }},
	{"E2E p90 ms", -1, func(s RunSummary) float64 { return float64(s.E2E.P90) }},
	{"E2E p99 ms", -1, func(s RunSummary) float64 { return float64(s.E2E.P99) }},
	{"hit rate", +1, func(s RunSummary) float64 { return float64(s.HitRate) }},
	{"oracle inf", +1, func(s RunSummary) float64 { return s.Oracle.Infinite }},
	{"oracle LRU", +1, func(s RunSummary) float64 { return s.Oracle.LRU }},
	{"hit/oracle inf", +1, func(s RunSummary) float64 { return float64(s.HitRate) / s.Oracle.Infinite }},
	{"hit/oracle LRU", +1, func(s RunSummary) float64 { return float64(s.HitRate) / s.Oracle.LRU }},
}

// Ratio is one metric of a policy against the baseline policy: the median
// over repetitions of the per-repetition ratio policy ÷ baseline, each
// ratio taken between runs of the same repetition (run back to back).
type Ratio struct {
	Policy string `json:"policy"`
	Metric string `json:"metric"`
	Median Num    `json:"median"`
	// PerRep are the repetitions' ratios in order.
	PerRep []Num `json:"per_rep"`
}

// Ratios compares every policy's runs with the baseline policy's runs of
// the same repetition (and the same rate, for sweeps: pass one rate's runs).
func Ratios(runs []RunSummary, baseline string) []Ratio {
	base := map[int]RunSummary{}
	var policies []string
	for _, r := range runs {
		if r.Policy == baseline {
			base[r.Rep] = r
		}
		if !slices.Contains(policies, r.Policy) {
			policies = append(policies, r.Policy)
		}
	}
	var out []Ratio
	for _, p := range policies {
		if p == baseline {
			continue
		}
		for _, m := range Metrics {
			ratio := Ratio{Policy: p, Metric: m.Name}
			var vals []float64
			for _, r := range runs {
				b, ok := base[r.Rep]
				if r.Policy != p || !ok {
					continue
				}
				v := m.Get(r) / m.Get(b)
				ratio.PerRep = append(ratio.PerRep, Num(v))
				vals = append(vals, v)
			}
			ratio.Median = Num(Median(vals))
			out = append(out, ratio)
		}
	}
	return out
}
