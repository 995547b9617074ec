package router

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/kvindex"
)

// Bucket boundaries sized for LLM serving: a cached short prompt answers in
// milliseconds, a long queued one in minutes.
var (
	ttftBuckets     = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640}
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560}
	overheadBuckets = []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2}
	// tokenizeBuckets: an engine tokenizes a short prompt in well under a
	// millisecond and 200 KB in tens; the default timeout is 50 ms.
	tokenizeBuckets = []float64{2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1}
	// flowWaitBuckets: a queued request is let go within a tick (5 ms) when
	// an endpoint has room, or waits up to flowControl.maxWait (5 s default,
	// configurable to minutes).
	flowWaitBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}
)

// Metrics are the router's Prometheus metrics, all named tandem_router_*.
type Metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	picks       *prometheus.CounterVec
	retries     *prometheus.CounterVec
	refused     *prometheus.CounterVec
	pd          *prometheus.CounterVec
	scheduling  prometheus.Histogram
	promptTok   *prometheus.CounterVec
	cachedTok   *prometheus.CounterVec
	transitions *prometheus.CounterVec
	scrapes     *prometheus.CounterVec
	streamErrs  *prometheus.CounterVec
	kvEvents    *prometheus.CounterVec
	tokenSource *prometheus.CounterVec
	tokFallback *prometheus.CounterVec
	tokenize    *prometheus.HistogramVec
	tokMismatch *prometheus.CounterVec
	// tenantRequests is labelled by tenant.Identity.Label: configured
	// names only, so clients cannot mint label values.
	tenantRequests *prometheus.CounterVec
	flowQueue      *prometheus.GaugeVec
	flowQuiet      *prometheus.GaugeVec
	flowWait       *prometheus.HistogramVec
	flowDrops      *prometheus.CounterVec
	zeroHeld       *prometheus.GaugeVec
	zeroWait       *prometheus.HistogramVec
}

