package flow

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	for _, tc := range []struct {
		name            string
		n               int
		frac, factor    float64
		within, tenants int
		want            int
	}{
		{"off", 8, 0.1, 0, 1, 2, 0},
		{"one tenant", 8, 0, 4, 0, 1, 0},
		{"every tenant within its share", 8, 1, 4, 2, 2, 0},
		{"one endpoint", 1, 0.1, 4, 1, 2, 0},
		// 4·0.08·8 / (0.92 + 0.32) = 2.06: three endpoints.
		{"light tenant beside a heavy one", 8, 0.08, 4, 1, 2, 3},
		{"nothing in flight yet: one", 8, 0, 4, 1, 2, 1},
		{"capped at the even share", 8, 0.4, 4, 1, 2, 4},
		{"never every endpoint", 2, 0.4, 4, 1, 2, 1},
	} {
		if got := Reserve(tc.n, tc.frac, tc.factor, tc.within, tc.tenants); got != tc.want {
			t.Errorf("%s: Reserve(%d, %g, %g, %d, %d) = %d, want %d", tc.name, tc.n, tc.frac, tc.factor, tc.within, tc.tenants, got, tc.want)
		}
	}
}

func TestOf(t *testing.T) {
	eps := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		s    Subset
		want string
	}{
		{Subset{}, "abcd"},
		{Subset{Lane: LaneQuiet, Quiet: 1}, "a"},
		{Subset{Lane: LaneBusy, Quiet: 1}, "bcd"},
		{Subset{Lane: LaneQuiet, Quiet: 9}, "abcd"}, // the pool shrank
		{Subset{Lane: LaneBusy, Quiet: 4}, "abcd"},  // nothing left: all
	} {
		got := ""
		for _, e := range Of(eps, tc.s) {
			got += e
		}
		if got != tc.want {
			t.Errorf("Of(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// lanes is a RoomFunc over 4 endpoints whose free room is set per lane.
type lanes struct {
	mu   sync.Mutex
	free map[Lane]int
	asks []Subset
}

func (l *lanes) set(lane Lane, n int) { l.mu.Lock(); l.free[lane] = n; l.mu.Unlock() }

func (l *lanes) room(_ string, _ time.Time, s Subset) (int, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks = append(l.asks, s)
	return l.free[s.Lane], len(Of([]int{0, 1, 2, 3}, s))
}

type admitted struct {
	k   Ticket
	why Refusal
}

func admitAsync(g *Gate, tenant string) chan admitted {
	out := make(chan admitted, 1)
	go func() {
		k, why := g.Admit(context.Background(), "m", tenant, 0)
		out <- admitted{k, why}
	}()
	return out
}

func waitAdmitted(t *testing.T, c chan admitted, who string) Ticket {
	t.Helper()
	select {
	case a := <-c:
		if a.why != "" {
			t.Fatalf("%s refused %q", who, a.why)
		}
		return a.k
	case <-time.After(10 * time.Second):
		t.Fatalf("%s was not let go within 10s", who)
	}
	return Ticket{}
}

// While a heavy tenant's requests wait, a light tenant's go to the quiet
// endpoints and the heavy tenant's to the others; once the quiet ones are
// full the light tenant may use any.
func TestGateKeepsQuietEndpointsForTenantsWithinTheirShare(t *testing.T) {
	l := &lanes{free: map[Lane]int{LaneAll: 100, LaneQuiet: 100, LaneBusy: 100}}
	g := NewGate(Config{MaxWait: time.Minute, MaxQueue: 64, Tick: time.Millisecond, QuietFactor: 4}, l.room, &observer{})
	for i := range 10 {
		k, why := g.Admit(context.Background(), "m", "heavy", 0)
		if why != "" || k.Subset != (Subset{}) {
			t.Fatalf("heavy request %d with nothing waiting: refusal %q, subset %+v, want every endpoint", i, why, k.Subset)
		}
		k.Placed()
	}
	l.set(LaneAll, 0)
	l.set(LaneQuiet, 0)
	l.set(LaneBusy, 0)
	heavy := admitAsync(g, "heavy")
	for g.Len("m") == 0 {
		time.Sleep(time.Millisecond)
	}
	light := admitAsync(g, "light")
	for g.Len("m") < 2 {
		time.Sleep(time.Millisecond)
	}
	l.set(LaneQuiet, 1)
	k := waitAdmitted(t, light, "light")
	if want := (Subset{Lane: LaneQuiet, Quiet: 1}); k.Subset != want {
		t.Errorf("light request's subset %+v, want %+v", k.Subset, want)
	}
	k.Placed()
	select {
	case a := <-heavy:
		t.Fatalf("heavy request let go (subset %+v) with no room outside the quiet endpoint", a.k.Subset)
	case <-time.After(20 * time.Millisecond):
	}
	l.set(LaneBusy, 1)
	// The light tenant now holds 1 of 11 requests in flight: 4·(1/11)·4 /
	// (10/11 + 4/11) = 1.14, two quiet endpoints.
	k = waitAdmitted(t, heavy, "heavy")
	if want := (Subset{Lane: LaneBusy, Quiet: 2}); k.Subset != want {
		t.Errorf("heavy request's subset %+v, want %+v", k.Subset, want)
	}
	k.Placed()

	// The quiet endpoint full: the light tenant takes any endpoint with
	// room rather than waiting behind it.
	l.set(LaneQuiet, 0)
	l.set(LaneBusy, 0)
	heavy = admitAsync(g, "heavy")
	for g.Len("m") == 0 {
		time.Sleep(time.Millisecond)
	}
	light = admitAsync(g, "light")
	for g.Len("m") < 2 {
		time.Sleep(time.Millisecond)
	}
	l.set(LaneAll, 1)
	k = waitAdmitted(t, light, "light")
	if k.Subset != (Subset{}) {
		t.Errorf("light request with the quiet endpoint full: subset %+v, want every endpoint", k.Subset)
	}
	// Until it is placed it may land in either lane, so it takes the
	// busy lane's room too: the heavy request stays.
	l.set(LaneBusy, 1)
	select {
	case a := <-heavy:
		t.Fatalf("heavy request let go (subset %+v) while the light one, sent to any endpoint, was not yet placed", a.k.Subset)
	case <-time.After(20 * time.Millisecond):
	}
	k.Placed()
	l.mu.Lock()
	l.free[LaneAll] = 0 // the busy lane's room is the heavy request's only way
	l.mu.Unlock()
	k.Done()
	waitAdmitted(t, heavy, "heavy")
}

// A request that comes first in the queue's order and whose lane has room
// goes when it arrives, not at the next end or tick (there is no tick
// here), even though others wait.
func TestGateLetsFirstInOrderGoOnArrival(t *testing.T) {
	l := &lanes{free: map[Lane]int{LaneAll: 100, LaneQuiet: 100, LaneBusy: 100}}
	g := NewGate(Config{MaxWait: time.Minute, MaxQueue: 64, Tick: time.Hour, QuietFactor: 4}, l.room, &observer{})
	for range 10 {
		k, _ := g.Admit(context.Background(), "m", "heavy", 0)
		k.Placed()
	}
	l.set(LaneAll, 0)
	l.set(LaneBusy, 0)
	l.set(LaneQuiet, 0)
	heavy := admitAsync(g, "heavy")
	for g.Len("m") == 0 {
		time.Sleep(time.Millisecond)
	}
	l.set(LaneQuiet, 1)
	k := waitAdmitted(t, admitAsync(g, "light"), "light")
	if k.Subset.Lane != LaneQuiet {
		t.Errorf("light request's subset %+v, want the quiet lane", k.Subset)
	}
	if n := g.Len("m"); n != 1 {
		t.Errorf("%d waiting, want the heavy request alone", n)
	}
	k.Placed()
	l.set(LaneBusy, 1)
	k.Done() // an end dispatches the heavy one
	waitAdmitted(t, heavy, "heavy")
}
