package kvevents

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Kind is an event's msgspec tag.
type Kind uint8

const (
	// BlockStored: blocks entered the prefix cache.
	BlockStored Kind = iota + 1
	// BlockRemoved: blocks left the prefix cache.
	BlockRemoved
	// AllBlocksCleared: the whole prefix cache was dropped.
	AllBlocksCleared
)

var kindNames = map[Kind]string{
	BlockStored:      "BlockStored",
	BlockRemoved:     "BlockRemoved",
	AllBlocksCleared: "AllBlocksCleared",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

func kindOf(tag string) (Kind, bool) {
	for k, s := range kindNames {
		if s == tag {
			return k, true
		}
	}
	return 0, false
}

// MediumGPU is vLLM's medium for blocks in accelerator memory (MEDIUM_GPU
// in kv_events.py); KV connectors that offload report others, e.g. "CPU".
const MediumGPU = "GPU"

// Event is one KV-cache event. Fields a kind does not carry stay zero.
type Event struct {
	Kind Kind
	// BlockHashes are the blocks stored or removed, in chain order.
	BlockHashes []uint64
	// ParentBlockHash precedes BlockHashes[0] in its chain; nil when
	// BlockHashes[0] is the chain's first block. BlockStored only.
	ParentBlockHash *uint64
	// TokenIDs are the tokens of all the stored blocks. BlockStored only.
	TokenIDs []uint32
	// BlockSize is the tokens per block. BlockStored only.
	BlockSize int
	// LoRAID is the adapter's integer id, nil for the base model
	// (deprecated in vLLM in favour of LoRAName).
	LoRAID *int64
	// Medium is where the blocks live ("GPU", "CPU", ...); empty when the
	// publisher sent none.
	Medium string
	// LoRAName is the adapter's name, empty for the base model or when
	// the publisher predates the field.
	LoRAName string
	// ExtraKeys has one entry per stored block when the publisher sent
	// extra_keys: 0 for a block hashed from its tokens alone, otherwise a
	// non-zero digest of the block's extra keys (multimodal hashes,
	// cache_salt, ...), which the engine mixed into its hash.
	ExtraKeys []uint64
	// GroupIdx is the KV cache group (hybrid models have several); nil
	// when not sent.
	GroupIdx *int64
	// SpecKind is the group's cache kind ("full_attention",
	// "sliding_window", ...); empty when not sent. BlockStored only.
	SpecKind string
}

// Batch is the events of one engine step.
type Batch struct {
	// TS is the publish time in seconds since the Unix epoch.
	TS     float64
	Events []Event
	// DataParallelRank is the publishing engine's data-parallel rank; nil
	// when the publisher did not send one.
	DataParallelRank *int64
}

// Layout is the msgpack shape Encode writes.
type Layout uint8

const (
	// LayoutArray is msgspec's array_like form, vLLM v0.11.2's: every
	// struct a positional array, events tagged by their class name first,
	// BlockStored with exactly the fields through medium.
	LayoutArray Layout = iota
	// LayoutMap is the shape after vLLM PR #42892: the batch stays a
	// positional array, each event is a map tagged by "type", fields by
	// name; LoRAName and, when set, ExtraKeys, GroupIdx and SpecKind are
	// written too (ExtraKeys as nil or a one-element array of the digest).
	LayoutMap
)

// Encode returns b as a vLLM EventBatch payload in the array layout.
func Encode(b Batch) []byte { return EncodeLayout(b, LayoutArray) }

// EncodeLayout returns b as a vLLM EventBatch payload in layout l.
func EncodeLayout(b Batch, l Layout) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	// Writes to a bytes.Buffer cannot fail; ignore the errors wholesale.
	n := 2
	if b.DataParallelRank != nil {
		n = 3
	}
	_ = enc.EncodeArrayLen(n)
	_ = enc.EncodeFloat64(b.TS)
	_ = enc.EncodeArrayLen(len(b.Events))
	for i := range b.Events {
		if l == LayoutMap {
			encodeEventMap(enc, &b.Events[i])
		} else {
			encodeEvent(enc, &b.Events[i])
		}
	}
	if b.DataParallelRank != nil {
		_ = enc.EncodeInt(*b.DataParallelRank)
	}
	return buf.Bytes()
}

