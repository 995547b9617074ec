package engine

import (
	"slices"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
)

// Item is one sequence's share of a step.
type Item struct {
	Seq *Seq
	// Tokens is how many tokens get KV computed this step.
	Tokens int
	// Prefill is false only for a one-token decode of a generated token.
	Prefill bool
}

// Plan is one step as Schedule decided it. Its blocks are already allocated.
type Plan struct {
	Items []Item
	// Preempted sequences lost their blocks and went back to the queue.
	Preempted []*Seq
	// Transfers are sequences whose remote KV transfer started this step.
	Transfers []*Seq
	Shape     Shape
	Duration  time.Duration
}

// Empty reports whether the step computes nothing.
func (p *Plan) Empty() bool { return len(p.Items) == 0 }

// remove takes a sequence's item out of the plan and returns its tokens.
func (p *Plan) remove(s *Seq) int {
	i := slices.IndexFunc(p.Items, func(it Item) bool { return it.Seq == s })
	if i < 0 {
		return 0
	}
	it := p.Items[i]
	p.Items = slices.Delete(p.Items, i, i+1)
	if it.Prefill {
		p.Shape.PrefillTokens -= it.Tokens
	} else {
		p.Shape.DecodeSeqs--
	}
	p.Shape.ContextTokens -= s.numComputed + it.Tokens
	return it.Tokens
}

func (p *Plan) add(s *Seq, n int) {
	prefill := n > 1 || s.numComputed < s.numPrompt
	p.Items = append(p.Items, Item{Seq: s, Tokens: n, Prefill: prefill})
	if prefill {
		p.Shape.PrefillTokens += n
	} else {
		p.Shape.DecodeSeqs++
	}
	p.Shape.ContextTokens += s.numComputed + n
}

// Schedule decides the next step, as vLLM V1's scheduler does:
//
//  1. Running sequences, oldest first, each get the tokens they still need
//     (one for a decode, the rest of the prompt for a prefill) within the
//     step's token budget, so long prompts are prefilled in chunks. When KV
//     memory runs out, a running sequence is preempted (the newest; under
//     PolicyPriority the one with the largest (priority, arrival), see
//     grow): its blocks are freed and it returns to the queue (the front;
//     under PolicyPriority its place by priority), to be recomputed later
//     (its prefix may still be cached).
//  2. If nothing was preempted, waiting sequences are admitted in queue order
//     (arrival; under PolicyPriority (priority, arrival)) while
//     budget, running slots and memory last. Admission looks up the longest
//     cached prefix (whole blocks, always leaving one token to compute) and
//     allocates blocks for the rest of this step's chunk. A sequence that does
//     not fit stops admission, so the queue stays first come, first served.
//     A remote-prefill sequence instead gets blocks for its prompt and
//     starts a transfer of the prompt's KV; it waits, holding them, until the
//     transfer lands, and is then admitted like any other, even past a
//     sequence that does not fit, since it needs no more memory.
func (c *Core) Schedule() *Plan {
	plan := &Plan{}
	budget := c.scheduleRunning(plan, c.p.MaxBatchedTokens)
	if len(plan.Preempted) == 0 {
		c.scheduleWaiting(plan, budget)
	}
	plan.Duration = c.p.Cost.StepTime(plan.Shape)
	return plan
}

func (c *Core) scheduleRunning(plan *Plan, budget int) int {
	for i := 0; i < len(c.running) && budget > 0; i++ {
		s := c.running[i]
		n := min(len(s.toks)-s.numComputed, budget)
		if n <= 0 {
			continue
		}
		fits, earlier, back := c.grow(s, n, plan)
		i -= earlier
		budget += back
		if !fits {
			break // s itself was preempted
		}
		plan.add(s, n)
		budget -= n
	}
	return budget
}

// grow allocates blocks for n more tokens of a running sequence, preempting
// victims until they fit. It reports whether s fits (false: s itself was
// the victim), how many victims stood before s in the running batch, and
// the token budget given back by victims already scheduled this step.
//
// The victim is vLLM's (Scheduler.schedule in vllm/v1/core/sched/
// scheduler.py): under PolicyFCFS the newest running sequence, which has
// not been scheduled yet this step; under PolicyPriority the running
// sequence with the largest (priority, arrival), which may have been, and
// then loses its share of the step.
func (c *Core) grow(s *Seq, n int, plan *Plan) (fits bool, earlier, back int) {
	need := c.p.BlocksFor(s.numComputed+n) - len(s.blocks)
	for need > c.pool.NumFree() {
		at := c.victim()
		victim := c.running[at]
		if victim != s && slices.IndexFunc(c.running, func(x *Seq) bool { return x == s }) > at {
			earlier++
		}
		back += plan.remove(victim)
		c.preempt(at)
		plan.Preempted = append(plan.Preempted, victim)
		if victim == s {
			return false, earlier, back
		}
	}
	if need > 0 {
		ids, _ := c.pool.Allocate(need)
		s.blocks = append(s.blocks, ids...)
	}
	return true, earlier, back
}

// victim is the index in the running batch of the sequence to preempt.
func (c *Core) victim() int {
	at := len(c.running) - 1
	if c.p.priority() {
		for i, x := range c.running {
			if c.running[at].before(x) {
				at = i
			}
		}
	}
	return at
}

