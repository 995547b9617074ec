package schedule

import (
	"slices"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// Features turns an endpoint's counters, scraped metrics and prefix index
// into the per-request Candidate fields every plugin reads, including the
// predicted TTFT.
//
// # The TTFT model
//
// For a candidate endpoint e the predicted time to first token is
//
//	TTFT(e) = (queued(e) + uncached(e) + penalty(e)) / rate(e)
//
// queued(e) is the prefill work, in tokens, waiting at e ahead of this
// request: the router's own count of uncached prompt tokens sent to e that
// have produced no first token yet, plus requests the engine reports waiting
// beyond the router's own (other router replicas' traffic) priced at e's
// mean request size. uncached(e) is this request's prompt tokens not in e's
// prefix index. rate(e) is e's prefill rate, learned from observed TTFTs
// (endpoint.Rate). penalty(e) is work-equivalent tokens charged when e's KV
// cache is nearly full (a new request would evict or preempt) or its running
// batch is at its configured limit.
//
// Picking the smallest TTFT keeps a request on the endpoint that holds its
// prefix while that endpoint's queue is shorter than the work the cache
// saves, and moves it to a cold endpoint as soon as waiting would cost more
// than recomputing: prefix affinity and load balance in one number.
//
// # The cost of a placement
//
// TTFT is not the whole of a request's latency, nor of what it does to
// others. The engine runs every sequence in the same steps, so
//
//   - its prefill stalls everyone decoding there: with chunked prefill the
//     prompt is computed in the same steps as their next tokens, and each
//     waits about as long as the prefill takes (one 1,000-token prompt
//     turns an 8 ms decode step into 37 ms on the calibrated H100);
//   - while it decodes, each step costs every sequence in the batch a
//     little more per sequence (weights are read once a step, but each
//     sequence adds its own compute and KV reads), so it is slowed by the
//     batch it joins and slows that batch in turn.
//
// In seconds, with decoding(e) the sequences past their first token at e
// (the router's own, or the engine's scraped running batch when larger:
// other routers), out the request's max_tokens (Cost.OutputTokens when
// unset) and Cost.DecodeTokens the prefill tokens one sequence's share of a
// step is worth:
//
//	stall(e) = decoding(e) × uncached(e) / rate(e)
//	batch(e) = decoding(e) × out × DecodeTokens / rate(e)
//	cost(e)  = TTFT(e) + batch(e) + StallWeight × (stall(e) + batch(e))
//
// The first two terms are the request's own latency to its last token; the
// weighted ones what it adds to everyone else's. Routing by TTFT alone
// piled unrelated prompts on whichever endpoint had an empty queue and left
// its decoders stalling (no-sharing benchmark: ITL p90 2.4× least-request's);
// with the cost a prompt cached nowhere goes where the fewest sequences
// decode, and a cache hit is cheap twice over: little to prefill and little
// to stall.
type Features struct {
	BlockBytes    int
	BytesPerToken float64
	// StaleAfter is the age after which scraped metrics are ignored.
	StaleAfter time.Duration
	Saturation Saturation
	Penalty    Penalty
	Cost       Cost
	// RateSpread bounds how far one endpoint's learned prefill rate may
	// sit from the median of the candidates serving the same request
	// (BoundRates); at least 1.
	RateSpread float64
}

// Cost holds the constants of a placement's cost beyond its TTFT.
type Cost struct {
	// StallWeight weighs the latency a request adds to others against its
	// own (0: only its own counts).
	StallWeight float64 `json:"stallWeight"`
	// DecodeTokens is one decoding sequence's share of a step in prefill
	// tokens of compute: by the simulator's H100 calibration about 1.2 plus
	// its context over 600 (benchmarks/sim/engine/doc.go); 1 measured best
	// in the router benchmarks.
	DecodeTokens float64 `json:"decodeTokens"`
	// OutputTokens is the output assumed for a request without max_tokens.
	OutputTokens float64 `json:"outputTokens"`
	// OffloadedTokens is the prefill work of one prompt token held in an
	// engine's offloaded tier (exact mode, KV events with a medium other
	// than GPU), as a fraction of computing it: loading its KV over PCIe
	// instead. Llama-3.1-8B's KV is 128 KiB a token; at ~40 GB/s that is
	// ~3 µs against ~40 µs of H100 prefill per token: 0.1.
	OffloadedTokens float64 `json:"offloadedTokens"`
}

// Saturation says when an endpoint is full: a saturated endpoint is
// avoided, and when every candidate is saturated sheddable requests get
// 429. A zero field disables its test.
type Saturation struct {
	// MaxWaiting is the engine's queue length (scraped).
	MaxWaiting float64 `json:"maxWaiting"`
	// MaxQueuedTokens is the router's own queued prefill estimate.
	MaxQueuedTokens float64 `json:"maxQueuedTokens"`
	// MaxKVUsage is the engine's KV cache usage fraction (scraped).
	MaxKVUsage float64 `json:"maxKVUsage"`
}

// Penalty prices a nearly full endpoint in tokens of prefill work.
type Penalty struct {
	// KVThreshold is the KV usage above which the penalty grows linearly
	// to KVTokens at full usage.
	KVThreshold float64 `json:"kvThreshold"`
	KVTokens    float64 `json:"kvTokens"`
	// MaxRunning is the running batch size at which BatchTokens is
	// charged (0: never), e.g. the engine's max_num_seqs.
	MaxRunning  float64 `json:"maxRunning"`
	BatchTokens float64 `json:"batchTokens"`
}

// Fill computes the candidate fields of e for req.
func (f *Features) Fill(c *Candidate, req *Request, e *endpoint.Endpoint, now time.Time) {
	*c = Candidate{E: e}
	if !f.exact(c, req, e, now) {
		if len(req.Hashes) > 0 {
			c.CachedBlocks = e.Index.Match(req.Hashes)
		}
		cachedBytes := c.CachedBlocks * f.BlockBytes
		c.UncachedTokens = float64(max(req.PromptBytes-cachedBytes, 0)) / f.BytesPerToken
		c.CachedTokens = float64(cachedBytes) / f.BytesPerToken
	}
	// The other router replicas' requests there count as this one's own
	// (their last reports, package peers); the engine's waiting count
	// includes them, so they are not counted twice below.
	pending := e.Pending.Load() + e.Peers.Pending.Load()
	inFlight := e.InFlight.Load() + e.Peers.InFlight.Load()
	c.InFlight = float64(inFlight)
	c.QueuedTokens = float64(e.QueuedTokens.Load() + e.Peers.QueuedTokens.Load())
	c.Rate = e.Rate.TokensPerSecond()
	if m, fresh := e.Engine(now, f.StaleAfter); fresh {
		c.Engine, c.Fresh = m, true
		if others := m.Waiting - float64(pending); others > 0 {
			c.QueuedTokens += others * e.Rate.MeanTokens()
			c.InFlight += others
		}
	}
	c.Decoding = float64(inFlight - pending)
	if c.Fresh {
		c.Decoding = max(c.Decoding, c.Engine.Running-float64(pending))
	}
	c.Decoding = max(c.Decoding, 0)
	c.Saturated = f.saturated(c)
	work := c.QueuedTokens + c.UncachedTokens + f.penalty(c)
	c.TTFT = work / c.Rate
	out := float64(req.OutputTokens)
	if out <= 0 {
		out = f.Cost.OutputTokens
	}
	c.Stall = c.Decoding * c.UncachedTokens / c.Rate
	c.Batch = c.Decoding * out * f.Cost.DecodeTokens / c.Rate
	c.Cost = c.TTFT + c.Batch + f.Cost.StallWeight*(c.Stall+c.Batch)
}

// BoundRates clamps each candidate's learned rate to within spread times
// the candidates' median (spread 1: every candidate at the median) and
// rescales its predicted times to match.
// Engines behind one model are usually alike; without the bound, one low
// early estimate (a first request that waited behind a burst) makes an
// endpoint look slow, it stops being picked, and the estimate is never
// corrected: the benchmark saw one of four identical engines at 32k
// tokens/s against 230k and serving 15 of 1,024 requests.
func BoundRates(cands []Candidate, spread float64) {
	if len(cands) < 2 {
		return
	}
	var buf [32]float64 // candidates are few; no allocation on the request path
	rates := buf[:0]
	for i := range cands {
		rates = append(rates, cands[i].Rate)
	}
	slices.Sort(rates)
	median := rates[len(rates)/2]
	if len(rates)%2 == 0 {
		median = (rates[len(rates)/2-1] + median) / 2
	}
	for i := range cands {
		c := &cands[i]
		bounded := min(max(c.Rate, median/spread), median*spread)
		if bounded != c.Rate && bounded > 0 {
			f := c.Rate / bounded
			c.TTFT, c.Stall, c.Batch, c.Cost = c.TTFT*f, c.Stall*f, c.Batch*f, c.Cost*f
			c.Rate = bounded
		}
	}
}

// exact fills the cache figures from the endpoint's exact index when the
// request has engine hashes and the index is trustworthy. CachedBlocks is
// then expressed in byte blocks, so scorers see one unit either way.
// Blocks in an offloaded tier are misses at cost.offloadedTokens of a
// token's prefill each: UncachedTokens is prefill work, not a count.
func (f *Features) exact(c *Candidate, req *Request, e *endpoint.Endpoint, now time.Time) bool {
	if e.Exact == nil || req.EngineHashes == nil {
		return false
	}
	m, ok := e.Exact.Match(req.Model, req.EngineHashes, now)
	if !ok || (m.BlockTokens != req.EngineBlockTokens && m.GPU+m.Offloaded > 0) {
		return false
	}
	c.Exact = true
	c.CachedTokens = float64(m.GPU * req.EngineBlockTokens)
	c.OffloadedTokens = float64(m.Offloaded * req.EngineBlockTokens)
	rest := max(float64(req.PromptTokens)-c.CachedTokens-c.OffloadedTokens, 0)
	c.UncachedTokens = rest + c.OffloadedTokens*f.Cost.OffloadedTokens
	c.CachedBlocks = min(int(c.CachedTokens*f.BytesPerToken)/f.BlockBytes, len(req.Hashes))
	return true
}

func (f *Features) saturated(c *Candidate) bool {
	s := &f.Saturation
	if s.MaxQueuedTokens > 0 && c.QueuedTokens >= s.MaxQueuedTokens {
		return true
	}
	if !c.Fresh {
		return false
	}
	return (s.MaxWaiting > 0 && c.Engine.Waiting >= s.MaxWaiting) ||
		(s.MaxKVUsage > 0 && c.Engine.KVUsage >= s.MaxKVUsage)
}

func (f *Features) penalty(c *Candidate) float64 {
	if !c.Fresh {
		return 0
	}
	p := &f.Penalty
	var tokens float64
	if p.KVThreshold > 0 && p.KVThreshold < 1 && c.Engine.KVUsage > p.KVThreshold {
		over := min((c.Engine.KVUsage-p.KVThreshold)/(1-p.KVThreshold), 1)
		tokens += over * p.KVTokens
	}
	if p.MaxRunning > 0 && c.Engine.Running >= p.MaxRunning {
		tokens += p.BatchTokens
	}
	return tokens
}
