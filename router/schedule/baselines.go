package schedule

import (
	"math/rand/v2"
)

// Peer baselines: the routing rules of two other Kubernetes LLM routers,
// rebuilt from their published defaults as plugins of this package so that
// the router benchmark can compare them with tandem in the same run, on the
// same engines, prefix index and counters. Each is a reading of the
// sources cited here; none is their code.
//
// llm-d (llm-d/llm-d-inference-scheduler, now named llm-d-router, read at
// commit 520af478, 2026-05-17):
//
//   - Its default scheduling profile (pkg/epp/config/loader/defaults.go, and
//     the same weights in config/charts/epplib/templates/_config.yaml) is
//     queue-scorer weight 2, kv-cache-utilization-scorer weight 2 and
//     prefix-cache-scorer weight 3, picked by the max-score picker (random
//     among equal scores; picker/maxscore/README.md). The queue scorer is
//     min-max normalised over the candidates' scraped waiting queues,
//     (max − q) / (max − min), 1 for all when they are equal
//     (scorer/queuedepth/queue.go); the KV scorer is 1 − KV usage
//     (scorer/kvcacheutilization); the prefix scorer is matched prompt
//     blocks over the prompt's blocks (scorer/prefix/README.md). Preset
//     "llm-d": QueueDepthScorer, KVUsageScorer and PrefixScorer, 2/2/3,
//     max-score.
//   - Its sticky rule is the prefix-cache-affinity filter
//     (filter/prefixcacheaffinity/README.md): keep only the endpoints whose
//     prefix score is at least 0.80, all of them when none is, skip the gate
//     with probability 0.01. Its TTFT gate needs llm-d's latency predictor,
//     which it skips when no prediction exists; what ends stickiness
//     without it is saturation: the utilization detector
//     (flowcontrol/saturationdetector/utilization/README.md, detector.go),
//     which as a scheduling filter drops endpoints whose metrics are stale
//     or whose waiting queue is not below 5 or KV usage not below 0.8
//     (thresholds × (1 + headroom 0)), keeping all when it would drop all.
//     The chart enables the affinity filter (two gates, 0.99 and 0.80) by
//     default only with the latency predictor. Preset "llm-d-sticky": the
//     saturation filter first, then the affinity filter, then llm-d's
//     default scorers: sticky until saturated.
//
// Kthena (volcano-sh/kthena, read at commit 3cc05728, 2026-08-21;
// pkg/kthena-router/scheduler/plugins/least_request.go and prefix_cache.go,
// weights from charts/kthena/charts/networking/templates/kthena-router/
// component/configmap.yaml): the least-request plugin filters out endpoints
// whose engine-reported waiting queue is not below maxWaitingRequests (10)
// and scores base = in-flight + 100 × max(in-flight − running, 0), scaled
// (max − base) / max; the prefix-cache plugin scores matched blocks over the
// prompt's blocks; both weight 1, highest total wins; when the filter drops
// every endpoint the request fails. Preset "kthena": those two (its default
// also enables gpu-usage and least-latency scorers, left out: the baseline
// asked for is least-request + prefix). Kthena scores are integers 0–100 and
// its prefix store reports only the top 5 matching endpoints; with the
// benchmark's few engines and real-valued scores neither matters much and
// neither is copied.

// UtilizationArgs configure the utilization filter.
type UtilizationArgs struct {
	// QueueDepth is the scraped waiting queue at which an endpoint is
	// saturated (llm-d: 5); KVUsage the KV usage fraction (llm-d: 0.8).
	QueueDepth float64 `json:"queueDepth"`
	KVUsage    float64 `json:"kvUsage"`
}

// UtilizationFilter drops endpoints without fresh metrics or whose scraped
// waiting queue or KV usage reaches its threshold, keeping all when it would
// drop all: llm-d's utilization detector used as a scheduling filter.
type UtilizationFilter struct{ args UtilizationArgs }

// NewUtilizationFilter builds the "utilization" filter.
func NewUtilizationFilter(a UtilizationArgs) (Filter, error) {
	if a.QueueDepth <= 0 || a.KVUsage <= 0 || a.KVUsage > 1 {
		return nil, errorf("utilization: queueDepth must be positive and kvUsage within (0, 1]")
	}
	return UtilizationFilter{args: a}, nil
}

func (UtilizationFilter) Name() string { return "utilization" }

func (f UtilizationFilter) Filter(_ *Request, cands []Candidate) []Candidate {
	ok := func(c *Candidate) bool {
		return c.Fresh && c.Engine.Waiting < f.args.QueueDepth && c.Engine.KVUsage < f.args.KVUsage
	}
	return keepOrAll(cands, ok)
}

// keepOrAll keeps the candidates ok accepts, in order; all of them when it
// accepts none.
func keepOrAll(cands []Candidate, ok func(*Candidate) bool) []Candidate {
	n := 0
	for i := range cands {
		if ok(&cands[i]) {
			n++
		}
	}
	if n == 0 || n == len(cands) {
		return cands
	}
	out := cands[:0]
	for i := range cands {
		if ok(&cands[i]) {
			out = append(out, cands[i])
		}
	}
	return out
}

