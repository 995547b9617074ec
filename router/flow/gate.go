package flow

import (
	"context"
	"math"
	"sync"
	"time"
)

// Config configures a Gate.
type Config struct {
	// MaxWait is the longest a request waits in the queue.
	MaxWait time.Duration
	// MaxQueue bounds each model's queue.
	MaxQueue int
	// Tick is how often a non-empty queue is looked at besides when a
	// request ends.
	Tick time.Duration
	// LIFOAfter switches a tenant to newest first (Queue.LIFOAfter).
	LIFOAfter time.Duration
	// OverloadAfter and OverloadWait: once a queue has not emptied for
	// OverloadAfter, requests in it that waited OverloadWait are refused
	// (doc.go, step 6); 0 turns it off.
	OverloadAfter, OverloadWait time.Duration
	// QuietFactor keeps endpoints quiet for tenants within their share
	// while another is over it and requests wait (doc.go, "Quiet
	// endpoints"): a quiet endpoint carries about 1/QuietFactor of a busy
	// one's requests. 0 turns it off.
	QuietFactor float64
}

// quietHold is how long after a model's queue last held requests its
// endpoints stay split: the queue empties and fills many times a second
// under overload, and each change of the split moves conversations
// between endpoints.
const quietHold = time.Second

// quietKeep is how long the quiet endpoints stay as many as the most the
// shares asked for: the in-flight counts the split follows move with
// every request, and each time an endpoint leaves the quiet lane the
// heavy tenant's requests fill it, and stay there for their whole answer
// once it comes back.
const quietKeep = 10 * time.Second

// Refusal is why a request left the queue without being dispatched.
type Refusal string

const (
	RefusedFull     Refusal = "queue-full"
	RefusedTimeout  Refusal = "queue-timeout"
	RefusedCanceled Refusal = "canceled"
	RefusedOverload Refusal = "queue-overload"
)

// Observer hears what the gate does, for metrics; every method is called
// with the model's queue locked, so it must be quick.
type Observer interface {
	// Length is the model's queue length after a change.
	Length(model string, n int)
	// Waited is the time a request spent queued before it was dispatched;
	// fast-path admissions are not reported.
	Waited(model string, d time.Duration)
	// Dropped is a request that left the queue refused.
	Dropped(model string, why Refusal)
	// Quiet is the number of the model's endpoints kept quiet, when it
	// changes.
	Quiet(model string, n int)
}

// Gate holds requests of a model while every endpoint of it is at its
// efficient load (doc.go).
type Gate struct {
	cfg  Config
	room RoomFunc
	obs  Observer

	mu     sync.RWMutex
	models map[string]*modelQueue
}

type modelQueue struct {
	model   string
	mu      sync.Mutex
	q       Queue
	ticking bool
	// launching counts, per lane, tickets let go whose request has not
	// yet moved an endpoint's counters (Ticket.Placed): room does not see
	// them yet, so they are taken from it, or one reading would let go
	// more than fits.
	launching [3]int
	// busyAt is when the queue last held requests; quiet the endpoints
	// kept quiet, and quietAt when the shares last asked for as many.
	busyAt  time.Time
	quiet   int
	quietAt time.Time
}

// RoomFunc says how many candidate endpoints of a lane of model are below
// their efficient load (0: every one is at it; math.MaxInt: do not hold),
// and how many endpoints the lane has.
type RoomFunc func(model string, now time.Time, s Subset) (free, size int)

// NewGate builds a gate.
func NewGate(cfg Config, room RoomFunc, obs Observer) *Gate {
	return &Gate{cfg: cfg, room: room, obs: obs, models: map[string]*modelQueue{}}
}

// Ticket is an admitted request: call Placed once its endpoint's counters
// count it, and Done once when it ends. The zero Ticket (flow control off)
// ignores both.
type Ticket struct {
	g      *Gate
	m      *modelQueue
	tenant string
	// launched is true until Placed or Done; shared by copies.
	launched *bool
	// Favoured: when let go, its tenant had fewer of the model's requests
	// in flight than an even share (Queue.WithinShare), so engines that
	// schedule by priority should serve it ahead of the others' (doc.go).
	Favoured bool
	// Subset is the endpoints the request may be sent to (Of).
	Subset Subset
}

