package sse

import (
	"context"
	"errors"
	"testing"
	"time"
)

// waitCause is the cause ctx ends with, or nil if it is still open after
// a generous wait (tests never depend on how fast a timer fires).
func waitCause(ctx context.Context, within time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(within):
		return nil
	}
}

func TestWatchdogBounds(t *testing.T) {
	cases := []struct {
		name        string
		first, idle time.Duration
		// run plays the reader's part before the silence.
		run  func(w *Watchdog)
		want error
	}{
		{
			name: "no first event", first: 20 * time.Millisecond, idle: time.Hour,
			run:  func(*Watchdog) {},
			want: ErrFirstEventTimeout,
		},
		{
			name: "silence after events", first: time.Hour, idle: 20 * time.Millisecond,
			run: func(w *Watchdog) {
				for range 3 {
					w.Busy()
					w.Wait()
				}
			},
			want: ErrIdleTimeout,
		},
		{
			name: "silence after the first event, with no first-event bound", first: 0, idle: 20 * time.Millisecond,
			run:  func(w *Watchdog) { w.Busy(); w.Wait() },
			want: ErrIdleTimeout,
		},
		{
			// The first event switches a long first bound to the short
			// idle one at once, not when the first bound would pass.
			name: "idle bound replaces a longer first bound", first: time.Hour, idle: 20 * time.Millisecond,
			run:  func(w *Watchdog) { w.Busy(); w.Wait() },
			want: ErrIdleTimeout,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, w := NewWatchdog(context.Background(), tc.first, tc.idle)
			defer w.Stop()
			tc.run(w)
			if got := waitCause(ctx, 20*time.Second); !errors.Is(got, tc.want) {
				t.Errorf("cause %v, want %v", got, tc.want)
			}
		})
	}
}

// While the reader is busy passing an event on (a slow client), no
// silence is counted against the stream, however long it lasts.
func TestWatchdogBusyDoesNotCount(t *testing.T) {
	ctx, w := NewWatchdog(context.Background(), 10*time.Millisecond, 10*time.Millisecond)
	defer w.Stop()
	w.Busy()
	if got := waitCause(ctx, 200*time.Millisecond); got != nil {
		t.Fatalf("canceled with %v while the reader was busy", got)
	}
	w.Wait()
	if got := waitCause(ctx, 20*time.Second); !errors.Is(got, ErrIdleTimeout) {
		t.Errorf("cause %v after waiting again, want %v", got, ErrIdleTimeout)
	}
}

// With no bounds the watchdog never fires; Stop ends its context.
func TestWatchdogNoBounds(t *testing.T) {
	ctx, w := NewWatchdog(context.Background(), 0, 0)
	w.Busy()
	w.Wait()
	if got := waitCause(ctx, 100*time.Millisecond); got != nil {
		t.Fatalf("canceled with %v without bounds", got)
	}
	w.Stop()
	if got := waitCause(ctx, time.Second); !errors.Is(got, context.Canceled) {
		t.Errorf("cause after Stop %v, want context.Canceled", got)
	}
}

// A parent's end passes through with its own cause.
func TestWatchdogParentEnds(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	ctx, w := NewWatchdog(parent, time.Hour, time.Hour)
	defer w.Stop()
	if got := waitCause(ctx, 20*time.Second); !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("cause %v, want the parent's deadline", got)
	}
}
