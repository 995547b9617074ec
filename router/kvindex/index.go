// Package kvindex is the router's exact prefix index: per endpoint, the set
// of KV block hashes the engine reports holding, kept current by vLLM's
// KV-cache events (BlockStored, BlockRemoved, AllBlocksCleared over ZeroMQ,
// msgpack; see Follow).
//
// Engines hash token blocks, so matching a request against this index
// needs the engine's tokenizer and block hash (Tokenizer). The one shipped
// profile is tandem-sim's (its byte tokenizer, Llama-3 chat template and
// FNV chain); a real vLLM needs the model's own tokenizer, which has no
// pure-Go implementation here, so against real vLLM the router keeps its
// approximate byte-block index (package prefix).
//
// # Degraded state
//
// Events can stop: the engine restarts, the subscription breaks, messages
// are dropped. An Index is exact only while it can be trusted; otherwise
// Match says so and the router falls back to the approximate index. It is
// degraded
//
//   - until the subscription is connected;
//   - after a gap in sequence numbers (lost batches): the set is cleared and
//     rebuilt from new events, and stays degraded for the silence window;
//   - when the router sent uncached work to the engine more than the
//     silence window ago and no event has arrived since: the engine must
//     have stored blocks for that work, so its events are not reaching us.
//
// Mere silence is not degradation: an idle engine publishes nothing.
package kvindex

import (
	"sync"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/kvevents"
)

// Index is one endpoint's exact block set. It is safe for concurrent use.
type Index struct {
	silence time.Duration

	mu          sync.Mutex
	blocks      map[uint64]struct{}
	blockTokens int
	subscribed  bool
	seen        bool
	lastSeq     uint64
	lastEvent   time.Time
	lastWork    time.Time
	resyncUntil time.Time
	gaps        int
}

// New returns an empty, degraded index; silence is the window described in
// the package documentation.
func New(silence time.Duration) *Index {
	return &Index{silence: silence, blocks: map[uint64]struct{}{}}
}

// State is an index's trust level.
type State string

const (
	Exact        State = "exact"
	Disconnected State = "disconnected"
	Resyncing    State = "resyncing"
	Silent       State = "silent"
)

// State reports whether Match can be trusted at now, and if not why.
func (x *Index) State(now time.Time) State {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.state(now)
}

func (x *Index) state(now time.Time) State {
	switch {
	case !x.subscribed:
		return Disconnected
	case now.Before(x.resyncUntil):
		return Resyncing
	case !x.lastWork.IsZero() && !x.lastWork.Before(x.lastEvent) && now.Sub(x.lastWork) > x.silence:
		return Silent
	}
	return Exact
}

// Match returns how many leading blocks of hashes the engine holds and the
// engine's block size in tokens; ok is false when the index is degraded.
// Engines evict a sequence's tail before its head, so held blocks form a
// prefix and a binary search finds its end.
func (x *Index) Match(hashes []uint64, now time.Time) (blocks, blockTokens int, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.state(now) != Exact {
		return 0, 0, false
	}
	lo, hi := 0, len(hashes)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if _, held := x.blocks[hashes[mid]]; held {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, x.blockTokens, true
}

// Worked records that the router sent the engine work that will store
// blocks (see the package documentation).
func (x *Index) Worked(now time.Time) {
	x.mu.Lock()
	x.lastWork = now
	x.mu.Unlock()
}

// Len is the number of blocks held.
func (x *Index) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.blocks)
}

// Gaps is the number of sequence gaps seen.
func (x *Index) Gaps() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.gaps
}

// setSubscribed marks the subscription up or down. A new subscription
// starts from an empty set: what the engine held before is unknown.
func (x *Index) setSubscribed(up bool, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if up && !x.subscribed {
		clear(x.blocks)
		x.seen = false
		x.lastEvent = now
	}
	x.subscribed = up
}

// Apply folds one message into the set. It returns false when the message
// revealed a gap in sequence numbers.
func (x *Index) Apply(m kvevents.Message, now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	ok := true
	if x.seen && m.Seq != x.lastSeq+1 {
		ok = false
		x.gaps++
		clear(x.blocks)
		x.resyncUntil = now.Add(x.silence)
	}
	x.seen, x.lastSeq, x.lastEvent = true, m.Seq, now
	for _, e := range m.Batch.Events {
		switch e.Kind {
		case kvevents.BlockStored:
			if e.BlockSize > 0 {
				x.blockTokens = e.BlockSize
			}
			for _, h := range e.BlockHashes {
				x.blocks[h] = struct{}{}
			}
		case kvevents.BlockRemoved:
			for _, h := range e.BlockHashes {
				delete(x.blocks, h)
			}
		case kvevents.AllBlocksCleared:
			clear(x.blocks)
		}
	}
	return ok
}
