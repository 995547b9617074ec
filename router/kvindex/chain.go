package kvindex

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// root is the parent of every chain's first block. Chains need no model
// seed: each endpoint and LoRA adapter has its own set.
const root uint64 = 0x74616e64656d6b76 // "tandemkv"

// chainHash is the router's hash of one block: xxhash64 of the parent
// hash (8 bytes little-endian) followed by each token id (4 bytes
// little-endian). buf is scratch space, returned for reuse.
func chainHash(buf []byte, parent uint64, tokens []uint32) (uint64, []byte) {
	buf = binary.LittleEndian.AppendUint64(buf[:0], parent)
	for _, t := range tokens {
		buf = binary.LittleEndian.AppendUint32(buf, t)
	}
	return xxhash.Sum64(buf), buf
}

// AppendHashes appends to dst the router's chained hashes of the full
// blocks of blockTokens tokens in tokens, the keys Match looks up.
func AppendHashes(dst []uint64, tokens []uint32, blockTokens int) []uint64 {
	if blockTokens <= 0 {
		return dst
	}
	var stack [8 + 4*64]byte
	buf := stack[:0]
	parent := root
	for i := 0; (i+1)*blockTokens <= len(tokens); i++ {
		parent, buf = chainHash(buf, parent, tokens[i*blockTokens:(i+1)*blockTokens])
		dst = append(dst, parent)
	}
	return dst
}

// mixExtra makes a block whose engine hash covered extra keys (images,
// cache_salt) distinct from a plain block of the same tokens, and so
// unmatchable by a request's plain token chain, as it is in the engine.
func mixExtra(h, extra uint64) uint64 {
	z := h ^ extra ^ 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
