// Package sse relays a server-sent event stream from an engine to a client
// as it arrives, one whole event or run of events at a time.
//
// Relay hands out data only up to the end of the last complete event (a
// blank line), so that when the engine's stream breaks mid-event the router
// can drop the partial event and close the stream with a well-formed error
// event that OpenAI clients surface as an error, instead of splicing its
// error into half an event. Data is handed out as soon as an event is
// complete: nothing waits for more.
package sse

import (
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// maxPending bounds the bytes held while waiting for an event to end; an
// event longer than this is relayed in pieces.
const maxPending = 4 << 20

const readSize = 32 << 10

// Relay reads events from an engine's response body.
type Relay struct {
	src     io.Reader
	buf     []byte
	out     int // bytes at the front of buf handed out by the last Next
	scanned int // bytes of buf already searched for a boundary
	split   bool
	// prev are the last two bytes handed out before buf[0], so a blank
	// line straddling two calls is still found.
	prev [2]byte
}

// NewRelay reads from src using buf's storage (may be nil).
func NewRelay(src io.Reader, buf []byte) *Relay {
	return &Relay{src: src, buf: buf[:0]}
}

// Reset makes r read from src, keeping its buffer.
func (r *Relay) Reset(src io.Reader) {
	*r = Relay{src: src, buf: r.buf[:0]}
}

// Buffer returns the relay's storage for reuse.
func (r *Relay) Buffer() []byte { return r.buf[:0] }

// Next blocks until one or more whole events have arrived and returns
// them. At the end of the stream it returns what remains (complete or not)
// and io.EOF. When reading fails it returns the whole events it has, drops
// any partial one, and returns the error. The returned bytes are valid
// until the next call.
func (r *Relay) Next() ([]byte, error) {
	if r.out > 0 {
		if r.out >= 2 {
			r.prev = [2]byte{r.buf[r.out-2], r.buf[r.out-1]}
		} else {
			r.prev = [2]byte{r.prev[1], r.buf[0]}
		}
		n := copy(r.buf, r.buf[r.out:])
		r.buf = r.buf[:n]
		r.scanned = max(r.scanned-r.out, 0)
		r.out = 0
	}
	for {
		if end := r.boundary(); end > 0 {
			return r.take(end, nil)
		}
		if len(r.buf) >= maxPending {
			r.split = true
			return r.take(len(r.buf), nil)
		}
		if cap(r.buf)-len(r.buf) < readSize/2 {
			grown := make([]byte, len(r.buf), max(2*cap(r.buf), readSize))
			copy(grown, r.buf)
			r.buf = grown
		}
		n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		switch {
		case errors.Is(err, io.EOF):
			return r.take(len(r.buf), io.EOF)
		case err != nil:
			end := r.boundary()
			r.buf = r.buf[:end]
			return r.take(end, err)
		}
	}
}

func (r *Relay) take(end int, err error) ([]byte, error) {
	r.out = end
	if end > 0 && r.boundaryAt(end) {
		r.split = false
	}
	return r.buf[:end], err
}

// Split reports whether the data handed out so far ends inside an event
// (an event longer than the relay holds); an error event must then start
// with a blank line.
func (r *Relay) Split() bool { return r.split }

// boundary returns the end of the last complete event in buf, or 0.
func (r *Relay) boundary() int {
	b := r.buf
	end := 0
	for i := r.scanned; i < len(b); i++ {
		if b[i] == '\n' && (r.at(i-1) == '\n' || (r.at(i-1) == '\r' && r.at(i-2) == '\n')) {
			end = i + 1
		}
	}
	r.scanned = len(b)
	return end
}

// at is buf[i], reaching back into the bytes handed out before for i < 0.
func (r *Relay) at(i int) byte {
	switch {
	case i >= 0:
		return r.buf[i]
	case i >= -2:
		return r.prev[2+i]
	}
	return 0
}

func (r *Relay) boundaryAt(end int) bool {
	return r.at(end-1) == '\n' && (r.at(end-2) == '\n' || (r.at(end-2) == '\r' && r.at(end-3) == '\n'))
}

// AppendError appends an OpenAI-style error event:
//
//	data: {"error":{"message":"...","type":"...","param":null,"code":502}}
func AppendError(dst []byte, code int, typ, msg string) []byte {
	m, _ := json.Marshal(msg)
	t, _ := json.Marshal(typ)
	dst = append(dst, `data: {"error":{"message":`...)
	dst = append(dst, m...)
	dst = append(dst, `,"type":`...)
	dst = append(dst, t...)
	dst = append(dst, `,"param":null,"code":`...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	return append(dst, "}}\n\n"...)
}
