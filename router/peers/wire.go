package peers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Batch is one message between replicas: the sender's own load at each
// endpoint and the prefix-index insertions it made since its last batch
// (or, in a snapshot, its whole index).
type Batch struct {
	// From is the sender's replica id.
	From string
	// Sent is the sender's clock when it built the batch.
	Sent time.Time
	// Snapshot marks a whole index: Chains are Export orders (least to
	// most recently used), applied with Import; otherwise each chain is an
	// insertion, applied with Learn.
	Snapshot bool
	// Loads are the sender's own counters at each endpoint where any is
	// not zero; an endpoint absent has none of the sender's requests.
	Loads  []Load
	Chains []Chain
}

// Load is one replica's own requests at one endpoint.
type Load struct {
	Endpoint                        string
	InFlight, Pending, QueuedTokens int64
}

// Chain is a block-hash chain inserted into an endpoint's index.
type Chain struct {
	Endpoint string
	Hashes   []uint64
}

// The encoding is compact binary, not JSON: a chain of 8-byte hashes is
// most of every batch, and JSON would triple its size and cost a parse.
//
//	"TDP1" | from | sent unix ns (varint) | flags (1: snapshot)
//	| names: count, each a string | loads: count, each name index,
//	  in-flight, pending, queued tokens (uvarints)
//	| chains: count, each name index, hash count, hashes (8 bytes LE)
//
// A string is its length (uvarint) then its bytes. Endpoint names are
// written once per batch and referred to by index.
const magic = "TDP1"

// maxName bounds an endpoint name or replica id on the wire.
const maxName = 1024

// AppendTo appends the batch's encoding to dst.
func (b *Batch) AppendTo(dst []byte) []byte {
	dst = append(dst, magic...)
	dst = appendString(dst, b.From)
	dst = binary.AppendVarint(dst, b.Sent.UnixNano())
	flags := byte(0)
	if b.Snapshot {
		flags = 1
	}
	dst = append(dst, flags)
	index := map[string]uint64{}
	var names []string
	name := func(s string) uint64 {
		i, ok := index[s]
		if !ok {
			i = uint64(len(names))
			index[s] = i
			names = append(names, s)
		}
		return i
	}
	for _, l := range b.Loads {
		name(l.Endpoint)
	}
	for _, c := range b.Chains {
		name(c.Endpoint)
	}
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, s := range names {
		dst = appendString(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Loads)))
	for _, l := range b.Loads {
		dst = binary.AppendUvarint(dst, index[l.Endpoint])
		dst = binary.AppendUvarint(dst, uint64(max(l.InFlight, 0)))
		dst = binary.AppendUvarint(dst, uint64(max(l.Pending, 0)))
		dst = binary.AppendUvarint(dst, uint64(max(l.QueuedTokens, 0)))
	}
	dst = binary.AppendUvarint(dst, uint64(len(b.Chains)))
	for _, c := range b.Chains {
		dst = binary.AppendUvarint(dst, index[c.Endpoint])
		dst = binary.AppendUvarint(dst, uint64(len(c.Hashes)))
		for _, h := range c.Hashes {
			dst = binary.LittleEndian.AppendUint64(dst, h)
		}
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errShort = errors.New("truncated batch")

// decoder reads the encoding; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > maxName || n > uint64(len(d.b)) {
		d.err = fmt.Errorf("string of %d bytes: %w", n, errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a count of items each at least minBytes long, refusing one
// the rest of the input cannot hold (so a corrupt count allocates nothing).
func (d *decoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minBytes) {
		d.err = fmt.Errorf("count %d exceeds the batch: %w", n, errShort)
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// Decode parses one batch.
func Decode(data []byte) (Batch, error) {
	var b Batch
	if len(data) < len(magic) || string(data[:len(magic)]) != magic {
		return b, errors.New("not a peer batch (bad magic)")
	}
	d := &decoder{b: data[len(magic):]}
	b.From = d.string()
	b.Sent = time.Unix(0, d.varint())
	if d.err == nil {
		if len(d.b) == 0 {
			d.err = errShort
		} else {
			b.Snapshot = d.b[0]&1 != 0
			d.b = d.b[1:]
		}
	}
	names := make([]string, d.count(1))
	for i := range names {
		names[i] = d.string()
	}
	ref := func() string {
		i := d.uvarint()
		if d.err == nil && i >= uint64(len(names)) {
			d.err = fmt.Errorf("endpoint index %d of %d names", i, len(names))
		}
		if d.err != nil {
			return ""
		}
		return names[i]
	}
	if n := d.count(4); n > 0 {
		b.Loads = make([]Load, n)
	}
	for i := range b.Loads {
		l := &b.Loads[i]
		l.Endpoint = ref()
		l.InFlight = clamp(d.uvarint())
		l.Pending = clamp(d.uvarint())
		l.QueuedTokens = clamp(d.uvarint())
	}
	if n := d.count(2); n > 0 {
		b.Chains = make([]Chain, n)
	}
	for i := range b.Chains {
		c := &b.Chains[i]
		c.Endpoint = ref()
		n := d.count(8)
		if d.err != nil {
			break
		}
		c.Hashes = make([]uint64, n)
		for j := range c.Hashes {
			c.Hashes[j] = binary.LittleEndian.Uint64(d.b[8*j:])
		}
		d.b = d.b[8*n:]
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the batch", len(d.b))
	}
	if d.err != nil {
		return Batch{}, fmt.Errorf("peer batch: %w", d.err)
	}
	return b, nil
}

// clamp keeps a counter from the wire in int64's range.
func clamp(v uint64) int64 { return int64(min(v, 1<<62)) }
