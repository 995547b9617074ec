package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
)

// Stats are the engine's cumulative counters.
type Stats struct {
	// PrefixQueries and PrefixHits count prompt tokens looked up in, and
	// found in, the local prefix cache at a request's first admission.
	PrefixQueries uint64
	PrefixHits    uint64
	// Preemptions counts sequences that lost their KV to make room.
	Preemptions uint64
	// PromptTokens counts prompt tokens of admitted requests.
	PromptTokens uint64
	// GenerationTokens counts generated tokens.
	GenerationTokens uint64
	// Finished counts requests that generated all their tokens (reached
	// max_tokens or their end of sequence).
	Finished uint64
	// Steps counts engine steps.
	Steps uint64
}

// Core is the engine without time or goroutines: a queue of waiting
// sequences, the running batch, and the KV pool. Schedule decides one step;
// Complete applies it. Everything is deterministic given the order of calls,
// and virtual time advances only by step durations and Advance.
type Core struct {
	p        Params
	pool     *kv.Pool
	seed     uint64
	now      time.Duration
	waiting  []*Seq // see queue
	running  []*Seq // admission order
	linkFree time.Duration
	nextID   uint64
	stats    Stats
}

// NewCore returns an idle engine core.
func NewCore(p Params) (*Core, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	pool, err := kv.NewPool(p.NumBlocks, p.BlockSize, p.PrefixCaching)
	if err != nil {
		return nil, err
	}
	return &Core{p: p, pool: pool, seed: kv.SeedWith(p.Model, p.HashSeed)}, nil
}

// Params returns the core's parameters.
func (c *Core) Params() Params { return c.p }

// Pool exposes the KV pool, for metrics and tests.
func (c *Core) Pool() *kv.Pool { return c.pool }

// Now is the core's virtual time.
func (c *Core) Now() time.Duration { return c.now }

// Advance moves virtual time forward while the engine is idle.
func (c *Core) Advance(d time.Duration) {
	if d > 0 {
		c.now += d
	}
}

// Stats returns the counters.
func (c *Core) Stats() Stats { return c.stats }

// NumRunning counts sequences in the running batch.
func (c *Core) NumRunning() int { return len(c.running) }

// NumWaiting counts queued sequences, including those waiting for KV.
func (c *Core) NumWaiting() int { return len(c.waiting) }

// Check reports why a request can never run on this engine, or nil.
func (c *Core) Check(req Request) error {
	total := len(req.Prompt) + req.MaxTokens
	switch {
	case len(req.Prompt) == 0:
		return fmt.Errorf("the prompt is empty")
	case req.MaxTokens < 1:
		return fmt.Errorf("max_tokens must be at least 1, got %d", req.MaxTokens)
	case total > c.p.MaxModelLen:
		return fmt.Errorf("this model's maximum context length is %d tokens; the request needs %d (%d prompt, %d completion)",
			c.p.MaxModelLen, total, len(req.Prompt), req.MaxTokens)
	case c.p.BlocksFor(total) > c.p.NumBlocks:
		return fmt.Errorf("the request needs %d tokens of KV memory; the engine has %d",
			total, c.p.NumBlocks*c.p.BlockSize)
	}
	return nil
}

// Add queues a new request and returns its sequence.
func (c *Core) Add(req Request) (*Seq, error) {
	if err := c.Check(req); err != nil {
		return nil, err
	}
	s := newSeq(req)
	c.enqueue(s)
	return s, nil
}

func (c *Core) enqueue(s *Seq) {
	c.nextID++
	s.id = c.nextID
	c.queue(s, false)
}

// queue puts a sequence into the waiting queue. Under PolicyFCFS the queue
// is arrival order and a preempted sequence goes to its front; under
// PolicyPriority it is sorted by (priority, arrival), preempted or not,
// as vLLM's PriorityRequestQueue (a heap) orders it.
func (c *Core) queue(s *Seq, preempted bool) {
	if !c.p.priority() {
		if preempted {
			c.waiting = slices.Insert(c.waiting, 0, s)
		} else {
			c.waiting = append(c.waiting, s)
		}
		return
	}
	i, _ := slices.BinarySearchFunc(c.waiting, s, func(x, t *Seq) int {
		if x.before(t) {
			return -1
		}
		return 1
	})
	c.waiting = slices.Insert(c.waiting, i, s)
}