// ticket lets a request of tenant go (counted in flight already) to the
// endpoints of s; m is locked.
func (g *Gate) ticket(m *modelQueue, tenant string, s Subset) Ticket {
	m.launching[s.Lane]++
	launched := true
	return Ticket{g: g, m: m, tenant: tenant, launched: &launched, Favoured: m.q.WithinShare(tenant), Subset: s}
}

// Placed says the request now weighs on an endpoint's counters (room sees
// it), so it no longer needs to be taken from room. Idempotent.
func (k Ticket) Placed() {
	if k.m == nil {
		return
	}
	k.m.mu.Lock()
	defer k.m.mu.Unlock()
	k.land()
}

// land ends the ticket's launch; m is locked.
func (k Ticket) land() {
	if *k.launched {
		*k.launched = false
		k.m.launching[k.Subset.Lane]--
	}
}

// Done ends the request and lets the next waiting one of its model go if
// there is room. Safe on a zero Ticket.
func (k Ticket) Done() {
	if k.m == nil {
		return
	}
	k.m.mu.Lock()
	defer k.m.mu.Unlock()
	k.land()
	k.m.q.Done(k.tenant)
	k.g.dispatch(k.m, time.Now())
}

// free is how many more requests of m fit in s now: endpoints with room
// less tickets let go that room does not count yet; m is locked.
func (g *Gate) free(m *modelQueue, now time.Time, s Subset) int {
	room, _ := g.room(m.model, now, s)
	if room == math.MaxInt {
		return room
	}
	// A ticket of every endpoint may land in any lane: it counts in each.
	launching := m.launching[LaneAll]
	if s.Lane == LaneAll {
		launching += m.launching[LaneQuiet] + m.launching[LaneBusy]
	} else {
		launching += m.launching[s.Lane]
	}
	return room - launching
}

// split sets how many of m's endpoints are kept quiet now (doc.go,
// "Quiet endpoints"); m is locked.
func (g *Gate) split(m *modelQueue, now time.Time) {
	if g.cfg.QuietFactor <= 0 {
		return
	}
	k := 0
	if m.q.Len() > 0 || now.Sub(m.busyAt) < quietHold {
		_, n := g.room(m.model, now, Subset{})
		frac, within, tenants := m.q.Shares()
		k = Reserve(n, frac, g.cfg.QuietFactor, within, tenants)
	}
	if k >= m.quiet {
		m.quietAt = now
	} else if now.Sub(m.quietAt) < quietKeep {
		k = m.quiet // fewer only after quietKeep of asking for fewer
	}
	if k != m.quiet {
		m.quiet = k
		g.obs.Quiet(m.model, k)
	}
}

// place is the lane a request of tenant goes to and whether it has room
// there: tenants within their share take the quiet endpoints, or every
// endpoint when those are full; the others take the rest; m is locked.
func (g *Gate) place(m *modelQueue, tenant string, now time.Time) (Subset, bool) {
	if m.quiet == 0 {
		return Subset{}, g.free(m, now, Subset{}) > 0
	}
	if !m.q.WithinShare(tenant) {
		s := Subset{Lane: LaneBusy, Quiet: m.quiet}
		return s, g.free(m, now, s) > 0
	}
	if s := (Subset{Lane: LaneQuiet, Quiet: m.quiet}); g.free(m, now, s) > 0 {
		return s, true
	}
	return Subset{}, g.free(m, now, Subset{}) > 0
}

