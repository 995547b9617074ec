package endpoint

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Limit is a concurrency limit an endpoint's times to first token teach
// (additive increase, multiplicative decrease, as TCP's congestion window
// is taught by loss). It is 0, no limit, until a first token comes slower
// than the target; then it is cut to just under the requests open at that
// moment, and from there each timely first token while the endpoint is at
// its limit raises it by 1/limit (about one a limit's worth of requests)
// and each slow one cuts it by limitCut, at most once per hold, since the
// slow first tokens of one congested moment are one signal, not many.
//
// It finds the knee where a scrape cannot: an engine whose decode batch or
// KV cache is past its good regime shows it first in TTFT, before any
// waiting count or cache-usage gauge moves (package flow uses it as its
// third test of efficient load).
type Limit struct {
	mu    sync.Mutex
	value float64
	cutAt time.Time
	bits  atomic.Uint64 // value, for lock-free reads
}

// limitCut is the multiplicative decrease; limitFloor the smallest limit.
const (
	limitCut   = 0.9
	limitFloor = 1
)

// Value is the limit, 0 while none was learned.
func (l *Limit) Value() float64 { return math.Float64frombits(l.bits.Load()) }

// Observe records one first token at now that came while inFlight of the
// router's requests (this one included) were open there; slow says it
// missed the target.
func (l *Limit) Observe(now time.Time, inFlight int64, slow bool, hold time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	open := float64(inFlight)
	switch {
	case slow && now.Sub(l.cutAt) >= hold:
		base := open
		if l.value > 0 {
			base = min(l.value, open)
		}
		l.value, l.cutAt = max(limitFloor, base*limitCut), now
	case !slow && l.value > 0 && open >= l.value-1:
		l.value += 1 / l.value
	default:
		return
	}
	l.bits.Store(math.Float64bits(l.value))
}
