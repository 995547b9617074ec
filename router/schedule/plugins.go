package schedule

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"
)

// NoArgs is the argument type of plugins without settings.
type NoArgs struct{}

// HealthyFilter keeps endpoints whose breaker lets a request through and
// that discovery has not removed.
type HealthyFilter struct{}

// NewHealthyFilter builds the "healthy" filter.
func NewHealthyFilter(NoArgs) (Filter, error) { return HealthyFilter{}, nil }

func (HealthyFilter) Name() string { return "healthy" }

func (HealthyFilter) Filter(_ *Request, cands []Candidate) []Candidate {
	out := cands[:0]
	for _, c := range cands {
		if !c.E.Removed() && c.E.Breaker.Ready() {
			out = append(out, c)
		}
	}
	return out
}

// SaturationFilter drops saturated endpoints unless all are saturated;
// then it keeps them all and the router sheds or queues by priority.
type SaturationFilter struct{}

// NewSaturationFilter builds the "saturation" filter.
func NewSaturationFilter(NoArgs) (Filter, error) { return SaturationFilter{}, nil }

func (SaturationFilter) Name() string { return "saturation" }

func (SaturationFilter) Filter(_ *Request, cands []Candidate) []Candidate {
	n := 0
	for i := range cands {
		if !cands[i].Saturated {
			n++
		}
	}
	if n == 0 || n == len(cands) {
		return cands
	}
	out := cands[:0]
	for _, c := range cands {
		if !c.Saturated {
			out = append(out, c)
		}
	}
	return out
}

// lowerIsBetter scores x against the smallest of its kind: (min+k)/(x+k),
// 1 for the best, falling toward 0; k keeps small values comparable.
func lowerIsBetter(cands []Candidate, out []float64, k float64, x func(*Candidate) float64) {
	lo := x(&cands[0])
	for i := range cands {
		lo = min(lo, x(&cands[i]))
	}
	for i := range cands {
		out[i] = (lo + k) / (x(&cands[i]) + k)
	}
}

// PrefixScorer is the fraction of the prompt's blocks the endpoint holds:
// prefix affinity alone.
type PrefixScorer struct{}

// NewPrefixScorer builds the "prefix" scorer.
func NewPrefixScorer(NoArgs) (Scorer, error) { return PrefixScorer{}, nil }

func (PrefixScorer) Name() string { return "prefix" }

func (PrefixScorer) Score(req *Request, cands []Candidate, out []float64) {
	if len(req.Hashes) == 0 {
		return
	}
	for i := range cands {
		out[i] = float64(cands[i].CachedBlocks) / float64(len(req.Hashes))
	}
}

// LeastRequestScorer prefers the endpoint with the fewest open requests
// (the router's own, plus other routers' queued ones seen in the engine's
// metrics).
type LeastRequestScorer struct{}

// NewLeastRequestScorer builds the "least-request" scorer.
func NewLeastRequestScorer(NoArgs) (Scorer, error) { return LeastRequestScorer{}, nil }

func (LeastRequestScorer) Name() string { return "least-request" }

func (LeastRequestScorer) Score(_ *Request, cands []Candidate, out []float64) {
	lowerIsBetter(cands, out, 1, func(c *Candidate) float64 { return c.InFlight })
}

// QueueScorer prefers the least queued prefill work in tokens.
type QueueScorer struct{}

// NewQueueScorer builds the "queue" scorer.
func NewQueueScorer(NoArgs) (Scorer, error) { return QueueScorer{}, nil }

func (QueueScorer) Name() string { return "queue" }

func (QueueScorer) Score(_ *Request, cands []Candidate, out []float64) {
	lowerIsBetter(cands, out, 16, func(c *Candidate) float64 { return c.QueuedTokens })
}

// KVUsageScorer prefers free KV memory; endpoints without a fresh scrape
// score 0.5.
type KVUsageScorer struct{}

// NewKVUsageScorer builds the "kv-usage" scorer.
func NewKVUsageScorer(NoArgs) (Scorer, error) { return KVUsageScorer{}, nil }

func (KVUsageScorer) Name() string { return "kv-usage" }

func (KVUsageScorer) Score(_ *Request, cands []Candidate, out []float64) {
	for i := range cands {
		out[i] = 0.5
		if cands[i].Fresh {
			out[i] = 1 - cands[i].Engine.KVUsage
		}
	}
}

