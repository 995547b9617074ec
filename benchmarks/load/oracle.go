package load

import (
	"container/list"

	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
)

// OracleResult is the best prefix-cache hit rate a workload allows, in
// vLLM's terms: hit tokens over prompt tokens.
type OracleResult struct {
	PromptTokens int64 `json:"prompt_tokens"`
	// Infinite: every block of every earlier prompt is still cached.
	InfiniteHits int64   `json:"infinite_hits"`
	Infinite     float64 `json:"infinite"`
	// LRU: one cache of CapacityBlocks blocks under LRU, as if the fleet's
	// memory were pooled and every request could use all of it; 0 blocks
	// means no capacity was known and LRU equals Infinite.
	CapacityBlocks int     `json:"capacity_blocks"`
	LRUHits        int64   `json:"lru_hits"`
	LRU            float64 `json:"lru"`
}

// lruSet is a set of block hashes with least-recently-used eviction.
type lruSet struct {
	capacity int
	order    *list.List // front: most recently used
	index    map[uint64]*list.Element
}

func newLRU(capacity int) *lruSet {
	return &lruSet{capacity: capacity, order: list.New(), index: make(map[uint64]*list.Element)}
}

func (c *lruSet) has(h uint64) bool { _, ok := c.index[h]; return ok }

func (c *lruSet) touch(h uint64) {
	if e, ok := c.index[h]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.index[h] = c.order.PushFront(h)
	if c.capacity > 0 && c.order.Len() > c.capacity {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.index, old.Value.(uint64))
	}
}

// hitBlocks is the length of the longest prefix of hashes in the cache.
func hitBlocks(hashes []uint64, has func(uint64) bool) int {
	n := 0
	for n < len(hashes) && has(hashes[n]) {
		n++
	}
	return n
}

// Oracle computes the best hit rates for prompts sent in order, outputs[i]
// tokens generated after prompt i, blocks of blockSize tokens.
//
// A request hits the longest run of its full prompt blocks, from the start,
// that some earlier request already brought into the cache, at most
// (len−1)/blockSize blocks since an engine always computes the last prompt
// token (vLLM's rule, and the simulator's). Block identity is the chained
// hash of package kv: equal hashes mean equal whole prefixes.
//
// The infinite oracle keeps every block ever seen. The LRU oracle, after
// each request, marks the request's prompt blocks used — last block first,
// so a prefix is more recent than its tail and a tail is evicted first, as
// vLLM frees a finished request's blocks in reverse — and then adds the
// blocks its generated tokens filled, which no later prompt can hit (the
// workloads' prompts never contain engine output) but which take space as
// they do in an engine. Requests' own blocks being pinned while they run is
// not modelled, nor is the fleet's memory being split across engines: the
// LRU figure is what a perfect router could approach, not a bound on it.
func Oracle(prompts [][]uint32, outputs []int, blockSize, capacityBlocks int) OracleResult {
	res := OracleResult{CapacityBlocks: capacityBlocks}
	seen := make(map[uint64]struct{})
	lru := newLRU(capacityBlocks)
	var filler uint64
	for i, p := range prompts {
		hashes := kv.AppendBlockHashes(nil, 0, p, blockSize)
		usable := hashes[:min(len(hashes), max(0, (len(p)-1)/blockSize))]
		res.PromptTokens += int64(len(p))
		res.InfiniteHits += int64(blockSize * hitBlocks(usable, func(h uint64) bool { _, ok := seen[h]; return ok }))
		res.LRUHits += int64(blockSize * hitBlocks(usable, lru.has))
		for _, h := range hashes {
			seen[h] = struct{}{}
		}
		for j := len(hashes) - 1; j >= 0; j-- {
			lru.touch(hashes[j])
		}
		// Blocks the output fills: full blocks of prompt+output−1 tokens
		// beyond the prompt's own full blocks.
		out := 0
		if i < len(outputs) {
			out = (len(p)+outputs[i]-1)/blockSize - len(hashes)
		}
		for ; out > 0; out-- {
			filler++
			lru.touch(^filler) // unique: no prompt hash is expected there
		}
	}
	if res.PromptTokens > 0 {
		res.Infinite = float64(res.InfiniteHits) / float64(res.PromptTokens)
		res.LRU = float64(res.LRUHits) / float64(res.PromptTokens)
	}
	return res
}
