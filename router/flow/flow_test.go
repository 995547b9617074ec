package flow

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRuleAtLoad(t *testing.T) {
	rule := Rule{QueueDelay: 100 * time.Millisecond, KVUsage: 0.9}
	cases := []struct {
		name string
		rule Rule
		load Load
		want Reason
	}{
		{"idle", rule, Load{Rate: 10000}, ""},
		{"backlog below rate times delay", rule, Load{QueuedTokens: 999, Rate: 10000}, ""},
		{"backlog at rate times delay", rule, Load{QueuedTokens: 1000, Rate: 10000}, ReasonBacklog},
		{"a faster engine takes more backlog", rule, Load{QueuedTokens: 1000, Rate: 40000}, ""},
		{"full KV while queueing", rule, Load{Rate: 10000, Fresh: true, Waiting: 1, KVUsage: 0.95}, ReasonKV},
		{"full KV, nothing waiting: running only", rule, Load{Rate: 10000, Fresh: true, KVUsage: 0.99}, ""},
		{"waiting, KV below the threshold", rule, Load{Rate: 10000, Fresh: true, Waiting: 4, KVUsage: 0.5}, ""},
		{"a stale scrape says nothing", rule, Load{Rate: 10000, Waiting: 9, KVUsage: 1}, ""},
		{"backlog test off", Rule{KVUsage: 0.9}, Load{QueuedTokens: 1e9, Rate: 1}, ""},
		{"KV test off", Rule{QueueDelay: time.Second}, Load{Rate: 10000, Fresh: true, Waiting: 9, KVUsage: 1}, ""},
		{"in flight below the learned limit", rule, Load{Rate: 10000, InFlight: 11, Limit: 12}, ""},
		{"in flight at the learned limit", rule, Load{Rate: 10000, InFlight: 12, Limit: 12}, ReasonLimit},
		{"no limit learned yet", rule, Load{Rate: 10000, InFlight: 500}, ""},
		{"open requests would fill the KV cache", Rule{KVFill: 1}, Load{Fresh: true, CacheTokens: 19200, ContextTokens: 19200}, ReasonContext},
		{"open requests below the KV cache", Rule{KVFill: 1}, Load{Fresh: true, CacheTokens: 19200, ContextTokens: 19199}, ""},
		{"KV fill at a share of the cache", Rule{KVFill: 0.8}, Load{Fresh: true, CacheTokens: 10000, ContextTokens: 8000}, ReasonContext},
		{"cache size not reported", Rule{KVFill: 1}, Load{Fresh: true, ContextTokens: 1e9}, ""},
		{"KV fill on a stale scrape", Rule{KVFill: 1}, Load{CacheTokens: 100, ContextTokens: 1e9}, ""},
		{"KV fill off", rule, Load{Fresh: true, CacheTokens: 100, ContextTokens: 1e9}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, why := tc.rule.AtLoad(tc.load)
			if diff := cmp.Diff(tc.want, why); diff != "" || at != (tc.want != "") {
				t.Errorf("AtLoad = %v, %q (-want +got reason):\n%s", at, why, diff)
			}
		})
	}
}

// step is one operation on a queue: push a request (tenant, priority,
// enqueued at ms), pop at ms (want: the label of the request expected, ""
// for none), or end a request of tenant.
type step struct {
	push, done string
	prio       int
	at         int
	pop        bool
	want       string
}

func push(label, tenant string, prio, atMs int) step {
	return step{push: label + "@" + tenant, prio: prio, at: atMs}
}
func pop(atMs int, want string) step { return step{pop: true, at: atMs, want: want} }
func done(tenant string) step        { return step{done: tenant} }

