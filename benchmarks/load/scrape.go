package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/prometheus/common/expfmt"
)

// EngineMetrics are the counters and settings read from one engine's
// /metrics in vLLM's names.
type EngineMetrics struct {
	// PrefixQueries and PrefixHits are vllm:prefix_cache_queries_total and
	// vllm:prefix_cache_hits_total, summed over label sets: prompt tokens
	// looked up and found in the prefix cache.
	PrefixQueries float64 `json:"prefix_queries"`
	PrefixHits    float64 `json:"prefix_hits"`
	// Preemptions is vllm:num_preemptions_total.
	Preemptions float64 `json:"preemptions"`
	// BlockSize and NumGPUBlocks come from vllm:cache_config_info's labels;
	// zero when the engine does not export them.
	BlockSize    int `json:"block_size"`
	NumGPUBlocks int `json:"num_gpu_blocks"`
}

// Sub is the change from before to m: counters subtracted, settings kept.
func (m EngineMetrics) Sub(before EngineMetrics) EngineMetrics {
	m.PrefixQueries -= before.PrefixQueries
	m.PrefixHits -= before.PrefixHits
	m.Preemptions -= before.Preemptions
	return m
}

// maxMetricsBody bounds a /metrics answer.
const maxMetricsBody = 16 << 20

// Scrape reads an engine's /metrics (base URL, no path).
func Scrape(ctx context.Context, hc *http.Client, base string) (EngineMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return EngineMetrics{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return EngineMetrics{}, fmt.Errorf("scrape %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return EngineMetrics{}, fmt.Errorf("scrape %s: status %d", base, resp.StatusCode)
	}
	m, err := ParseMetrics(io.LimitReader(resp.Body, maxMetricsBody))
	if err != nil {
		return EngineMetrics{}, fmt.Errorf("scrape %s: %w", base, err)
	}
	return m, nil
}

// ParseMetrics reads the metrics it needs from Prometheus text exposition.
func ParseMetrics(r io.Reader) (EngineMetrics, error) {
	var p expfmt.TextParser
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return EngineMetrics{}, err
	}
	// Getters of absent samples are zero: summing all three value kinds
	// reads counters, gauges and untyped samples alike.
	sum := func(name string) float64 {
		total := 0.0
		for _, s := range families[name].GetMetric() {
			total += s.GetCounter().GetValue() + s.GetGauge().GetValue() + s.GetUntyped().GetValue()
		}
		return total
	}
	m := EngineMetrics{
		PrefixQueries: sum("vllm:prefix_cache_queries_total"),
		PrefixHits:    sum("vllm:prefix_cache_hits_total"),
		Preemptions:   sum("vllm:num_preemptions_total"),
	}
	if f := families["vllm:cache_config_info"]; f != nil && len(f.Metric) > 0 {
		for _, l := range f.Metric[0].Label {
			switch l.GetName() {
			case "block_size":
				m.BlockSize, _ = strconv.Atoi(l.GetValue())
			case "num_gpu_blocks":
				m.NumGPUBlocks, _ = strconv.Atoi(l.GetValue())
			}
		}
	}
	return m, nil
}