func (c *Core) preempt(at int) {
	s := c.running[at]
	c.running = slices.Delete(c.running, at, at+1)
	c.freeBlocks(s)
	s.state = stateWaiting
	s.preemptions++
	c.stats.Preemptions++
	c.queue(s, true)
}

func (c *Core) scheduleWaiting(plan *Plan, budget int) {
	// Once a sequence does not fit, only sequences that already hold all
	// the blocks their first chunk needs (received remote KV) may pass it;
	// otherwise they and the blocked one could wait on each other forever.
	blocked := false
	for i := 0; i < len(c.waiting) && budget > 0 && len(c.running) < c.p.MaxNumSeqs; {
		s := c.waiting[i]
		if s.transferring {
			if c.now < s.readyAt {
				i++ // still receiving KV: later requests may go first
				continue
			}
			c.landTransfer(s)
		}
		holdsBlocks := s.transferDone && len(s.blocks) > 0
		if blocked && !holdsBlocks {
			i++
			continue
		}
		started, ok := c.admit(s, budget, plan)
		if !ok || started {
			blocked = blocked || !ok
			i++
			continue
		}
		c.waiting = slices.Delete(c.waiting, i, i+1)
		s.state = stateRunning
		c.running = append(c.running, s)
		budget -= plan.Items[len(plan.Items)-1].Tokens
	}
}

// prefixHit finds the cached blocks a sequence without KV can reuse: whole
// blocks only, and never all of its tokens, since the last one must be
// computed to sample from.
func (c *Core) prefixHit(s *Seq) []kv.BlockID {
	if len(s.blocks) > 0 {
		return nil
	}
	s.hashes = kv.AppendBlockHashes(s.hashes, c.seed, s.toks, c.p.BlockSize)
	maxBlocks := min((len(s.toks)-1)/c.p.BlockSize, len(s.hashes))
	return c.pool.Lookup(s.hashes[:maxBlocks])
}

// admit tries to give a waiting sequence its first chunk. started reports a
// remote KV transfer begun instead; ok is false if memory is short.
func (c *Core) admit(s *Seq, budget int, plan *Plan) (started, ok bool) {
	hit := c.prefixHit(s)
	computed := s.numComputed
	if len(s.blocks) == 0 {
		computed = len(hit) * c.p.BlockSize
	}
	if s.req.RemotePrefill && !s.transferDone {
		if target := c.transferTarget(s); target > computed {
			return c.startTransfer(s, hit, target, plan)
		}
		s.transferDone = true // nothing to receive: run it as a local request
	}
	n := min(len(s.toks)-computed, budget)
	need := c.p.BlocksFor(computed+n) - len(hit) - len(s.blocks)
	if need+c.pool.Evictable(hit) > c.pool.NumFree() {
		return false, false
	}
	c.take(s, hit, need)
	c.firstAdmission(s, len(hit)*c.p.BlockSize, computed)
	s.numComputed = computed
	plan.add(s, n)
	return false, true
}

// take acquires the prefix-cache hit and allocates need fresh blocks.
func (c *Core) take(s *Seq, hit []kv.BlockID, need int) {
	c.pool.Acquire(hit)
	s.blocks = append(s.blocks, hit...)
	s.numCachedBlocks += len(hit)
	if need > 0 {
		ids, _ := c.pool.Allocate(need)
		s.blocks = append(s.blocks, ids...)
	}
}

func (c *Core) firstAdmission(s *Seq, localHit, cached int) {
	if s.admitted {
		return
	}
	s.admitted = true
	s.cachedTokens = cached
	c.stats.PrefixQueries += uint64(s.numPrompt)
	c.stats.PrefixHits += uint64(localHit)
	c.stats.PromptTokens += uint64(s.numPrompt)
}

// transferTarget is how many prompt tokens a remote prefill delivers: every
// full block of the prompt, less one token if that is the whole prompt, the
// way vLLM's NIXL connector leaves the last token to compute locally.
func (c *Core) transferTarget(s *Seq) int {
	target := s.numPrompt / c.p.BlockSize * c.p.BlockSize
	if target == len(s.toks) {
		target--
	}
	return target
}

// startTransfer reserves blocks for the whole prompt (the received KV and
// the tokens computed after it) and starts the transfer. Transfers queue on
// the engine's one link.
func (c *Core) startTransfer(s *Seq, hit []kv.BlockID, target int, plan *Plan) (started, ok bool) {
	local := len(hit) * c.p.BlockSize
	need := c.p.BlocksFor(s.numPrompt) - len(hit)
	if need+c.pool.Evictable(hit) > c.pool.NumFree() {
		return false, false
	}
	c.take(s, hit, need)
	c.firstAdmission(s, local, target)
	s.numComputed = local
	s.transferring = true
	s.transferTarget = target
	start := max(c.now, c.linkFree)
	s.readyAt = start + c.p.Cost.TransferTime(target-local)
	c.linkFree = s.readyAt
	plan.Transfers = append(plan.Transfers, s)
	return true, true
}

func (c *Core) landTransfer(s *Seq) {
	s.transferring = false
	s.transferDone = true
	s.numComputed = s.transferTarget
	c.cacheFull(s)
}