func TestQueueOrder(t *testing.T) {
	cases := []struct {
		name      string
		lifoAfter time.Duration
		started   []string // tenants with a request in flight before the steps
		steps     []step
	}{
		{
			name: "one tenant is served oldest first",
			steps: []step{push("a1", "a", 0, 0), push("a2", "a", 0, 1), push("a3", "a", 0, 2),
				pop(3, "a1"), pop(3, "a2"), pop(3, "a3"), pop(3, "")},
		},
		{
			name: "a more important priority goes first whenever it came",
			steps: []step{push("low", "a", 5, 0), push("mid", "b", 1, 1), push("high", "c", 0, 2),
				pop(3, "high"), pop(3, "mid"), pop(3, "low")},
		},
		{
			name: "tenants take turns within a priority",
			steps: []step{push("h1", "heavy", 0, 0), push("h2", "heavy", 0, 1), push("h3", "heavy", 0, 2),
				push("l1", "light", 0, 3), push("h4", "heavy", 0, 4), push("l2", "light", 0, 5),
				pop(6, "h1"), pop(6, "l1"), pop(6, "h2"), pop(6, "l2"), pop(6, "h3"), pop(6, "h4")},
		},
		{
			name:    "a tenant holding more in flight waits behind one holding less",
			started: []string{"heavy", "heavy", "heavy"},
			steps: []step{push("h1", "heavy", 0, 0), push("l1", "light", 0, 1), push("l2", "light", 0, 2), push("l3", "light", 0, 3),
				pop(4, "l1"), pop(4, "l2"), pop(4, "l3"), pop(4, "h1")},
		},
		{
			name:    "ending requests gives the tenant its turn back",
			started: []string{"heavy", "heavy"},
			steps: []step{push("h1", "heavy", 0, 0), push("l1", "light", 0, 1), push("l2", "light", 0, 2),
				pop(3, "l1"), done("heavy"), done("heavy"), pop(4, "h1"), pop(4, "l2")},
		},
		{
			name:    "priority beats fairness",
			started: []string{"a", "a", "a", "a"},
			steps:   []step{push("b1", "b", 2, 0), push("a1", "a", 1, 1), pop(2, "a1"), pop(2, "b1")},
		},
		{
			name:      "newest first once the oldest has waited LIFOAfter",
			lifoAfter: 100 * time.Millisecond,
			steps: []step{push("a1", "a", 0, 0), push("a2", "a", 0, 50), push("a3", "a", 0, 90),
				pop(99, "a1"), pop(160, "a3"), pop(160, "a2")},
		},
	}
	t0 := time.Unix(1000, 0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &Queue{LIFOAfter: tc.lifoAfter}
			for _, s := range tc.started {
				q.Start(s)
			}
			labels := map[*Waiter]string{}
			var want, got []string
			for _, s := range tc.steps {
				at := t0.Add(time.Duration(s.at) * time.Millisecond)
				switch {
				case s.push != "":
					label, tenant := splitLabel(s.push)
					w := &Waiter{Tenant: tenant, Priority: s.prio, Enqueued: at}
					labels[w] = label
					q.Push(w)
				case s.done != "":
					q.Done(s.done)
				case s.pop:
					want = append(want, s.want)
					got = append(got, labels[q.Pop(at)])
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pops (-want +got):\n%s", diff)
			}
		})
	}
}