// Admit returns when the request may go on: at once if there is room and
// no one waits, else when dispatched; or refused after MaxWait, when the
// queue is full, or when ctx ends.
func (g *Gate) Admit(ctx context.Context, model, tenant string, priority int) (Ticket, Refusal) {
	m := g.queue(model)
	now := time.Now()
	m.mu.Lock()
	if m.q.Len() == 0 {
		g.split(m, now)
		if s, ok := g.place(m, tenant, now); ok {
			m.q.Start(tenant)
			k := g.ticket(m, tenant, s)
			m.mu.Unlock()
			return k, ""
		}
	}
	if m.q.Len() >= g.cfg.MaxQueue {
		g.obs.Dropped(model, RefusedFull)
		m.mu.Unlock()
		return Ticket{}, RefusedFull
	}
	w := &Waiter{Tenant: tenant, Priority: priority, Enqueued: now, ready: make(chan struct{})}
	m.q.Push(w)
	m.busyAt = now
	g.obs.Length(model, m.q.Len())
	// Others wait, but if it comes first in the queue's order and its lane
	// has room (a tenant within its share, the quiet endpoints free), it
	// goes now rather than at the next end or tick.
	g.dispatch(m, now)
	if m.q.Len() > 0 && !m.ticking {
		m.ticking = true
		go g.tick(m)
	}
	m.mu.Unlock()

	timer := time.NewTimer(g.cfg.MaxWait)
	defer timer.Stop()
	why := RefusedTimeout
	select {
	case <-w.ready:
		if w.refused != "" {
			return Ticket{}, w.refused
		}
		return w.ticket, ""
	case <-timer.C:
	case <-ctx.Done():
		why = RefusedCanceled
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.q.Remove(w) {
		// Dispatched or refused while the timer fired.
		if w.refused != "" {
			return Ticket{}, w.refused
		}
		return w.ticket, ""
	}
	g.obs.Length(model, m.q.Len())
	g.obs.Dropped(model, why)
	return Ticket{}, why
}

func (g *Gate) queue(model string) *modelQueue {
	g.mu.RLock()
	m := g.models[model]
	g.mu.RUnlock()
	if m != nil {
		return m
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if m = g.models[model]; m == nil {
		m = &modelQueue{model: model, q: Queue{LIFOAfter: g.cfg.LIFOAfter}}
		g.models[model] = m
	}
	return m
}

// dispatch lets waiting requests go, one for each endpoint with room in
// the next one's lane (doc.go, step 3), until the next one finds none;
// m is locked.
func (g *Gate) dispatch(m *modelQueue, now time.Time) {
	if m.q.Len() == 0 {
		return
	}
	m.busyAt = now
	g.split(m, now)
	n := 0
	for m.q.Len() > 0 {
		s, ok := g.place(m, m.q.Next(), now)
		if !ok {
			break
		}
		w := m.q.Pop(now)
		w.ticket = g.ticket(m, w.Tenant, s)
		close(w.ready)
		g.obs.Waited(m.model, now.Sub(w.Enqueued))
		n++
	}
	if n > 0 {
		g.obs.Length(m.model, m.q.Len())
	}
}

// shed refuses the requests that waited OverloadWait once m's queue has
// not emptied for OverloadAfter; m is locked.
func (g *Gate) shed(m *modelQueue, now time.Time) {
	if g.cfg.OverloadAfter <= 0 || m.q.Busy(now) < g.cfg.OverloadAfter {
		return
	}
	expired := m.q.Expire(now, g.cfg.OverloadWait)
	for _, w := range expired {
		w.refused = RefusedOverload
		close(w.ready)
		g.obs.Dropped(m.model, RefusedOverload)
	}
	if len(expired) > 0 {
		g.obs.Length(m.model, m.q.Len())
	}
}

// tick looks at m every Tick until its queue is empty.
func (g *Gate) tick(m *modelQueue) {
	t := time.NewTicker(g.cfg.Tick)
	defer t.Stop()
	for now := range t.C {
		m.mu.Lock()
		g.shed(m, now)
		g.dispatch(m, now)
		if m.q.Len() == 0 {
			m.ticking = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
}

// Len is model's queue length.
func (g *Gate) Len(model string) int {
	m := g.queue(model)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.q.Len()
}
