// Package breaker is a per-endpoint circuit breaker with half-open probes.
//
// Closed: requests flow; Failures consecutive failures open it. Open: no
// request is sent until the cool-down has passed. Half-open: exactly one
// request (the probe) is let through at a time; its success closes the
// breaker, its failure opens it again with the cool-down doubled, up to
// MaxCooldown. Probes are ordinary requests: a failed probe fails before its
// first byte reaches the client, so the router retries it elsewhere and no
// client sees the probe fail.
//
// The closed state is read with one atomic load, so the request path pays
// nothing while an endpoint is healthy.
package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// State is a breaker's state.
type State int32

const (
	Closed State = iota
	Open
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	}
	return "half-open"
}

// Config tunes every breaker.
type Config struct {
	// Failures is the number of consecutive failures that opens the
	// breaker; 0 disables breaking.
	Failures int `json:"failures"`
	// Cooldown is the first wait before a probe.
	Cooldown time.Duration `json:"cooldown"`
	// MaxCooldown caps the doubled wait after failed probes.
	MaxCooldown time.Duration `json:"maxCooldown"`
}

// DefaultConfig opens after 5 consecutive failures and probes after 1 s,
// then 2 s, 4 s, ... at most 30 s.
func DefaultConfig() Config {
	return Config{Failures: 5, Cooldown: time.Second, MaxCooldown: 30 * time.Second}
}

// Breaker guards one endpoint. It is safe for concurrent use.
type Breaker struct {
	cfg   Config
	now   func() time.Time
	state atomic.Int32

	mu       sync.Mutex
	failures int
	openedAt time.Time
	cooldown time.Duration
	probing  bool
	// OnChange, if set, is called (under the breaker's lock) with every
	// transition, for metrics and logs.
	onChange func(from, to State)
}

// New returns a closed breaker. now may be nil (time.Now); onChange may be nil.
func New(cfg Config, now func() time.Time, onChange func(from, to State)) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{cfg: cfg, now: now, cooldown: cfg.Cooldown, onChange: onChange}
}

// State reports the current state, moving an open breaker whose cool-down
// has passed to half-open.
func (b *Breaker) State() State {
	if s := State(b.state.Load()); s == Closed {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeHalfOpen()
	return State(b.state.Load())
}

// Ready reports whether a request may be sent now: closed, or half-open
// with no probe in flight. It claims nothing; Acquire does.
func (b *Breaker) Ready() bool {
	if State(b.state.Load()) == Closed {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeHalfOpen()
	return State(b.state.Load()) == HalfOpen && !b.probing
}

// Acquire claims the right to send one request. probe is true when the
// request is the half-open probe; its outcome must be reported with
// Success or Failure (or Release if it never reached the endpoint).
func (b *Breaker) Acquire() (probe, ok bool) {
	if State(b.state.Load()) == Closed {
		return false, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeHalfOpen()
	switch State(b.state.Load()) {
	case Closed:
		return false, true
	case HalfOpen:
		if !b.probing {
			b.probing = true
			return true, true
		}
	}
	return false, false
}

// Release gives back a probe slot whose request was never sent.
func (b *Breaker) Release(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// Success records a request that the endpoint served.
func (b *Breaker) Success(probe bool) {
	if State(b.state.Load()) == Closed && !probe {
		b.mu.Lock()
		b.failures = 0
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	b.failures = 0
	if State(b.state.Load()) == HalfOpen {
		b.cooldown = b.cfg.Cooldown
		b.set(Closed)
	}
}

// Failure records a request the endpoint failed.
func (b *Breaker) Failure(probe bool) {
	if b.cfg.Failures <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch State(b.state.Load()) {
	case Closed:
		b.failures++
		if b.failures >= b.cfg.Failures {
			b.open()
		}
	case HalfOpen:
		if probe {
			b.cooldown = min(2*b.cooldown, b.cfg.MaxCooldown)
			b.open()
		}
	}
}

func (b *Breaker) open() {
	b.openedAt = b.now()
	b.failures = 0
	b.set(Open)
}

func (b *Breaker) maybeHalfOpen() {
	if State(b.state.Load()) == Open && b.now().Sub(b.openedAt) >= b.cooldown {
		b.set(HalfOpen)
	}
}

func (b *Breaker) set(to State) {
	from := State(b.state.Swap(int32(to)))
	if from != to && b.onChange != nil {
		b.onChange(from, to)
	}
}
