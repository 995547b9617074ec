package endpoint

import (
	"math"
	"sync"
	"sync/atomic"
)

// Rate learns an endpoint's prefill rate, in tokens a second, from observed
// times to first token.
//
// Each observation is a pair (work, ttft): the prefill tokens that had to be
// computed before this request's first token (those queued ahead of it when
// it was sent plus its own uncached tokens) and the time the first token
// took. The estimate is the ratio of exponentially weighted means,
// EWMA(work) / EWMA(ttft), which, unlike a mean of per-request ratios, is
// not thrown off by small requests whose TTFT is mostly fixed overhead. The
// prior enters as a pseudo-observation that fades as real ones arrive.
type Rate struct {
	mu   sync.Mutex
	work float64
	secs float64
	n    int
	// bits holds the current estimate as float64 bits for lock-free reads.
	bits atomic.Uint64

	// meanTokens is an EWMA of the tokens requests bring, to price other
	// routers' queued requests seen only as a count.
	meanTokens atomic.Uint64
}

// rateAlpha weighs a new observation; about the last 20 count.
const rateAlpha = 0.05

// priorSecs is the weight of the prior, in seconds of pseudo-observation.
const priorSecs = 0.1

// defaultMeanTokens prices a queued request before any is seen.
const defaultMeanTokens = 512

// NewRate starts at prior tokens a second.
func NewRate(prior float64) *Rate {
	if prior <= 0 {
		prior = 10000
	}
	r := &Rate{}
	r.Reset(prior)
	return r
}

// Reset forgets every observation and starts again from prior.
func (r *Rate) Reset(prior float64) {
	if prior <= 0 {
		prior = 10000
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.work, r.secs, r.n = prior*priorSecs, priorSecs, 0
	r.bits.Store(math.Float64bits(prior))
	r.meanTokens.Store(math.Float64bits(defaultMeanTokens))
}

// TokensPerSecond is the current estimate.
func (r *Rate) TokensPerSecond() float64 { return math.Float64frombits(r.bits.Load()) }

// Observe records one first token: work tokens computed in ttft seconds.
func (r *Rate) Observe(work, ttft float64) {
	if ttft <= 0 || work < 0 || math.IsNaN(work) || math.IsInf(work, 0) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	r.work += rateAlpha * (work - r.work)
	r.secs += rateAlpha * (ttft - r.secs)
	if r.secs > 0 && r.work > 0 {
		r.bits.Store(math.Float64bits(r.work / r.secs))
	}
}

// Observations is how many TTFTs have been observed.
func (r *Rate) Observations() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// MeanTokens is the typical uncached prompt of a request here.
func (r *Rate) MeanTokens() float64 { return math.Float64frombits(r.meanTokens.Load()) }

// ObserveTokens records the uncached prompt tokens of one routed request.
func (r *Rate) ObserveTokens(tokens float64) {
	for {
		old := r.meanTokens.Load()
		next := math.Float64frombits(old)
		next += rateAlpha * (tokens - next)
		if r.meanTokens.CompareAndSwap(old, math.Float64bits(next)) {
			return
		}
	}
}
