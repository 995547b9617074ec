package kvevents

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/cespare/xxhash/v2"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds nesting in skipped values, so a hostile payload cannot
// recurse the decoder into a stack overflow.
const maxDepth = 16

// reader wraps a msgpack decoder over a byte slice so that every length
// read from the input is checked against the bytes that remain: a payload
// cannot make the decoder allocate more than it could fill.
type reader struct {
	payload []byte
	r       *bytes.Reader
	d       *msgpack.Decoder
}

func newReader(payload []byte) *reader {
	r := bytes.NewReader(payload)
	// bytes.Reader is an io.ByteScanner, so the decoder reads it directly
	// without buffering and r.Len() is what is left.
	return &reader{payload: payload, r: r, d: msgpack.NewDecoder(r)}
}

// pos is the offset of the next unread byte.
func (x *reader) pos() int { return len(x.payload) - x.r.Len() }

func (x *reader) peek() (byte, error) { return x.d.PeekCode() }

func (x *reader) isNil() bool {
	c, err := x.peek()
	return err == nil && c == msgpcode.Nil
}

func (x *reader) bound(n int, what string) (int, error) {
	if n > x.r.Len() {
		return 0, fmt.Errorf("%s of %d elements in %d remaining bytes", what, n, x.r.Len())
	}
	return n, nil
}

// arrayLen reads an array header; a nil reads as an empty array.
func (x *reader) arrayLen() (int, error) {
	n, err := x.d.DecodeArrayLen()
	if err != nil || n < 0 {
		return 0, err
	}
	return x.bound(n, "array")
}

func (x *reader) mapLen() (int, error) {
	n, err := x.d.DecodeMapLen()
	if err != nil || n < 0 {
		return 0, err
	}
	return x.bound(n, "map")
}

func (x *reader) isArray() bool {
	c, err := x.peek()
	return err == nil && (msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32)
}

func (x *reader) isMap() bool {
	c, err := x.peek()
	return err == nil && (msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32)
}

func (x *reader) str() (string, error) {
	c, err := x.peek()
	if err != nil {
		return "", err
	}
	if !msgpcode.IsString(c) && c != msgpcode.Nil {
		return "", fmt.Errorf("want a string, got msgpack code %#x", c)
	}
	return x.d.DecodeString() // reads through a growing buffer: bounded by the input
}

// hash reads a block hash: an integer (negative ones are Python's signed
// hashes, kept as their two's complement), or bytes whose low 64 bits,
// big-endian, are taken as vLLM does when it converts hashes to integers.
func (x *reader) hash() (uint64, error) {
	c, err := x.peek()
	if err != nil {
		return 0, err
	}
	if !msgpcode.IsBin(c) && !msgpcode.IsString(c) {
		return x.d.DecodeUint64()
	}
	n, err := x.d.DecodeBytesLen()
	if err != nil {
		return 0, err
	}
	if _, err := x.bound(n, "hash bytes"); err != nil {
		return 0, err
	}
	var buf [8]byte
	skip := max(0, n-8)
	if _, err := x.r.Seek(int64(skip), io.SeekCurrent); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(x.r, buf[8-(n-skip):]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(buf[:]), nil
}

func (x *reader) hashes() ([]uint64, error) {
	n, err := x.arrayLen()
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		if out[i], err = x.hash(); err != nil {
			return nil, fmt.Errorf("block hash %d: %w", i, err)
		}
	}
	return out, nil
}

func (x *reader) optHash() (*uint64, error) {
	if x.isNil() {
		return nil, x.d.DecodeNil()
	}
	h, err := x.hash()
	return &h, err
}

func (x *reader) optInt() (*int64, error) {
	if x.isNil() {
		return nil, x.d.DecodeNil()
	}
	v, err := x.d.DecodeInt64()
	return &v, err
}

func (x *reader) optStr() (string, error) {
	if x.isNil() {
		return "", x.d.DecodeNil()
	}
	return x.str()
}

func (x *reader) tokens() ([]uint32, error) {
	n, err := x.arrayLen()
	if err != nil {
		return nil, err
	}
	out := make([]uint32, n)
	for i := range out {
		v, err := x.d.DecodeUint64()
		if err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		out[i] = uint32(v)
	}
	return out, nil
}

// extraKeys reads BlockStored.extra_keys: nil, or one entry per block,
// each nil or a tuple of whatever the engine hashed in. A non-nil entry
// becomes a non-zero digest of its raw bytes: equal keys, equal digests.
func (x *reader) extraKeys() ([]uint64, error) {
	if x.isNil() {
		return nil, x.d.DecodeNil()
	}
	n, err := x.arrayLen()
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		if x.isNil() {
			if err := x.d.DecodeNil(); err != nil {
				return nil, err
			}
			continue
		}
		start := x.pos()
		if err := x.skip(1); err != nil {
			return nil, fmt.Errorf("extra key %d: %w", i, err)
		}
		out[i] = xxhash.Sum64(x.payload[start:x.pos()]) | 1
	}
	return out, nil
}

// skip passes over one value of any shape, nesting at most maxDepth deep.
func (x *reader) skip(depth int) error {
	if depth > maxDepth {
		return errors.New("values nested too deep")
	}
	var n int
	var err error
	switch {
	case x.isArray():
		n, err = x.arrayLen()
	case x.isMap():
		n, err = x.mapLen()
		n *= 2
	default:
		return x.d.Skip()
	}
	for i := 0; i < n && err == nil; i++ {
		err = x.skip(depth + 1)
	}
	return err
}