// TTFTScorer prefers the smallest predicted time to first token (the TTFT
// model in features.go): 1 for the best, best/TTFT for the others, with one
// block's prefill time added to both so that near-zero predictions compare
// sensibly.
type TTFTScorer struct{}

// NewTTFTScorer builds the "ttft" scorer.
func NewTTFTScorer(NoArgs) (Scorer, error) { return TTFTScorer{}, nil }

func (TTFTScorer) Name() string { return "ttft" }

func (TTFTScorer) Score(_ *Request, cands []Candidate, out []float64) {
	lowerIsBetter(cands, out, blockTime(cands), func(c *Candidate) float64 { return c.TTFT })
}

// blockTime is one 16-token block's prefill time on the fastest candidate.
func blockTime(cands []Candidate) float64 {
	fastest := 0.0
	for i := range cands {
		fastest = max(fastest, cands[i].Rate)
	}
	return 16 / max(fastest, 1)
}

// CostScorer prefers the smallest cost: predicted TTFT plus the weighted
// stall the request's prefill causes to sequences decoding at the endpoint
// (features.go), scored like TTFTScorer.
type CostScorer struct{}

// NewCostScorer builds the "cost" scorer.
func NewCostScorer(NoArgs) (Scorer, error) { return CostScorer{}, nil }

func (CostScorer) Name() string { return "cost" }

func (CostScorer) Score(_ *Request, cands []Candidate, out []float64) {
	lowerIsBetter(cands, out, blockTime(cands), func(c *Candidate) float64 { return c.Cost })
}

// SameUnitScorer prefers the unit (1) or at least the ServingGroup (0.5)
// named by Request.PreferUnit and PreferGroup: a prefill endpoint near its
// decode endpoint moves the KV cache over the shortest path.
type SameUnitScorer struct{}

// NewSameUnitScorer builds the "same-unit" scorer.
func NewSameUnitScorer(NoArgs) (Scorer, error) { return SameUnitScorer{}, nil }

func (SameUnitScorer) Name() string { return "same-unit" }

func (SameUnitScorer) Score(req *Request, cands []Candidate, out []float64) {
	for i := range cands {
		e := cands[i].E
		switch {
		case e.Group != req.PreferGroup:
		case e.Unit == req.PreferUnit:
			out[i] = 1
		default:
			out[i] = 0.5
		}
	}
}

// MaxScoreArgs configure the max-score picker.
type MaxScoreArgs struct {
	// Explore is the probability of picking, instead of the best, a random
	// candidate scoring at least ExploreWithin times the best score. It
	// keeps learned rates and the index current on endpoints the model
	// would otherwise never try.
	Explore       float64 `json:"explore"`
	ExploreWithin float64 `json:"exploreWithin"`
	// ConsistentTies breaks ties by the prompt's first block (rendezvous
	// hashing) instead of at random, so router replicas agree on where a
	// new prefix goes (see sortByScore).
	ConsistentTies bool `json:"consistentTies"`
}

// MaxScorePicker takes the highest score, ties at random or, with
// ConsistentTies, to the endpoint the prompt's first block hashes to.
type MaxScorePicker struct{ args MaxScoreArgs }

// NewMaxScorePicker builds the "max-score" picker.
func NewMaxScorePicker(a MaxScoreArgs) (Picker, error) {
	if a.Explore < 0 || a.Explore > 1 || a.ExploreWithin < 0 || a.ExploreWithin > 1 {
		return nil, errorf("max-score: explore and exploreWithin must be within [0, 1]")
	}
	return &MaxScorePicker{args: a}, nil
}

func (*MaxScorePicker) Name() string { return "max-score" }

func (p *MaxScorePicker) Pick(req *Request, cands []Candidate, rng *rand.Rand) Reason {
	if !p.args.ConsistentTies {
		req = nil
	}
	sortByScore(req, cands, rng)
	if p.args.Explore == 0 || rng.Float64() >= p.args.Explore {
		return ReasonBest
	}
	n := 1
	for n < len(cands) && cands[n].Score >= p.args.ExploreWithin*cands[0].Score {
		n++
	}
	if n == 1 {
		return ReasonBest
	}
	i := 1 + rng.IntN(n-1)
	chosen := cands[i]
	copy(cands[1:i+1], cands[:i])
	cands[0] = chosen
	return ReasonExplore
}