// NewMetrics registers the router's metrics in a new registry; snapshot
// feeds the per-endpoint gauges at scrape time.
func NewMetrics(snapshot func() *endpoint.Snapshot, staleAfter time.Duration) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_router_" + name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_router_" + name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.requests = counter("requests_total", "Completion requests answered, by model (empty when unknown) and HTTP status code.", "model", "code")
	m.duration = histogram("request_duration_seconds", "Time from receiving a completion request to its last byte, by model.", durationBuckets, "model")
	m.ttft = histogram("time_to_first_token_seconds", "Time from receiving a streamed request to relaying its first event, by model.", ttftBuckets, "model")
	m.picks = counter("picks_total", "Scheduling decisions, by policy and reason: cache-affinity (the best endpoint also held the longest prefix), load-balance (load outweighed a longer prefix elsewhere), no-cache, explore, random, round-robin, only-candidate, no-candidate.", "policy", "reason")
	m.retries = counter("retries_total", "Requests sent again to another endpoint before their first byte reached the client, by model and cause (connect, status, first-byte, breaker).", "model", "cause")
	m.refused = counter("refused_total", "Requests refused by the router itself, by reason: saturated (429, all endpoints full), tenant-rate, tenant-in-flight, fair-share, no-endpoint (503), unknown-model, bad-request, too-large, unauthorized.", "reason")
	m.pd = counter("prefill_decode_total", "Prefill/decode dispatch decisions for disaggregated models, by model and decision: disaggregated, local-prefill (uncached part below threshold), and when prefill was wanted but impossible (no-prefill: none healthy; prefill-failed: it failed) what the noPrefill policy did: -aggregated (the decode endpoint prefilled) or -refused (503).", "model", "decision")
	m.scheduling = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tandem_router_scheduling_duration_seconds", Help: "Router overhead before forwarding: parsing, hashing and picking an endpoint.", Buckets: overheadBuckets,
	})
	m.reg.MustRegister(m.scheduling)
	m.promptTok = counter("prompt_tokens_total", "Estimated prompt tokens routed, by model; with cached_tokens_total gives the estimated prefix cache hit rate.", "model")
	m.cachedTok = counter("cached_tokens_total", "Estimated prompt tokens the chosen endpoint already held per the prefix index, by model.", "model")
	m.transitions = counter("breaker_transitions_total", "Circuit breaker transitions, by endpoint and new state (closed, open, half-open).", "endpoint", "state")
	m.scrapes = counter("scrapes_total", "Engine metric scrapes, by endpoint and result (ok, error).", "endpoint", "result")
	m.streamErrs = counter("stream_errors_total", "Streams cut after their first byte (ended with an error event), by model.", "model")
	m.kvEvents = counter("kv_events_total", "KV event messages received in exact mode, by endpoint and result (ok, gap: batches were lost, error).", "endpoint", "result")
	m.tokenSource = counter("exact_token_sources_total", "Exact mode: where each request's prompt token ids came from, by source: cache (whole prompt cached), prefix-cache (a conversation's cached history), engine (the engine's /tokenize), token-ids (the prompt was ids), skipped-no-prefix and skipped-whole-prompt (the approximate index decided: no endpoint holds any of the prompt, or an endpoint holds all of it), skipped-degraded (no endpoint's exact index is trusted).", "source")
	m.tokFallback = counter("tokenize_fallbacks_total", "Exact mode: requests routed by the approximate index because their token ids could not be had, by reason: timeout, error (connection or HTTP status), unsupported (a batch of prompts), no-endpoint.", "reason")
	m.tokenize = histogram("tokenize_duration_seconds", "Engine /tokenize calls made in exact mode, by result (ok, error).", tokenizeBuckets, "result")
	m.tokMismatch = counter("tokenize_prefix_mismatches_total", "Exact mode: models whose chat template failed the check of a conversation's reused history tokens; their prefix reuse is off until restart.", "model")
	m.flowQueue = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tandem_router_flow_queue_length", Help: "Flow control: requests waiting in the router, by model, because every endpoint of it is at its efficient load.",
	}, []string{"model"})
	m.reg.MustRegister(m.flowQueue)
	m.flowQuiet = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tandem_router_flow_quiet_endpoints", Help: "Flow control: endpoints of the model kept for tenants within their share while another tenant is over its share and requests wait (flowControl.quietFactor).",
	}, []string{"model"})
	m.reg.MustRegister(m.flowQuiet)
	m.flowWait = histogram("flow_wait_duration_seconds", "Flow control: time a request waited in its model's queue before it was let go, by model (requests that never waited and those refused are not counted).", flowWaitBuckets, "model")
	m.flowDrops = counter("flow_dropped_total", "Flow control: requests that left the queue refused, by model and reason: queue-full (429 on arrival), queue-timeout (429 after flowControl.maxWait), queue-overload (429 after flowControl.overloadWait in a queue busy for flowControl.overloadAfter), canceled (the client went away).", "model", "reason")
	m.zeroHeld = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tandem_router_scale_from_zero_held_requests", Help: "Requests held in the router, by model, because the model's ServingGroup has no ready endpoint (scaled to zero or starting); the autoscaler reads it as demand.",
	}, []string{"model"})
	m.reg.MustRegister(m.zeroHeld)
	m.zeroWait = histogram("scale_from_zero_wait_seconds", "Time a request was held for a model without a ready endpoint, by model and outcome: served (an endpoint appeared), timeout (503 after scaleFromZero.maxWait), gone (the model's group went away: 404), canceled (the client left).", flowWaitBuckets, "model", "outcome")
	m.tenantRequests = counter("tenant_requests_total", "Completion requests by the tenant the router identified (API key, or header from a trusted peer): a configured tenant's name, default, or unlisted for header-named tenants without an entry in tenants.list. Counted before limits and shedding.", "tenant")
	m.reg.MustRegister(&endpointCollector{snapshot: snapshot, staleAfter: staleAfter})
	return m
}

// Registry is where the metrics live.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

var codes [600]string

func init() {
	for i := range codes {
		codes[i] = strconv.Itoa(i)
	}
}

func codeLabel(status int) string {
	if status >= 0 && status < len(codes) {
		return codes[status]
	}
	return strconv.Itoa(status)
}

func (m *Metrics) breakerChanged(e *endpoint.Endpoint, _, to breaker.State) {
	m.transitions.WithLabelValues(e.Name, to.String()).Inc()
}

func (m *Metrics) scraped(e *endpoint.Endpoint, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.scrapes.WithLabelValues(e.Name, result).Inc()
}

