package flow

import (
	"slices"
	"time"
)

// Waiter is one request waiting in a Queue.
type Waiter struct {
	Tenant   string
	Priority int
	Enqueued time.Time

	ready   chan struct{} // Gate: closed when dispatched or refused
	refused Refusal       // Gate: set before ready is closed on a refusal
	ticket  Ticket        // Gate: set before ready is closed on a dispatch
}

// Queue is one model's waiting requests and its tenants' requests in
// flight. It is plain data: the caller locks it and supplies the time.
type Queue struct {
	// LIFOAfter: a tenant whose oldest request has waited this long is
	// served newest first (0: always oldest first).
	LIFOAfter time.Duration

	levels   []level // by priority, most important first
	n        int
	since    time.Time // when the queue last became non-empty
	inFlight map[string]int
	served   map[string]uint64 // the dispatch number of each tenant's last turn
	turn     uint64
}

type level struct {
	priority int
	tenants  map[string][]*Waiter
}

// Len is the number of waiting requests.
func (q *Queue) Len() int { return q.n }

// Push adds w at the back of its tenant's line.
func (q *Queue) Push(w *Waiter) {
	if q.n == 0 {
		q.since = w.Enqueued
	}
	i, found := slices.BinarySearchFunc(q.levels, w.Priority, func(l level, p int) int { return l.priority - p })
	if !found {
		q.levels = slices.Insert(q.levels, i, level{priority: w.Priority, tenants: map[string][]*Waiter{}})
	}
	l := &q.levels[i]
	l.tenants[w.Tenant] = append(l.tenants[w.Tenant], w)
	q.n++
}

// Remove takes w out of the queue; false if it is not there (dispatched).
func (q *Queue) Remove(w *Waiter) bool {
	for i := range q.levels {
		l := &q.levels[i]
		if l.priority != w.Priority {
			continue
		}
		line := l.tenants[w.Tenant]
		k := slices.Index(line, w)
		if k < 0 {
			return false
		}
		q.take(i, w.Tenant, k)
		return true
	}
	return false
}

// Busy is how long the queue has held requests without emptying; 0 when
// it is empty.
func (q *Queue) Busy(now time.Time) time.Duration {
	if q.n == 0 {
		return 0
	}
	return now.Sub(q.since)
}

// Expire removes and returns every request that has waited wait or
// longer, except those of tenants within their share (WithinShare): a
// sustained overload is the other tenants' doing, and shedding a light
// tenant's requests with theirs would make it pay for it.
func (q *Queue) Expire(now time.Time, wait time.Duration) []*Waiter {
	share := q.share()
	var out []*Waiter
	for i := len(q.levels) - 1; i >= 0; i-- {
		for t, line := range q.levels[i].tenants {
			if float64(q.inFlight[t]) < share {
				continue
			}
			k := 0 // a tenant's line is oldest first
			for k < len(line) && now.Sub(line[k].Enqueued) >= wait {
				k++
			}
			if k == 0 {
				continue
			}
			out = append(out, line[:k]...)
			for range k {
				q.take(i, t, 0)
			}
		}
	}
	return out
}

// WithinShare says whether tenant has fewer requests in flight than an
// even share of those of every active tenant (in flight or waiting).
func (q *Queue) WithinShare(tenant string) bool {
	return float64(q.inFlight[tenant]) < q.share()
}

// Shares is what Reserve reads: the share of the requests in flight
// that tenants within their share hold, how many tenants are within it
// and how many are active (in flight or waiting).
func (q *Queue) Shares() (frac float64, within, tenants int) {
	share := q.share()
	total, mine := 0, 0
	for _, n := range q.inFlight {
		total += n
		if float64(n) < share {
			mine += n
			within++
		}
	}
	waitingOnly := q.waitingOnly()
	tenants = len(q.inFlight) + len(waitingOnly)
	within += len(waitingOnly) // nothing in flight: within any share
	if total > 0 {
		frac = float64(mine) / float64(total)
	}
	return frac, within, tenants
}

// share is the requests in flight per active tenant.
func (q *Queue) share() float64 {
	total := 0
	for _, n := range q.inFlight {
		total += n
	}
	active := len(q.inFlight) + len(q.waitingOnly())
	if active == 0 {
		return 0
	}
	return float64(total) / float64(active)
}

// waitingOnly is the tenants with requests waiting and none in flight.
func (q *Queue) waitingOnly() map[string]bool {
	var out map[string]bool
	for i := range q.levels {
		for t := range q.levels[i].tenants {
			if q.inFlight[t] == 0 {
				if out == nil {
					out = map[string]bool{}
				}
				out[t] = true
			}
		}
	}
	return out
}

// Next is the tenant whose request Pop would dispatch; "" when the queue
// is empty.
func (q *Queue) Next() string {
	if q.n == 0 {
		return ""
	}
	best := ""
	for t := range q.levels[0].tenants {
		if best == "" || q.before(t, best) {
			best = t
		}
	}
	return best
}

// Pop removes and returns the request to dispatch next (doc.go, step 4),
// counting it in flight for its tenant; nil when the queue is empty.
func (q *Queue) Pop(now time.Time) *Waiter {
	best := q.Next()
	if best == "" {
		return nil
	}
	line := q.levels[0].tenants[best]
	k := 0
	if q.LIFOAfter > 0 && now.Sub(line[0].Enqueued) >= q.LIFOAfter {
		k = len(line) - 1
	}
	w := line[k]
	q.take(0, best, k)
	q.Start(best)
	return w
}

// before orders waiting tenants: fewer in flight first, then the one
// served longest ago, then by name (so the order is deterministic).
func (q *Queue) before(a, b string) bool {
	if fa, fb := q.inFlight[a], q.inFlight[b]; fa != fb {
		return fa < fb
	}
	if sa, sb := q.served[a], q.served[b]; sa != sb {
		return sa < sb
	}
	return a < b
}

func (q *Queue) take(i int, tenant string, k int) {
	l := &q.levels[i]
	line := slices.Delete(l.tenants[tenant], k, k+1)
	if len(line) == 0 {
		delete(l.tenants, tenant)
	} else {
		l.tenants[tenant] = line
	}
	if len(l.tenants) == 0 {
		q.levels = slices.Delete(q.levels, i, i+1)
	}
	q.n--
}

// Start counts a request of tenant in flight (Pop does it for the
// requests it dispatches; the gate's fast path calls it directly).
func (q *Queue) Start(tenant string) {
	if q.inFlight == nil {
		q.inFlight, q.served = map[string]int{}, map[string]uint64{}
	}
	q.inFlight[tenant]++
	q.turn++
	q.served[tenant] = q.turn
}

// Done ends a request of tenant. A tenant with nothing in flight is
// forgotten, so the maps hold only active tenants.
func (q *Queue) Done(tenant string) {
	if q.inFlight[tenant]--; q.inFlight[tenant] <= 0 {
		delete(q.inFlight, tenant)
		if !q.waiting(tenant) {
			delete(q.served, tenant)
		}
	}
}

func (q *Queue) waiting(tenant string) bool {
	for i := range q.levels {
		if _, ok := q.levels[i].tenants[tenant]; ok {
			return true
		}
	}
	return false
}

// InFlight is tenant's requests in flight.
func (q *Queue) InFlight(tenant string) int { return q.inFlight[tenant] }
