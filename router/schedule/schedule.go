// Package schedule picks the endpoint for a request: filters drop
// endpoints that must not serve it, weighted scorers rate the rest in
// [0, 1], and a picker orders them (the first is tried first, the others
// are the fallbacks, best first).
//
// Plugins are typed: each is built once from its own argument struct
// (Plugins, RegisterFilter/Scorer/Picker), and the binary registers the
// ones it offers explicitly. A Profile is one configured chain. The
// policies random, round-robin, least-request, prefix and tandem, and the
// peer baselines llm-d, llm-d-sticky and kthena (baselines.go), are
// presets of profiles (Preset).
//
// Plugins never compute per-endpoint features themselves: Features fills a
// Candidate per endpoint once per request (prefix match, queue, scraped
// load, predicted TTFT; see features.go for the TTFT model), so scorers are
// cheap pure functions of candidates.
package schedule

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// Request is what scheduling knows about a request.
type Request struct {
	Model string
	// Hashes are the prompt's prefix block hashes (package prefix).
	Hashes []uint64
	// PromptBytes is the length of the rendered prompt.
	PromptBytes int
	// Priority: lower is more important (vLLM's convention).
	Priority int
	// OutputTokens is the request's max_tokens, 0 when unset.
	OutputTokens int
	// PreferGroup and PreferUnit name the decode endpoint's unit when
	// picking its prefill endpoint.
	PreferGroup, PreferUnit string
	// EngineHashes are the prompt's block hashes as the engine computes
	// them, of EngineBlockTokens tokens each, and PromptTokens its exact
	// token count; set only in exact mode (package kvindex).
	EngineHashes      []uint64
	EngineBlockTokens int
	PromptTokens      int
}

// Candidate is one endpoint and its features for one request.
type Candidate struct {
	E *endpoint.Endpoint
	// CachedBlocks is how many leading prompt blocks the endpoint holds;
	// CachedTokens and UncachedTokens are the estimated tokens of the
	// prompt held and not held there.
	CachedBlocks   int
	CachedTokens   float64
	UncachedTokens float64
	// OffloadedTokens are prompt tokens held in an offloaded tier (exact
	// mode only); UncachedTokens counts them at cost.offloadedTokens each.
	OffloadedTokens float64
	// QueuedTokens estimates prefill work waiting there ahead of this
	// request; InFlight the requests open there.
	QueuedTokens float64
	InFlight     float64
	// Engine is the last scrape, valid when Fresh.
	Engine endpoint.EngineMetrics
	Fresh  bool
	// Exact is true when the cache figures come from the exact index.
	Exact bool
	// Rate is the endpoint's learned prefill rate in tokens a second.
	Rate float64
	// TTFT is the predicted time to first token in seconds.
	TTFT float64
	// Decoding is the sequences past their first token at the endpoint;
	// Stall the seconds of their decoding this request's prefill would
	// hold up, summed over them; Batch the seconds the batch adds to this
	// request's decoding (and it to theirs); Cost its own latency to the
	// last token plus the weighted latency it adds (features.go).
	Decoding  float64
	Stall     float64
	Batch     float64
	Cost      float64
	Saturated bool
	// Score is the weighted sum of the scorers' scores.
	Score float64
}

// Filter drops candidates. It filters in place and returns the kept prefix.
type Filter interface {
	Name() string
	Filter(req *Request, cands []Candidate) []Candidate
}

// Scorer rates each candidate; out[i] is cands[i]'s score, clamped by the
// framework to [0, 1]; higher is better.
type Scorer interface {
	Name() string
	Score(req *Request, cands []Candidate, out []float64)
}

// Picker orders the candidates in place, the one to try first at index 0,
// and says why it chose it.
type Picker interface {
	Name() string
	Pick(req *Request, cands []Candidate, rng *rand.Rand) Reason
}

// Reason says why the first candidate was chosen; it labels metrics.
type Reason string

const (
	// ReasonBest: the highest score; refined below by the framework.
	ReasonBest Reason = "best"
	// ReasonCacheAffinity: the best candidate also held the longest prefix.
	ReasonCacheAffinity Reason = "cache-affinity"
	// ReasonLoadBalance: the best candidate held less of the prefix than
	// another; load outweighed the cache.
	ReasonLoadBalance Reason = "load-balance"
	// ReasonNoCache: no candidate held any of the prompt.
	ReasonNoCache     Reason = "no-cache"
	ReasonExplore     Reason = "explore"
	ReasonRandom      Reason = "random"
	ReasonRoundRobin  Reason = "round-robin"
	ReasonOnlyOne     Reason = "only-candidate"
	ReasonNoCandidate Reason = "no-candidate"
)

