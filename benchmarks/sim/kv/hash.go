// Package kv models an engine's KV-cache memory the way vLLM's V1 block
// manager does: a fixed pool of blocks of BlockSize tokens, a prefix cache
// that maps chained block hashes to blocks, reference counts, and a free
// queue that doubles as the LRU eviction order.
//
// Block hashes are chained: the hash of block i covers the hash of block i-1
// and the token ids of block i, and the chain starts from a seed derived from
// the model name. Equal hashes therefore mean equal whole prefixes, so one map
// lookup per block finds the longest cached prefix of a prompt. Only full
// blocks are hashed and cached.
//
// A block is in one of three states: in use (reference count > 0), free and
// cached (count 0, still findable by hash), or free and empty. Free blocks sit
// in a queue; allocation takes from the front and evicts the cached hash of
// the block it takes. Callers release a finished sequence's blocks last block
// first, so a sequence's tail is evicted before its shared prefix, as in vLLM.
package kv

import "encoding/binary"

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Seed is the start of every hash chain for a model: the 64-bit FNV-1a hash
// of the model name, so two models never share cache entries.
func Seed(model string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(model); i++ {
		h ^= uint64(model[i])
		h *= fnvPrime64
	}
	return h
}

// SeedWith is Seed(model) further seeded by hashSeed (the engine's hash
// seed); hashSeed 0 gives Seed(model).
func SeedWith(model string, hashSeed uint64) uint64 {
	s := Seed(model)
	if hashSeed == 0 {
		return s
	}
	return ChainHash(s, []uint32{uint32(hashSeed), uint32(hashSeed >> 32)})
}

// ChainHash is the hash of one block: 64-bit FNV-1a over the parent hash and
// then every token id, each as 8 and 4 little-endian bytes.
func ChainHash(parent uint64, tokens []uint32) uint64 {
	var buf [8]byte
	h := uint64(fnvOffset64)
	binary.LittleEndian.PutUint64(buf[:], parent)
	for _, b := range buf {
		h ^= uint64(b)
		h *= fnvPrime64
	}
	for _, t := range tokens {
		binary.LittleEndian.PutUint32(buf[:4], t)
		for _, b := range buf[:4] {
			h ^= uint64(b)
			h *= fnvPrime64
		}
	}
	return h
}

// AppendBlockHashes extends hashes, the chain of the first len(hashes) full
// blocks of tokens, with the hashes of the remaining full blocks.
func AppendBlockHashes(hashes []uint64, seed uint64, tokens []uint32, blockSize int) []uint64 {
	parent := seed
	if len(hashes) > 0 {
		parent = hashes[len(hashes)-1]
	}
	for i := len(hashes); (i+1)*blockSize <= len(tokens); i++ {
		parent = ChainHash(parent, tokens[i*blockSize:(i+1)*blockSize])
		hashes = append(hashes, parent)
	}
	return hashes
}