func encodeEvent(enc *msgpack.Encoder, e *Event) {
	switch e.Kind {
	case BlockStored:
		_ = enc.EncodeArrayLen(7)
		_ = enc.EncodeString(e.Kind.String())
		encodeHashes(enc, e.BlockHashes)
		encodeOptHash(enc, e.ParentBlockHash)
		encodeTokens(enc, e.TokenIDs)
		_ = enc.EncodeInt(int64(e.BlockSize))
		encodeOptInt(enc, e.LoRAID)
		encodeOptStr(enc, e.Medium)
	case BlockRemoved:
		_ = enc.EncodeArrayLen(3)
		_ = enc.EncodeString(e.Kind.String())
		encodeHashes(enc, e.BlockHashes)
		encodeOptStr(enc, e.Medium)
	default:
		_ = enc.EncodeArrayLen(1)
		_ = enc.EncodeString(AllBlocksCleared.String())
	}
}

// encodeEventMap writes the fields in vLLM's declaration order; msgspec
// omits fields with defaults (extra_keys, group_idx, kv_cache_spec_*) when
// they hold them, so do we.
func encodeEventMap(enc *msgpack.Encoder, e *Event) {
	switch e.Kind {
	case BlockStored:
		n := 8
		for _, set := range []bool{e.ExtraKeys != nil, e.GroupIdx != nil, e.SpecKind != ""} {
			if set {
				n++
			}
		}
		_ = enc.EncodeMapLen(n)
		encodeKey(enc, "type", e.Kind.String())
		_ = enc.EncodeString("block_hashes")
		encodeHashes(enc, e.BlockHashes)
		_ = enc.EncodeString("parent_block_hash")
		encodeOptHash(enc, e.ParentBlockHash)
		_ = enc.EncodeString("token_ids")
		encodeTokens(enc, e.TokenIDs)
		_ = enc.EncodeString("block_size")
		_ = enc.EncodeInt(int64(e.BlockSize))
		_ = enc.EncodeString("lora_id")
		encodeOptInt(enc, e.LoRAID)
		_ = enc.EncodeString("medium")
		encodeOptStr(enc, e.Medium)
		_ = enc.EncodeString("lora_name")
		encodeOptStr(enc, e.LoRAName)
		if e.ExtraKeys != nil {
			_ = enc.EncodeString("extra_keys")
			_ = enc.EncodeArrayLen(len(e.ExtraKeys))
			for _, k := range e.ExtraKeys {
				if k == 0 {
					_ = enc.EncodeNil()
				} else {
					_ = enc.EncodeArrayLen(1)
					_ = enc.EncodeUint(k)
				}
			}
		}
		if e.GroupIdx != nil {
			_ = enc.EncodeString("group_idx")
			_ = enc.EncodeInt(*e.GroupIdx)
		}
		if e.SpecKind != "" {
			encodeKey(enc, "kv_cache_spec_kind", e.SpecKind)
		}
	case BlockRemoved:
		n := 3
		if e.GroupIdx != nil {
			n++
		}
		_ = enc.EncodeMapLen(n)
		encodeKey(enc, "type", e.Kind.String())
		_ = enc.EncodeString("block_hashes")
		encodeHashes(enc, e.BlockHashes)
		_ = enc.EncodeString("medium")
		encodeOptStr(enc, e.Medium)
		if e.GroupIdx != nil {
			_ = enc.EncodeString("group_idx")
			_ = enc.EncodeInt(*e.GroupIdx)
		}
	default:
		_ = enc.EncodeMapLen(1)
		encodeKey(enc, "type", AllBlocksCleared.String())
	}
}

func encodeKey(enc *msgpack.Encoder, key, value string) {
	_ = enc.EncodeString(key)
	_ = enc.EncodeString(value)
}

func encodeHashes(enc *msgpack.Encoder, hashes []uint64) {
	_ = enc.EncodeArrayLen(len(hashes))
	for _, h := range hashes {
		_ = enc.EncodeUint(h)
	}
}

func encodeTokens(enc *msgpack.Encoder, tokens []uint32) {
	_ = enc.EncodeArrayLen(len(tokens))
	for _, t := range tokens {
		_ = enc.EncodeUint(uint64(t))
	}
}

func encodeOptHash(enc *msgpack.Encoder, h *uint64) {
	if h == nil {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeUint(*h)
}

func encodeOptInt(enc *msgpack.Encoder, v *int64) {
	if v == nil {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeInt(*v)
}

func encodeOptStr(enc *msgpack.Encoder, s string) {
	if s == "" {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeString(s)
}