// PrefixAffinityArgs configure the prefix-affinity filter.
type PrefixAffinityArgs struct {
	// Threshold is the fraction of the prompt's blocks an endpoint must
	// hold to be kept (llm-d: 0.8).
	Threshold float64 `json:"threshold"`
	// Explore is the probability of keeping every endpoint instead
	// (llm-d: 0.01), so that other endpoints come to hold the prefix too.
	Explore float64 `json:"explore"`
}

// PrefixAffinityFilter keeps only the endpoints holding at least Threshold
// of the prompt, all when none does: llm-d's prefix-cache affinity filter
// without its latency-predictor gate.
type PrefixAffinityFilter struct {
	args PrefixAffinityArgs
	// draw is the exploration draw; the package's concurrency-safe
	// generator unless a test sets it.
	draw func() float64
}

// NewPrefixAffinityFilter builds the "prefix-affinity" filter.
func NewPrefixAffinityFilter(a PrefixAffinityArgs) (Filter, error) {
	if a.Threshold <= 0 || a.Threshold > 1 || a.Explore < 0 || a.Explore > 1 {
		return nil, errorf("prefix-affinity: threshold must be within (0, 1] and explore within [0, 1]")
	}
	return &PrefixAffinityFilter{args: a, draw: rand.Float64}, nil
}

func (*PrefixAffinityFilter) Name() string { return "prefix-affinity" }

func (f *PrefixAffinityFilter) Filter(req *Request, cands []Candidate) []Candidate {
	if len(req.Hashes) == 0 || (f.args.Explore > 0 && f.draw() < f.args.Explore) {
		return cands
	}
	blocks := float64(len(req.Hashes))
	return keepOrAll(cands, func(c *Candidate) bool { return float64(c.CachedBlocks)/blocks >= f.args.Threshold })
}

// WaitingArgs configure the waiting filter.
type WaitingArgs struct {
	// Below is the scraped waiting queue an endpoint must stay under to be
	// kept (Kthena: 10).
	Below float64 `json:"below"`
}

// WaitingFilter keeps endpoints whose scraped waiting queue is below
// Below (an endpoint without a fresh scrape counts as 0 waiting) and, unlike
// the saturation filters, keeps none when none is: Kthena's least-request
// filter, whose request then fails.
type WaitingFilter struct{ args WaitingArgs }

// NewWaitingFilter builds the "waiting" filter.
func NewWaitingFilter(a WaitingArgs) (Filter, error) {
	if a.Below <= 0 {
		return nil, errorf("waiting: below must be positive")
	}
	return WaitingFilter{args: a}, nil
}

func (WaitingFilter) Name() string { return "waiting" }

func (f WaitingFilter) Filter(_ *Request, cands []Candidate) []Candidate {
	out := cands[:0]
	for _, c := range cands {
		if !c.Fresh || c.Engine.Waiting < f.args.Below {
			out = append(out, c)
		}
	}
	return out
}

// QueueDepthScorer prefers the shortest scraped waiting queue, min-max
// normalised over the candidates: (max − q) / (max − min), 1 for all when
// the queues are equal (llm-d's queue-scorer). An endpoint without a fresh
// scrape counts as an empty queue.
type QueueDepthScorer struct{}

// NewQueueDepthScorer builds the "queue-depth" scorer.
func NewQueueDepthScorer(NoArgs) (Scorer, error) { return QueueDepthScorer{}, nil }

func (QueueDepthScorer) Name() string { return "queue-depth" }

func (QueueDepthScorer) Score(_ *Request, cands []Candidate, out []float64) {
	q := func(c *Candidate) float64 {
		if !c.Fresh {
			return 0
		}
		return c.Engine.Waiting
	}
	lo, hi := q(&cands[0]), q(&cands[0])
	for i := range cands {
		lo, hi = min(lo, q(&cands[i])), max(hi, q(&cands[i]))
	}
	for i := range cands {
		out[i] = 1
		if hi > lo {
			out[i] = (hi - q(&cands[i])) / (hi - lo)
		}
	}
}

// LoadScorer is Kthena's least-request score: base = open requests + 100 ×
// those of them the engine is not running (open − scraped running, at
// least 0: queued inside the engine), scaled (max − base) / max over the
// candidates, 1 for all when every base is 0.
type LoadScorer struct{}

// NewLoadScorer builds the "load" scorer.
func NewLoadScorer(NoArgs) (Scorer, error) { return LoadScorer{}, nil }

func (LoadScorer) Name() string { return "load" }

func (LoadScorer) Score(_ *Request, cands []Candidate, out []float64) {
	base := func(c *Candidate) float64 {
		running := 0.0
		if c.Fresh {
			running = c.Engine.Running
		}
		return c.InFlight + 100*max(c.InFlight-running, 0)
	}
	hi := 0.0
	for i := range cands {
		hi = max(hi, base(&cands[i]))
	}
	for i := range cands {
		out[i] = 1
		if hi > 0 {
			out[i] = (hi - base(&cands[i])) / hi
		}
	}
}
