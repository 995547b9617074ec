package breaker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newTestBreaker(c *clock) *Breaker   { return New(testConfig(), c.now, nil) }
func testConfig() Config {
	return Config{Failures: 3, Cooldown: time.Second, MaxCooldown: 3 * time.Second}
}
func fail(b *Breaker, n int) {
	for range n {
		b.Failure(false)
	}
}
func acquire(b *Breaker) (bool, bool) { return b.Acquire() }

func TestBreaker(t *testing.T) {
	type step struct {
		do        func(b *Breaker, c *clock)
		wantState State
		wantReady bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{
			name: "failures below the threshold keep it closed; a success resets the count",
			steps: []step{
				{func(b *Breaker, _ *clock) { fail(b, 2) }, Closed, true},
				{func(b *Breaker, _ *clock) { b.Success(false); fail(b, 2) }, Closed, true},
			},
		},
		{
			name: "consecutive failures open it until the cool-down passes",
			steps: []step{
				{func(b *Breaker, _ *clock) { fail(b, 3) }, Open, false},
				{func(_ *Breaker, c *clock) { c.advance(999 * time.Millisecond) }, Open, false},
				{func(_ *Breaker, c *clock) { c.advance(time.Millisecond) }, HalfOpen, true},
			},
		},
		{
			name: "a successful probe closes it",
			steps: []step{
				{func(b *Breaker, c *clock) { fail(b, 3); c.advance(time.Second) }, HalfOpen, true},
				{func(b *Breaker, _ *clock) { mustProbe(t, b) }, HalfOpen, false},
				{func(b *Breaker, _ *clock) { b.Success(true) }, Closed, true},
			},
		},
		{
			name: "a failed probe reopens it with a doubled cool-down, capped",
			steps: []step{
				{func(b *Breaker, c *clock) { fail(b, 3); c.advance(time.Second); mustProbe(t, b); b.Failure(true) }, Open, false},
				{func(_ *Breaker, c *clock) { c.advance(1999 * time.Millisecond) }, Open, false},
				{func(_ *Breaker, c *clock) { c.advance(time.Millisecond) }, HalfOpen, true},
				{func(b *Breaker, c *clock) { mustProbe(t, b); b.Failure(true); c.advance(2999 * time.Millisecond) }, Open, false},
				{func(_ *Breaker, c *clock) { c.advance(time.Millisecond) }, HalfOpen, true},
			},
		},
		{
			name: "a released probe frees the slot",
			steps: []step{
				{func(b *Breaker, c *clock) { fail(b, 3); c.advance(time.Second); mustProbe(t, b); b.Release(true) }, HalfOpen, true},
			},
		},
		{
			name: "failures of ordinary requests while half-open do not reopen it",
			steps: []step{
				{func(b *Breaker, c *clock) { fail(b, 3); c.advance(time.Second); fail(b, 5) }, HalfOpen, true},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1000, 0)}
			b := newTestBreaker(c)
			for i, s := range tc.steps {
				s.do(b, c)
				if got := b.State(); got != s.wantState {
					t.Fatalf("step %d: state %v, want %v", i, got, s.wantState)
				}
				if got := b.Ready(); got != s.wantReady {
					t.Fatalf("step %d: ready %v, want %v", i, got, s.wantReady)
				}
			}
		})
	}
}

func mustProbe(t *testing.T, b *Breaker) {
	t.Helper()
	probe, ok := acquire(b)
	if !probe || !ok {
		t.Fatalf("Acquire = probe %v, ok %v; want a probe", probe, ok)
	}
	if _, ok := acquire(b); ok {
		t.Fatal("a second Acquire got through while the probe is in flight")
	}
}

func TestBreakerReportsTransitions(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	var got []string
	b := New(testConfig(), c.now, func(from, to State) { got = append(got, from.String()+"->"+to.String()) })
	fail(b, 3)
	c.advance(time.Second)
	mustProbe(t, b)
	b.Success(true)
	want := []string{"closed->open", "open->half-open", "half-open->closed"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
}

func TestDisabledBreakerNeverOpens(t *testing.T) {
	b := New(Config{}, nil, nil)
	fail(b, 100)
	if b.State() != Closed {
		t.Errorf("state %v, want closed", b.State())
	}
}
