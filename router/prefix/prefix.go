// Package prefix estimates which engine already holds a prompt's prefix in
// its KV cache, without a tokenizer.
//
// # Blocks and hashes
//
// The prompt's canonical rendering (package request) is cut into blocks of
// BlockBytes bytes. A block's hash is 64-bit xxhash of its bytes seeded by
// the previous block's hash; the first block is seeded by the hash of the
// model name. Equal hashes therefore mean equal whole prefixes for the same
// model, and only full blocks are hashed, as engines do with token blocks.
//
// Why bytes and not tokens: the router does not know the engine's
// tokenizer, and does not need it. Engines cache whole token blocks (vLLM:
// 16 tokens); a byte block of 64 bytes is about 16 tokens of English for
// Llama-3-class tokenizers (about 4 bytes a token), so a byte-block match
// and a token-block match agree to within one block. Hashing bytes costs
// about 0.1 ns a byte, a tokenizer about 100 times more. Token counts, where
// the router needs them (the TTFT model, the prefill/decode threshold), are
// bytes divided by a configured bytes-per-token; the TTFT model's learned
// rates absorb any error in that constant.
//
// # The index
//
// Each endpoint has an Index: an LRU set of block hashes the router believes
// the engine holds, sized like the engine's KV cache (num_gpu_blocks ×
// block_size tokens, converted to byte blocks). After routing a request to
// an endpoint the router inserts the request's blocks there, last block
// first, so the first block is the most recently used: as in vLLM, a
// sequence's tail is evicted before its shared head, and the set of cached
// blocks of a prompt stays a prefix. Match relies on that: it finds the
// longest cached prefix by binary search over the chain, O(log n) lookups
// instead of n.
//
// # Sharing with other router replicas
//
// Several router replicas behind one Service each see only some turns of a
// conversation. An index can report every local insertion to an observer
// (Observe), which package peers batches to the other replicas; they apply
// it with Learn, which inserts exactly like Insert but is not observed, so
// a learned insertion is never echoed back. Export and Import move a whole
// index, in recency order, to a replica that starts late.
package prefix

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// DefaultBlockBytes is the default block size: about 16 tokens.
const DefaultBlockBytes = 64

// Seed is the start of every hash chain for a model.
func Seed(model string) uint64 { return xxhash.Sum64String(model) }

// AppendHashes appends to dst the chained hashes of every full block of
// prompt.
func AppendHashes(dst []uint64, seed uint64, prompt []byte, blockBytes int) []uint64 {
	parent := seed
	var d xxhash.Digest
	for off := 0; off+blockBytes <= len(prompt); off += blockBytes {
		d.ResetWithSeed(parent)
		_, _ = d.Write(prompt[off : off+blockBytes])
		parent = d.Sum64()
		dst = append(dst, parent)
	}
	return dst
}

// Index is the set of block hashes one endpoint is believed to hold, with
// least-recently-used eviction. It is safe for concurrent use.
type Index struct {
	mu  sync.Mutex
	lru *lru
	// onInsert, if set, hears every Insert (not Learn or Import).
	onInsert func(hashes []uint64)
}

// Observe makes f hear every later Insert, after the index is updated,
// with the inserted chain (f must copy it to keep it). Call it before the
// index is shared.
func (x *Index) Observe(f func(hashes []uint64)) { x.onInsert = f }

// NewIndex returns an index holding at most capacity blocks.
func NewIndex(capacity int) *Index {
	return &Index{lru: newLRU(capacity)}
}

// Match returns how many leading blocks of hashes the index holds. It
// assumes cached blocks form a prefix (see the package doc) and so needs
// only O(log n) lookups; if they do not, it still returns a k such that
// block k-1 is held and block k is not.
func (x *Index) Match(hashes []uint64) int {
	if len(hashes) == 0 {
		return 0
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.lru.contains(hashes[0]) {
		return 0
	}
	// Invariant: hashes[lo-1] is held; hashes[hi] is not (hi = n: none).
	lo, hi := 1, len(hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if x.lru.contains(hashes[mid]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Insert records that the endpoint now holds all of hashes, touching the
// last block first so the first is the most recent.
func (x *Index) Insert(hashes []uint64) {
	x.Learn(hashes)
	if x.onInsert != nil && len(hashes) > 0 {
		x.onInsert(hashes)
	}
}

// Learn is Insert for knowledge from elsewhere (another router replica):
// the same update, not reported to the observer.
func (x *Index) Learn(hashes []uint64) {
	x.mu.Lock()
	for i := len(hashes) - 1; i >= 0; i-- {
		x.lru.add(hashes[i])
	}
	x.mu.Unlock()
}

// Export appends to dst the index's blocks from least to most recently
// used, at most limit of the most recent ones (limit <= 0: all).
func (x *Index) Export(dst []uint64, limit int) []uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	start := len(dst)
	dst = x.lru.keys(dst)
	if limit > 0 && len(dst)-start > limit {
		dst = append(dst[:start], dst[len(dst)-limit:]...) // the newest limit
	}
	return dst
}

// Import adds blocks given from least to most recently used (as Export
// gives them), so that they keep their order; blocks already held are
// touched. It is not reported to the observer.
func (x *Index) Import(blocks []uint64) {
	x.mu.Lock()
	for _, h := range blocks {
		x.lru.add(h)
	}
	x.mu.Unlock()
}

// Remove forgets blocks, e.g. on a KV event saying the engine evicted them.
func (x *Index) Remove(hashes []uint64) {
	x.mu.Lock()
	for _, h := range hashes {
		x.lru.remove(h)
	}
	x.mu.Unlock()
}

// Clear forgets every block: the engine restarted or cleared its cache.
func (x *Index) Clear() {
	x.mu.Lock()
	x.lru.purge()
	x.mu.Unlock()
}

// Len is the number of blocks held.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.len()
}

// Resize changes the capacity, evicting the oldest blocks if it shrinks.
func (x *Index) Resize(capacity int) {
	x.mu.Lock()
	x.lru.resize(capacity)
	x.mu.Unlock()
}

// Capacity converts an engine's KV cache size (blocks of tokens) into byte
// blocks of this package.
func Capacity(engineBlocks, engineBlockTokens int, bytesPerToken float64, blockBytes int) int {
	return int(float64(engineBlocks) * float64(engineBlockTokens) * bytesPerToken / float64(blockBytes))
}
