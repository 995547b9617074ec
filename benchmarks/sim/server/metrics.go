package server

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// Histogram buckets as vLLM V1 declares them (vllm/v1/metrics/loggers.py).
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	e2eBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0,
		30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// Metrics exposes an engine in vLLM's Prometheus names. Latencies are the
// wall-clock times a client sees, so they shrink with the time scale. It is
// the engine's Observer.
type Metrics struct {
	reg  *prometheus.Registry
	ttft prometheus.Histogram
	itl  prometheus.Histogram
	e2e  prometheus.Histogram
}

// NewMetrics registers the histograms and a collector that reads snapshot at
// every scrape.
func NewMetrics(model string, snapshot func() engine.Snapshot) *Metrics {
	labels := prometheus.Labels{"model_name": model}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vllm:time_to_first_token_seconds", Help: "Histogram of time to first token in seconds.",
			ConstLabels: labels, Buckets: ttftBuckets,
		}),
		itl: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vllm:inter_token_latency_seconds", Help: "Histogram of inter-token latency in seconds.",
			ConstLabels: labels, Buckets: itlBuckets,
		}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vllm:e2e_request_latency_seconds", Help: "Histogram of e2e request latency in seconds.",
			ConstLabels: labels, Buckets: e2eBuckets,
		}),
	}
	m.reg.MustRegister(m.ttft, m.itl, m.e2e, &stateCollector{model: model, snapshot: snapshot})
	return m
}

// Registry is where the metrics live, for /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// FirstToken implements engine.Observer.
func (m *Metrics) FirstToken(d time.Duration) { m.ttft.Observe(d.Seconds()) }

// InterToken implements engine.Observer.
func (m *Metrics) InterToken(d time.Duration) { m.itl.Observe(d.Seconds()) }

// Finished implements engine.Observer.
func (m *Metrics) Finished(d time.Duration) { m.e2e.Observe(d.Seconds()) }

type stateCollector struct {
	model    string
	snapshot func() engine.Snapshot
}

var (
	descRunning = prometheus.NewDesc("vllm:num_requests_running",
		"Number of requests in model execution batches.", []string{"model_name"}, nil)
	descWaiting = prometheus.NewDesc("vllm:num_requests_waiting",
		"Number of requests waiting to be processed.", []string{"model_name"}, nil)
	descKVUsage = prometheus.NewDesc("vllm:kv_cache_usage_perc",
		"KV-cache usage. 1 means 100 percent usage.", []string{"model_name"}, nil)
	descGPUCache = prometheus.NewDesc("vllm:gpu_cache_usage_perc",
		"GPU KV-cache usage. 1 means 100 percent usage. Older name of vllm:kv_cache_usage_perc.", []string{"model_name"}, nil)
	descQueries = prometheus.NewDesc("vllm:prefix_cache_queries_total",
		"Prefix cache queries, in terms of number of queried tokens.", []string{"model_name"}, nil)
	descHits = prometheus.NewDesc("vllm:prefix_cache_hits_total",
		"Prefix cache hits, in terms of number of cached tokens.", []string{"model_name"}, nil)
	descPreempt = prometheus.NewDesc("vllm:num_preemptions_total",
		"Cumulative number of preemptions from the engine.", []string{"model_name"}, nil)
	descPrompt = prometheus.NewDesc("vllm:prompt_tokens_total",
		"Number of prefill tokens processed.", []string{"model_name"}, nil)
	descGen = prometheus.NewDesc("vllm:generation_tokens_total",
		"Number of generation tokens processed.", []string{"model_name"}, nil)
	descSuccess = prometheus.NewDesc("vllm:request_success_total",
		"Count of successfully processed requests; finished_reason is always length (the simulator never samples EOS).",
		[]string{"model_name", "finished_reason"}, nil)
	descCacheConfig = prometheus.NewDesc("vllm:cache_config_info",
		"Information of the KV cache configuration; the value is always 1.",
		[]string{"model_name", "block_size", "num_gpu_blocks", "enable_prefix_caching", "cache_dtype"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRunning, descWaiting, descKVUsage, descGPUCache, descQueries,
		descHits, descPreempt, descPrompt, descGen, descSuccess, descCacheConfig} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, c.model)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), c.model)
	}
	gauge(descRunning, float64(s.Running))
	gauge(descWaiting, float64(s.Waiting))
	gauge(descKVUsage, s.KVUsage)
	gauge(descGPUCache, s.KVUsage)
	counter(descQueries, s.Stats.PrefixQueries)
	counter(descHits, s.Stats.PrefixHits)
	counter(descPreempt, s.Stats.Preemptions)
	counter(descPrompt, s.Stats.PromptTokens)
	counter(descGen, s.Stats.GenerationTokens)
	ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.CounterValue, float64(s.Stats.Finished), c.model, "length")
	ch <- prometheus.MustNewConstMetric(descCacheConfig, prometheus.GaugeValue, 1, c.model,
		strconv.Itoa(s.BlockSize), strconv.Itoa(s.NumBlocks), strconv.FormatBool(s.PrefixCaching), "auto")
}
