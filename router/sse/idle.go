package sse

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// The causes a Watchdog cancels its context with.
var (
	// ErrFirstEventTimeout: no event arrived within the first-event bound.
	ErrFirstEventTimeout = errors.New("no first event in time")
	// ErrIdleTimeout: the stream fell silent between two events for
	// longer than the idle bound.
	ErrIdleTimeout = errors.New("the stream fell silent")
)

// Watchdog bounds the silences of one stream read through a context: the
// wait for its first event and, after it, each wait for the next one.
// Reading an HTTP response body cannot be interrupted but by its request's
// context, so the watchdog cancels that context, with a cause saying which
// bound passed; the transport then closes the engine connection and the
// pending read returns.
//
// Only time spent waiting on the stream counts: the reader calls Busy when
// it has an event and goes to pass it on (a slow client may block that for
// long, and that is not the engine's silence), and Wait when it reads
// again. Both are two atomic stores; the timer is re-armed only when it
// fires, so a stream of thousands of events costs one timer.
type Watchdog struct {
	timer       *time.Timer
	cancel      context.CancelCauseFunc
	first, idle time.Duration
	base        time.Time
	// since is when the current wait began (nanoseconds after base, plus
	// one), or 0 while the reader is busy elsewhere.
	since   atomic.Int64
	started atomic.Bool
}

// NewWatchdog returns a context derived from parent that the watchdog
// cancels when no event comes within first of now (0: no bound) or, after
// the first event, when a wait for the next lasts more than idle (0: no
// bound). The reader is waiting from now. Call Stop when the stream is done.
func NewWatchdog(parent context.Context, first, idle time.Duration) (context.Context, *Watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &Watchdog{cancel: cancel, first: first, idle: idle, base: time.Now()}
	w.since.Store(1)
	if d := w.period(false); d > 0 {
		w.timer = time.AfterFunc(d, w.fire)
	}
	return ctx, w
}

// period is how often the timer looks: the bound in force, or the other
// one while the bound in force is none (the first event may still come).
func (w *Watchdog) period(started bool) time.Duration {
	if started || w.first <= 0 {
		return w.idle
	}
	return w.first
}

func (w *Watchdog) fire() {
	started := w.started.Load()
	bound, cause := w.first, ErrFirstEventTimeout
	if started {
		bound, cause = w.idle, ErrIdleTimeout
	}
	since := w.since.Load()
	if since != 0 && bound > 0 {
		if left := bound - (time.Since(w.base) - time.Duration(since-1)); left <= 0 {
			w.cancel(cause)
			return
		} else if left < w.period(started) {
			w.timer.Reset(left)
			return
		}
	}
	if d := w.period(started); d > 0 {
		w.timer.Reset(d)
	}
}

// Busy says an event arrived and the reader is passing it on: no wait
// counts until the next Wait. The first call switches to the idle bound.
func (w *Watchdog) Busy() {
	w.since.Store(0)
	if !w.started.Load() {
		w.started.Store(true)
		if w.timer != nil {
			if w.idle > 0 {
				w.timer.Reset(w.idle)
			} else {
				w.timer.Stop()
			}
		}
	}
}

// Wait says the reader reads from the stream again, from now.
func (w *Watchdog) Wait() {
	w.since.Store(int64(time.Since(w.base)) + 1)
}

// Stop disarms the watchdog and releases its context.
func (w *Watchdog) Stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.cancel(context.Canceled)
}