var (
	descEndpoints = prometheus.NewDesc("tandem_router_endpoints", "Endpoints known per model and role (both, prefill, decode).", []string{"model", "role"}, nil)
	descInFlight  = prometheus.NewDesc("tandem_router_endpoint_in_flight_requests", "The router's open requests at each endpoint.", []string{"endpoint"}, nil)
	descQueued    = prometheus.NewDesc("tandem_router_endpoint_queued_tokens", "Estimated uncached prompt tokens the router sent to each endpoint that have not produced a first token.", []string{"endpoint"}, nil)
	descContext   = prometheus.NewDesc("tandem_router_endpoint_context_tokens", "Estimated KV the router's open requests at each endpoint will hold: prompt tokens plus max_tokens each (flowControl.kvFill).", []string{"endpoint"}, nil)
	descBreaker   = prometheus.NewDesc("tandem_router_breaker_state", "Circuit breaker state per endpoint: 0 closed, 1 open, 2 half-open.", []string{"endpoint"}, nil)
	descIndex     = prometheus.NewDesc("tandem_router_prefix_index_blocks", "Prompt blocks in each endpoint's prefix index.", []string{"endpoint"}, nil)
	descRate      = prometheus.NewDesc("tandem_router_prefill_rate_tokens_per_second", "Learned prefill rate per endpoint (the TTFT model's denominator).", []string{"endpoint"}, nil)
	descLimit     = prometheus.NewDesc("tandem_router_endpoint_concurrency_limit", "Concurrency limit each endpoint's TTFT taught flow control (0: none learned yet).", []string{"endpoint"}, nil)
	descFresh     = prometheus.NewDesc("tandem_router_endpoint_metrics_fresh", "1 when the endpoint's last metrics scrape is within the staleness cutoff, else 0.", []string{"endpoint"}, nil)
	descExact     = prometheus.NewDesc("tandem_router_kv_index_state", "Exact-mode index state per endpoint, 1 for the current state: exact, or degraded as disconnected, resyncing (batches were lost) or silent (work sent, no events since).", []string{"endpoint", "state"}, nil)
	descExactSize = prometheus.NewDesc("tandem_router_kv_index_blocks", "Engine KV blocks in each endpoint's exact index.", []string{"endpoint"}, nil)
)

// endpointCollector reads per-endpoint gauges from the current snapshot at
// scrape time, so removed endpoints disappear from /metrics.
type endpointCollector struct {
	snapshot   func() *endpoint.Snapshot
	staleAfter time.Duration
}

func (c *endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEndpoints, descInFlight, descQueued, descContext, descBreaker, descIndex, descRate, descLimit, descFresh, descExact, descExactSize} {
		ch <- d
	}
}

func (c *endpointCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snapshot()
	now := time.Now()
	counts := map[string]map[endpoint.Role]int{}
	for _, e := range snap.All {
		for _, model := range e.ServedModels() {
			if counts[model] == nil {
				counts[model] = map[endpoint.Role]int{}
			}
			counts[model][e.Role]++
		}
	}
	for _, model := range snap.Models() {
		for _, role := range []endpoint.Role{endpoint.RoleBoth, endpoint.RolePrefill, endpoint.RoleDecode} {
			ch <- prometheus.MustNewConstMetric(descEndpoints, prometheus.GaugeValue, float64(counts[model][role]), model, string(role))
		}
	}
	for _, e := range snap.All {
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, e.Name)
		}
		gauge(descInFlight, float64(e.InFlight.Load()))
		gauge(descQueued, float64(e.QueuedTokens.Load()))
		gauge(descContext, float64(e.ContextTokens.Load()))
		gauge(descBreaker, float64(e.Breaker.State()))
		gauge(descIndex, float64(e.Index.Len()))
		gauge(descRate, e.Rate.TokensPerSecond())
		gauge(descLimit, e.Limit.Value())
		fresh := 0.0
		if _, ok := e.Engine(now, c.staleAfter); ok {
			fresh = 1
		}
		gauge(descFresh, fresh)
		if e.Exact != nil {
			gauge(descExactSize, float64(e.Exact.Len()))
			state := e.Exact.State(now)
			for _, s := range []kvindex.State{kvindex.Exact, kvindex.Disconnected, kvindex.Resyncing, kvindex.Silent} {
				v := 0.0
				if s == state {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descExact, prometheus.GaugeValue, v, e.Name, string(s))
			}
		}
	}
}