func (x *reader) skipN(n int) error {
	for ; n > 0; n-- {
		if err := x.skip(1); err != nil {
			return err
		}
	}
	return nil
}

// Decode parses one EventBatch payload in any of the layouts the package
// documentation lists. Events with tags it does not know are left out.
func Decode(payload []byte) (Batch, error) {
	x := newReader(payload)
	var b Batch
	var err error
	switch {
	case x.isArray():
		err = x.batchArray(&b)
	case x.isMap():
		err = x.batchMap(&b)
	default:
		err = errors.New("an event batch must be a msgpack array or map")
	}
	if err == nil && (math.IsNaN(b.TS) || math.IsInf(b.TS, 0)) {
		err = fmt.Errorf("ts %v is not a time", b.TS)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("decode KV event batch: %w", err)
	}
	return b, nil
}

func (x *reader) batchArray(b *Batch) error {
	n, err := x.arrayLen()
	if err != nil {
		return err
	}
	if n < 2 {
		return fmt.Errorf("batch array of %d elements, want [ts, events, ...]", n)
	}
	if b.TS, err = x.d.DecodeFloat64(); err != nil {
		return fmt.Errorf("ts: %w", err)
	}
	if b.Events, err = x.events(); err != nil {
		return err
	}
	if n >= 3 {
		if b.DataParallelRank, err = x.optInt(); err != nil {
			return fmt.Errorf("data_parallel_rank: %w", err)
		}
	}
	return x.skipN(n - 3)
}

func (x *reader) batchMap(b *Batch) error {
	n, err := x.mapLen()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		key, err := x.str()
		if err != nil {
			return fmt.Errorf("batch key: %w", err)
		}
		switch key {
		case "ts":
			b.TS, err = x.d.DecodeFloat64()
		case "events":
			b.Events, err = x.events()
		case "data_parallel_rank":
			b.DataParallelRank, err = x.optInt()
		default:
			err = x.skip(1)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return nil
}

func (x *reader) events() ([]Event, error) {
	n, err := x.arrayLen()
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	out := make([]Event, 0, n)
	for i := 0; i < n; i++ {
		var e Event
		switch {
		case x.isArray():
			err = x.eventArray(&e)
		case x.isMap():
			err = x.eventMap(&e)
		default:
			err = errors.New("must be an array or a map")
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if e.Kind != 0 {
			out = append(out, e)
		}
	}
	return out, nil
}

// fieldOrder is each event's positional layout in the array form, after
// the tag; the map form names the same fields.
var fieldOrder = map[Kind][]string{
	BlockStored: {"block_hashes", "parent_block_hash", "token_ids", "block_size", "lora_id", "medium",
		"lora_name", "extra_keys", "group_idx", "kv_cache_spec_kind", "kv_cache_spec_sliding_window"},
	BlockRemoved:     {"block_hashes", "medium", "group_idx"},
	AllBlocksCleared: {},
}

// minFields is how many fields after the tag an array-form event must have.
var minFields = map[Kind]int{BlockStored: 4, BlockRemoved: 1, AllBlocksCleared: 0}

func (x *reader) eventArray(e *Event) error {
	n, err := x.arrayLen()
	if err != nil {
		return err
	}
	if n < 1 {
		return errors.New("empty event array, want [tag, ...]")
	}
	tag, err := x.str()
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	kind, ok := kindOf(tag)
	if !ok {
		return x.skipN(n - 1) // an event type this decoder does not know
	}
	if n-1 < minFields[kind] {
		return fmt.Errorf("%s with %d fields, want at least %d", tag, n-1, minFields[kind])
	}
	e.Kind = kind
	order := fieldOrder[kind]
	for i := 0; i < n-1; i++ {
		name := ""
		if i < len(order) {
			name = order[i]
		}
		if err := x.field(e, name); err != nil {
			return fmt.Errorf("%s.%s: %w", tag, name, err)
		}
	}
	return nil
}

func (x *reader) eventMap(e *Event) error {
	n, err := x.mapLen()
	if err != nil {
		return err
	}
	tag := ""
	for i := 0; i < n; i++ {
		key, err := x.str()
		if err != nil {
			return fmt.Errorf("event key: %w", err)
		}
		if key == "type" {
			tag, err = x.str()
		} else {
			err = x.field(e, key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	kind, ok := kindOf(tag)
	if !ok {
		*e = Event{} // unknown or missing tag: dropped
		return nil
	}
	e.Kind = kind
	if kind != BlockStored {
		*e = Event{Kind: kind, BlockHashes: e.BlockHashes, Medium: e.Medium, GroupIdx: e.GroupIdx}
		if kind == AllBlocksCleared {
			*e = Event{Kind: kind}
		}
	}
	return nil
}

// field reads the named field into e; unknown names are skipped.
func (x *reader) field(e *Event, name string) error {
	var err error
	switch name {
	case "block_hashes":
		e.BlockHashes, err = x.hashes()
	case "parent_block_hash":
		e.ParentBlockHash, err = x.optHash()
	case "token_ids":
		e.TokenIDs, err = x.tokens()
	case "block_size":
		var v int64
		v, err = x.d.DecodeInt64()
		e.BlockSize = int(v)
	case "lora_id":
		e.LoRAID, err = x.optInt()
	case "medium":
		e.Medium, err = x.optStr()
	case "lora_name":
		e.LoRAName, err = x.optStr()
	case "extra_keys":
		e.ExtraKeys, err = x.extraKeys()
	case "group_idx":
		e.GroupIdx, err = x.optInt()
	case "kv_cache_spec_kind":
		e.SpecKind, err = x.optStr()
	default:
		err = x.skip(1)
	}
	return err
}