// RandomPicker orders candidates at random.
type RandomPicker struct{}

// NewRandomPicker builds the "random" picker.
func NewRandomPicker(NoArgs) (Picker, error) { return RandomPicker{}, nil }

func (RandomPicker) Name() string { return "random" }

func (RandomPicker) Pick(_ *Request, cands []Candidate, rng *rand.Rand) Reason {
	rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	return ReasonRandom
}

// RoundRobinPicker takes candidates in turn; candidates come sorted by
// name, so the turn is stable while the set is.
type RoundRobinPicker struct{ next atomic.Uint64 }

// NewRoundRobinPicker builds the "round-robin" picker.
func NewRoundRobinPicker(NoArgs) (Picker, error) { return &RoundRobinPicker{}, nil }

func (*RoundRobinPicker) Name() string { return "round-robin" }

func (p *RoundRobinPicker) Pick(_ *Request, cands []Candidate, _ *rand.Rand) Reason {
	k := int((p.next.Add(1) - 1) % uint64(len(cands)))
	rotate(cands, k)
	return ReasonRoundRobin
}

// rotate moves cands[k] to the front keeping the cyclic order.
func rotate(cands []Candidate, k int) {
	slices.Reverse(cands[:k])
	slices.Reverse(cands[k:])
	slices.Reverse(cands)
}

// AffinityArgs configure the affinity picker.
type AffinityArgs struct {
	MaxScoreArgs
	// StayWithin is how much higher than the cheapest candidate's the
	// cost of the endpoint holding the most of the prompt may be while the
	// request still stays there (2: up to twice as high). The cost prices
	// a move at this request's recomputation only; the
	// bound stands for what it leaves out — the blocks the recomputed
	// prefix evicts at its new endpoint and the later requests of the same
	// prefix that now split between two endpoints.
	StayWithin float64 `json:"stayWithin"`
}

// AffinityPicker keeps a request on the endpoint holding the longest
// prefix of its prompt while that endpoint is not saturated and its cost
// (features.go: predicted TTFT plus batch and weighted stall) is within
// StayWithin times the cheapest candidate's; otherwise it picks like
// max-score (the best score, with exploration). Fallbacks keep the score
// order.
type AffinityPicker struct {
	max  MaxScorePicker
	stay float64
}

// NewAffinityPicker builds the "affinity" picker.
func NewAffinityPicker(a AffinityArgs) (Picker, error) {
	if a.StayWithin != 0 && a.StayWithin < 1 {
		return nil, errorf("affinity: stayWithin must be at least 1 (or 0: never stay against the scores)")
	}
	m, err := NewMaxScorePicker(a.MaxScoreArgs)
	if err != nil {
		return nil, err
	}
	return &AffinityPicker{max: *m.(*MaxScorePicker), stay: a.StayWithin}, nil
}

func (*AffinityPicker) Name() string { return "affinity" }

func (p *AffinityPicker) Pick(req *Request, cands []Candidate, rng *rand.Rand) Reason {
	h := holder(cands)
	if p.stay == 0 || h < 0 || cands[h].Saturated {
		return p.max.Pick(req, cands, rng)
	}
	best := cands[0].Cost
	for i := range cands {
		best = min(best, cands[i].Cost)
	}
	if cands[h].Cost > p.stay*best {
		return p.max.Pick(req, cands, rng)
	}
	cands[0], cands[h] = cands[h], cands[0]
	if !p.max.args.ConsistentTies {
		req = nil
	}
	sortByScore(req, cands[1:], rng)
	return ReasonCacheAffinity
}

// holder is the index of the candidate holding the most prompt blocks,
// the cheapest among equals; -1 if none holds any.
func holder(cands []Candidate) int {
	h := -1
	for i := range cands {
		c := &cands[i]
		if c.CachedBlocks == 0 {
			continue
		}
		if h < 0 || c.CachedBlocks > cands[h].CachedBlocks || (c.CachedBlocks == cands[h].CachedBlocks && c.Cost < cands[h].Cost) {
			h = i
		}
	}
	return h
}
