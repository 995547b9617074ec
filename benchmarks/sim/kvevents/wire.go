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

// MediumGPU is vLLM's medium for blocks in accelerator memory.
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
	// LoRAID is the adapter the blocks belong to, nil for the base model.
	LoRAID *int64
	// Medium is where the blocks live ("GPU"); empty when not sent.
	Medium string
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

// Encode returns b as a vLLM EventBatch payload (array form).
func Encode(b Batch) []byte {
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
		encodeEvent(enc, &b.Events[i])
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
		if e.ParentBlockHash != nil {
			_ = enc.EncodeUint(*e.ParentBlockHash)
		} else {
			_ = enc.EncodeNil()
		}
		_ = enc.EncodeArrayLen(len(e.TokenIDs))
		for _, t := range e.TokenIDs {
			_ = enc.EncodeUint(uint64(t))
		}
		_ = enc.EncodeInt(int64(e.BlockSize))
		if e.LoRAID != nil {
			_ = enc.EncodeInt(*e.LoRAID)
		} else {
			_ = enc.EncodeNil()
		}
		encodeMedium(enc, e.Medium)
	case BlockRemoved:
		_ = enc.EncodeArrayLen(3)
		_ = enc.EncodeString(e.Kind.String())
		encodeHashes(enc, e.BlockHashes)
		encodeMedium(enc, e.Medium)
	default:
		_ = enc.EncodeArrayLen(1)
		_ = enc.EncodeString(AllBlocksCleared.String())
	}
}

func encodeHashes(enc *msgpack.Encoder, hashes []uint64) {
	_ = enc.EncodeArrayLen(len(hashes))
	for _, h := range hashes {
		_ = enc.EncodeUint(h)
	}
}

func encodeMedium(enc *msgpack.Encoder, medium string) {
	if medium == "" {
		_ = enc.EncodeNil()
		return
	}
	_ = enc.EncodeString(medium)
}