// Abort drops a sequence wherever it is and frees its blocks.
func (c *Core) Abort(s *Seq) {
	switch s.state {
	case stateWaiting:
		c.waiting = slices.DeleteFunc(c.waiting, func(x *Seq) bool { return x == s })
	case stateRunning:
		c.running = slices.DeleteFunc(c.running, func(x *Seq) bool { return x == s })
	default:
		return
	}
	c.freeBlocks(s)
	s.state = stateAborted
}

// Drain aborts every sequence and returns them, for engine shutdown.
func (c *Core) Drain() []*Seq {
	all := append(append([]*Seq(nil), c.running...), c.waiting...)
	for _, s := range all {
		c.Abort(s)
	}
	return all
}

// NextReady is the virtual time the earliest pending KV transfer lands.
func (c *Core) NextReady() (time.Duration, bool) {
	var t time.Duration
	found := false
	for _, s := range c.waiting {
		if s.transferring && (!found || s.readyAt < t) {
			t, found = s.readyAt, true
		}
	}
	return t, found
}

// freeBlocks releases a sequence's blocks last block first, so its tail is
// evicted before its prefix.
func (c *Core) freeBlocks(s *Seq) {
	slices.Reverse(s.blocks)
	c.pool.Release(s.blocks)
	s.blocks = nil
	s.numCachedBlocks = 0
	s.numComputed = 0
	s.transferring = false
}

// cacheFull registers every newly full, computed block in the prefix cache.
func (c *Core) cacheFull(s *Seq) {
	full := min(s.numComputed/c.p.BlockSize, len(s.blocks))
	if full <= s.numCachedBlocks {
		return
	}
	bs := c.p.BlockSize
	s.hashes = kv.AppendBlockHashes(s.hashes, c.seed, s.toks[:full*bs], bs)
	for i := s.numCachedBlocks; i < full; i++ {
		parent := c.seed
		if i > 0 {
			parent = s.hashes[i-1]
		}
		// toks[:full*bs] never changes again: generation only appends.
		c.pool.CacheBlock(s.blocks[i], s.hashes[i], parent, s.toks[i*bs:(i+1)*bs:(i+1)*bs])
	}
	s.numCachedBlocks = full
}

// Outcome is what one completed step produced.
type Outcome struct {
	// Tokens lists sequences that generated one token this step.
	Tokens []*Seq
	// Finished lists sequences that generated their last token.
	Finished []*Seq
}

// Complete applies a plan returned by Schedule: the scheduled tokens now
// have KV, full blocks enter the prefix cache, sequences whose tokens are all
// computed generate one token, and finished sequences free their blocks.
// Virtual time advances by the plan's duration.
func (c *Core) Complete(plan *Plan) Outcome {
	var out Outcome
	for _, it := range plan.Items {
		s := it.Seq
		if s.state != stateRunning {
			continue
		}
		s.numComputed += it.Tokens
		c.cacheFull(s)
		if s.numComputed < len(s.toks) {
			continue
		}
		s.toks = append(s.toks, OutputToken(s.req.OutputSeed, s.NumOutput()))
		c.stats.GenerationTokens++
		out.Tokens = append(out.Tokens, s)
		if s.NumOutput() >= s.req.outputLen() {
			s.finalBlocks = slices.Clone(s.blocks)
			c.freeBlocks(s)
			s.state = stateFinished
			c.stats.Finished++
			out.Finished = append(out.Finished, s)
		}
	}
	if len(out.Finished) > 0 {
		c.running = slices.DeleteFunc(c.running, func(s *Seq) bool { return s.state != stateRunning })
	}
	c.now += plan.Duration
	c.stats.Steps++
	return out
}