func splitLabel(s string) (label, tenant string) {
	for i := range s {
		if s[i] == '@' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func TestQueueRemoveAndCounts(t *testing.T) {
	q := &Queue{}
	t0 := time.Unix(1000, 0)
	a := &Waiter{Tenant: "a", Enqueued: t0}
	b := &Waiter{Tenant: "b", Priority: 1, Enqueued: t0}
	q.Push(a)
	q.Push(b)
	if !q.Remove(a) || q.Remove(a) {
		t.Fatal("Remove: want true once, then false")
	}
	if got := q.Pop(t0); got != b {
		t.Fatalf("Pop = %v, want b", got)
	}
	if q.Remove(b) {
		t.Error("Remove of a dispatched waiter: want false")
	}
	if diff := cmp.Diff([]int{0, 1, 0}, []int{q.Len(), q.InFlight("b"), q.InFlight("a")}); diff != "" {
		t.Errorf("len, in flight b, a (-want +got):\n%s", diff)
	}
	q.Done("b")
	if q.InFlight("b") != 0 || len(q.inFlight) != 0 || len(q.served) != 0 {
		t.Errorf("after Done: in flight %v, served %v; want both empty", q.inFlight, q.served)
	}
}

// observer records what a gate reports.
type observer struct {
	mu      sync.Mutex
	dropped []Refusal
	waited  int
}

func (o *observer) Length(string, int) {}
func (o *observer) Quiet(string, int)  {}
func (o *observer) Waited(string, time.Duration) {
	o.mu.Lock()
	o.waited++
	o.mu.Unlock()
}
func (o *observer) Dropped(_ string, why Refusal) {
	o.mu.Lock()
	o.dropped = append(o.dropped, why)
	o.mu.Unlock()
}

func TestGate(t *testing.T) {
	var mu sync.Mutex
	full := true
	setFull := func(v bool) { mu.Lock(); full = v; mu.Unlock() }
	obs := &observer{}
	g := NewGate(Config{MaxWait: 2 * time.Second, MaxQueue: 2, Tick: time.Millisecond}, rooms(func() int {
		mu.Lock()
		defer mu.Unlock()
		if full {
			return 0
		}
		return 1
	}), obs)

	setFull(false)
	first, why := g.Admit(context.Background(), "m", "a", 0)
	if why != "" {
		t.Fatalf("room: refused %q", why)
	}
	setFull(true)
	type out struct {
		k   Ticket
		why Refusal
	}
	results := make(chan out, 2)
	for range 2 {
		go func() {
			k, why := g.Admit(context.Background(), "m", "b", 0)
			results <- out{k, why}
		}()
	}
	waitLen(t, g, 2)
	if _, why := g.Admit(context.Background(), "m", "c", 0); why != RefusedFull {
		t.Errorf("third waiter: refusal %q, want %q", why, RefusedFull)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	setFull(false)
	first.Done()
	for range 2 {
		if r := <-results; r.why != "" {
			t.Errorf("queued request refused %q after room appeared", r.why)
		} else {
			r.k.Done()
		}
	}
	setFull(true)
	g2 := NewGate(Config{MaxWait: 20 * time.Millisecond, MaxQueue: 8, Tick: time.Millisecond}, rooms(func() int { return 0 }), obs)
	if _, why := g2.Admit(context.Background(), "m", "a", 0); why != RefusedTimeout {
		t.Errorf("no room for MaxWait: refusal %q, want %q", why, RefusedTimeout)
	}
	if _, why := g2.Admit(ctx, "m", "a", 0); why != RefusedCanceled {
		t.Errorf("canceled client: refusal %q, want %q", why, RefusedCanceled)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if diff := cmp.Diff([]Refusal{RefusedFull, RefusedTimeout, RefusedCanceled}, obs.dropped); diff != "" || obs.waited != 2 {
		t.Errorf("observed %d dispatches (want 2), drops (-want +got):\n%s", obs.waited, diff)
	}
}

func waitLen(t *testing.T, g *Gate, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g.Len("m") != n {
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want %d", g.Len("m"), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// One look at the queue lets go one waiting request per endpoint with
// room, never more than wait.
func TestGateDispatchesOnePerEndpointWithRoom(t *testing.T) {
	cases := []struct {
		name                 string
		room, waiting, wantN int
	}{
		{"no room", 0, 4, 0},
		{"room for fewer than wait", 3, 5, 3},
		{"room for more than wait", 8, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGate(Config{MaxWait: time.Minute, MaxQueue: 16, Tick: time.Hour}, rooms(func() int { return tc.room }), &observer{})
			m := g.queue("m")
			now := time.Now()
			for range tc.waiting {
				m.q.Push(&Waiter{Tenant: "a", Enqueued: now, ready: make(chan struct{})})
			}
			m.mu.Lock()
			g.dispatch(m, now)
			m.mu.Unlock()
			if got := tc.waiting - m.q.Len(); got != tc.wantN {
				t.Errorf("dispatched %d, want %d", got, tc.wantN)
			}
		})
	}
}

// Tickets let go count against room until Placed: room reads endpoint
// counters that move only once a request is sent, so a second reading
// before that (the next tick) must not let another request go.
func TestGateCountsLaunchedTicketsUntilPlaced(t *testing.T) {
	g := NewGate(Config{MaxWait: time.Minute, MaxQueue: 16, Tick: time.Hour}, rooms(func() int { return 1 }), &observer{})
	m := g.queue("m")
	now := time.Now()
	waiters := make([]*Waiter, 3)
	for i := range waiters {
		waiters[i] = &Waiter{Tenant: "a", Enqueued: now, ready: make(chan struct{})}
		m.q.Push(waiters[i])
	}
	m.mu.Lock()
	g.dispatch(m, now)
	g.dispatch(m, now) // a tick before the first request was sent
	m.mu.Unlock()
	if got := m.q.Len(); got != 2 {
		t.Fatalf("%d still waiting after two readings before Placed, want 2 (one let go)", got)
	}
	first := waiters[0].ticket
	first.Placed()
	first.Placed() // idempotent: must not free a second slot
	m.mu.Lock()
	g.dispatch(m, now)
	m.mu.Unlock()
	if got := m.q.Len(); got != 1 {
		t.Fatalf("%d still waiting after the first was placed, want 1", got)
	}
	// Done on a ticket never placed (its request failed before it was sent)
	// frees its launch slot too.
	second := waiters[1].ticket
	second.Done()
	if got := m.q.Len(); got != 0 {
		t.Errorf("%d still waiting after the second ended unplaced, want 0", got)
	}
	if got := m.launching[LaneAll]; got != 1 {
		t.Errorf("launching %d, want 1 (the third, not yet placed)", got)
	}
}

func TestQueueExpireAndBusy(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	q := &Queue{}
	if q.Busy(t0) != 0 {
		t.Fatal("an empty queue is not busy")
	}
	labels := map[*Waiter]string{}
	for _, w := range []struct {
		label, tenant string
		prio, ms      int
	}{{"a0", "a", 0, 0}, {"a1", "a", 0, 40}, {"a2", "a", 0, 90}, {"b0", "b", 1, 10}, {"b1", "b", 1, 80}} {
		x := &Waiter{Tenant: w.tenant, Priority: w.prio, Enqueued: at(w.ms)}
		labels[x] = w.label
		q.Push(x)
	}
	if got := q.Busy(at(100)); got != 100*time.Millisecond {
		t.Errorf("busy %s, want 100ms (since the first push)", got)
	}
	var got []string
	for _, w := range q.Expire(at(100), 50*time.Millisecond) {
		got = append(got, labels[w])
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"a0", "a1", "b0"}, got); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	if q.Len() != 2 {
		t.Errorf("left %d, want 2 (a2, b1)", q.Len())
	}
	if w := q.Pop(at(100)); labels[w] != "a2" {
		t.Errorf("next %q, want a2", labels[w])
	}
	q.Pop(at(100))
	if q.Busy(at(200)) != 0 {
		t.Error("emptied queue still busy")
	}
}

// A tenant with fewer requests in flight than an even share is not shed
// for the others' overload; one at or over it is.
func TestQueueExpireSparesTenantsWithinShare(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := &Queue{}
	for range 6 {
		q.Start("heavy")
	}
	q.Start("light")
	heavy := &Waiter{Tenant: "heavy", Enqueued: t0}
	light := &Waiter{Tenant: "light", Enqueued: t0}
	q.Push(heavy)
	q.Push(light)
	if !q.WithinShare("light") || q.WithinShare("heavy") {
		t.Fatalf("within share: light %v, heavy %v; want true, false (7 in flight over 2 tenants)", q.WithinShare("light"), q.WithinShare("heavy"))
	}
	got := q.Expire(t0.Add(time.Second), 50*time.Millisecond)
	if len(got) != 1 || got[0] != heavy {
		t.Errorf("expired %d requests (heavy's: %v), want only heavy's", len(got), len(got) == 1 && got[0] == heavy)
	}
	if q.Len() != 1 {
		t.Errorf("left %d, want 1 (light's)", q.Len())
	}
}

// rooms is a RoomFunc of one lane of 8 endpoints whatever the subset.
func rooms(free func() int) RoomFunc {
	return func(string, time.Time, Subset) (int, int) { return free(), 8 }
}

// Under sustained overload the gate refuses requests that waited
// OverloadWait, long before MaxWait.
func TestGateShedsUnderSustainedOverload(t *testing.T) {
	obs := &observer{}
	g := NewGate(Config{MaxWait: time.Minute, MaxQueue: 8, Tick: time.Millisecond, OverloadAfter: 30 * time.Millisecond, OverloadWait: 10 * time.Millisecond},
		rooms(func() int { return 0 }), obs)
	start := time.Now()
	_, why := g.Admit(context.Background(), "m", "a", 0)
	if why != RefusedOverload || time.Since(start) > 20*time.Second {
		t.Errorf("refusal %q after %s, want %q well before maxWait", why, time.Since(start), RefusedOverload)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("refused after %s, before the queue had been busy for overloadAfter (30ms)", waited)
	}
}
