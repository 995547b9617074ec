package server

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Faults are failures injected into completion requests. Rates are
// probabilities per request, drawn from a generator seeded per engine, so the
// same arrival sequence fails the same way.
type Faults struct {
	// ErrorRate answers a request with HTTP 500 before any byte of output.
	ErrorRate float64
	// SpikeRate delays a request by SpikeLatency (times the time scale)
	// before it reaches the engine.
	SpikeRate    float64
	SpikeLatency time.Duration
	// HangRate accepts a request and never answers it; the connection stays
	// open until the client gives up.
	HangRate float64
	// CrashAfter, if positive, kills the engine when request CrashAfter+1
	// arrives: its listener closes and every open connection, in-flight
	// streams included, is cut.
	CrashAfter int
}

// Validate reports a rate outside [0, 1] or a negative setting.
func (f Faults) Validate() error {
	for name, r := range map[string]float64{"error rate": f.ErrorRate, "spike rate": f.SpikeRate, "hang rate": f.HangRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("%s %g: must be within [0, 1]", name, r)
		}
	}
	if f.SpikeLatency < 0 || f.CrashAfter < 0 {
		return fmt.Errorf("spike latency and crash-after must not be negative")
	}
	return nil
}

type action int

const (
	proceed action = iota
	crash
	hang
	fail
)

// injector decides each request's fate in arrival order.
type injector struct {
	f     Faults
	mu    sync.Mutex
	rng   *rand.Rand
	count int
}

func newInjector(f Faults, seed, stream uint64) *injector {
	return &injector{f: f, rng: rand.New(rand.NewPCG(seed, stream))}
}

// decide returns what to do with the next request and any delay before it.
func (in *injector) decide() (action, time.Duration) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.count++
	if in.f.CrashAfter > 0 && in.count > in.f.CrashAfter {
		return crash, 0
	}
	if in.f.HangRate > 0 && in.rng.Float64() < in.f.HangRate {
		return hang, 0
	}
	if in.f.ErrorRate > 0 && in.rng.Float64() < in.f.ErrorRate {
		return fail, 0
	}
	if in.f.SpikeRate > 0 && in.rng.Float64() < in.f.SpikeRate {
		return proceed, in.f.SpikeLatency
	}
	return proceed, 0
}