// WeightedScorer is a scorer and its weight in the sum.
type WeightedScorer struct {
	Scorer
	Weight float64
}

// Profile is one configured chain of plugins.
type Profile struct {
	Filters  []Filter
	Scorers  []WeightedScorer
	Picker   Picker
	Features *Features
}

// Result is a scheduling decision.
type Result struct {
	// Order is the candidates to try, first choice first. It aliases the
	// Scratch passed to Schedule.
	Order  []Candidate
	Reason Reason
	// AllSaturated is true when every healthy candidate was saturated.
	AllSaturated bool
}

// Scratch is per-request working memory; reuse it to avoid allocating.
type Scratch struct {
	cands  []Candidate
	scores []float64
	rng    *rand.Rand
}

// NewScratch returns scratch space seeded from seed.
func NewScratch(seed uint64) *Scratch {
	return &Scratch{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Uint63 is a random number from the scratch's generator.
func (s *Scratch) Uint63() uint64 { return s.rng.Uint64() >> 1 }

// Schedule orders eps for req.
func (p *Profile) Schedule(req *Request, eps []*endpoint.Endpoint, now time.Time, s *Scratch) Result {
	cands := s.cands[:0]
	for _, e := range eps {
		cands = append(cands, Candidate{})
		p.Features.Fill(&cands[len(cands)-1], req, e, now)
	}
	BoundRates(cands, p.Features.RateSpread)
	s.cands = cands
	for _, f := range p.Filters {
		cands = f.Filter(req, cands)
	}
	res := Result{Order: cands, AllSaturated: len(cands) > 0}
	for i := range cands {
		if !cands[i].Saturated {
			res.AllSaturated = false
			break
		}
	}
	switch len(cands) {
	case 0:
		res.Reason = ReasonNoCandidate
		return res
	case 1:
		res.Reason = ReasonOnlyOne
		return res
	}
	p.score(req, cands, s)
	res.Reason = refine(p.Picker.Pick(req, cands, s.rng), cands)
	return res
}

func (p *Profile) score(req *Request, cands []Candidate, s *Scratch) {
	if cap(s.scores) < len(cands) {
		s.scores = make([]float64, len(cands))
	}
	out := s.scores[:len(cands)]
	for i := range cands {
		cands[i].Score = 0
	}
	for _, ws := range p.Scorers {
		clear(out)
		ws.Score(req, cands, out)
		for i := range cands {
			cands[i].Score += ws.Weight * clamp01(out[i])
		}
	}
}

func clamp01(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// refine turns "best" into why the best was best.
func refine(r Reason, cands []Candidate) Reason {
	if r != ReasonBest {
		return r
	}
	most := 0
	for i := range cands {
		most = max(most, cands[i].CachedBlocks)
	}
	switch {
	case most == 0:
		return ReasonNoCache
	case cands[0].CachedBlocks == most:
		return ReasonCacheAffinity
	}
	return ReasonLoadBalance
}

// sortByScore orders cands by descending score. With a request (and a
// prompt of at least one block) ties are broken by rendezvous hashing of
// the first prompt block no candidate holds with each endpoint's name, so
// that router replicas that see the same scores (an idle fleet, a new
// prefix) all place a prefix on the same endpoint while different prefixes
// spread evenly; without, at random. The first block no one holds, not the
// prompt's first: conversations that open with one system prompt held
// everywhere then spread by their own first turns instead of all hashing
// to the same endpoint.
func sortByScore(req *Request, cands []Candidate, rng *rand.Rand) {
	if req == nil || len(req.Hashes) == 0 {
		rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		slices.SortStableFunc(cands, func(a, b Candidate) int { return cmp.Compare(b.Score, a.Score) })
		return
	}
	held := 0
	for i := range cands {
		held = max(held, cands[i].CachedBlocks)
	}
	h := req.Hashes[min(held, len(req.Hashes)-1)]
	slices.SortFunc(cands, func(a, b Candidate) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(rendezvous(h, b.E.NameHash), rendezvous(h, a.E.NameHash))
	})
}

// rendezvous mixes a prefix and an endpoint into a pseudo-random weight
// (the splitmix64 finalizer).
func rendezvous(prefix, endpoint uint64) uint64 {
	z := prefix ^ endpoint
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
