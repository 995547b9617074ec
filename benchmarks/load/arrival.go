package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Arrival processes.
const (
	// Poisson: exponential gaps at the current step's rate.
	Poisson = "poisson"
	// Constant: evenly spaced at the current step's rate.
	Constant = "constant"
	// Burst: BurstSize requests at once, bursts spaced so the mean rate is
	// the step's rate.
	Burst = "burst"
	// Concurrency: closed loop, Concurrency requests in flight, no schedule.
	Concurrency = "concurrency"
	// TraceTimes: the trace's own timestamps divided by Speedup.
	TraceTimes = "trace"
)

// ArrivalKinds lists the arrival processes.
var ArrivalKinds = []string{Poisson, Constant, Burst, Concurrency, TraceTimes}

// RateStep is a rate in requests per second held for a duration; the last
// step of a list lasts until the workload runs out.
type RateStep struct {
	Rate float64       `json:"rate"`
	For  time.Duration `json:"for"`
}

// Arrival says when requests are sent.
type Arrival struct {
	Kind        string     `json:"kind"`
	Steps       []RateStep `json:"steps,omitempty"`
	BurstSize   int        `json:"burst_size,omitempty"`
	Concurrency int        `json:"concurrency,omitempty"`
	Speedup     float64    `json:"speedup,omitempty"`
}

// ParseRateSteps reads "R" or "R1@D1,R2@D2,...,Rn": rates in requests per
// second, durations in Go syntax; the last step needs no duration.
func ParseRateSteps(s string) ([]RateStep, error) {
	var steps []RateStep
	parts := strings.Split(s, ",")
	for i, part := range parts {
		rateText, durText, hasDur := strings.Cut(strings.TrimSpace(part), "@")
		rate, err := strconv.ParseFloat(rateText, 64)
		if err != nil || rate <= 0 || math.IsInf(rate, 0) {
			return nil, fmt.Errorf("rate step %q: want a positive rate in requests per second", part)
		}
		step := RateStep{Rate: rate}
		switch {
		case hasDur:
			if step.For, err = time.ParseDuration(durText); err != nil || step.For <= 0 {
				return nil, fmt.Errorf("rate step %q: want a positive duration after @", part)
			}
		case i < len(parts)-1:
			return nil, fmt.Errorf("rate step %q: every step but the last needs @duration", part)
		}
		steps = append(steps, step)
	}
	return steps, nil
}

// Describe says what the arrival process is in one line.
func (a Arrival) Describe() string {
	switch a.Kind {
	case Concurrency:
		return fmt.Sprintf("closed loop, %d in flight", a.Concurrency)
	case TraceTimes:
		return fmt.Sprintf("trace timestamps, %g× speed", a.Speedup)
	}
	steps := make([]string, len(a.Steps))
	for i, s := range a.Steps {
		steps[i] = strconv.FormatFloat(s.Rate, 'g', -1, 64)
		if s.For > 0 && i < len(a.Steps)-1 {
			steps[i] += "@" + s.For.String()
		}
	}
	d := fmt.Sprintf("%s at %s req/s", a.Kind, strings.Join(steps, ","))
	if a.Kind == Burst {
		d += fmt.Sprintf(" in bursts of %d", a.BurstSize)
	}
	return d
}

// Validate reports the first setting Schedule cannot use.
func (a Arrival) Validate() error {
	switch a.Kind {
	case Poisson, Constant, Burst:
		if len(a.Steps) == 0 {
			return fmt.Errorf("%s arrivals need a rate", a.Kind)
		}
		for _, s := range a.Steps {
			if !(s.Rate > 0) || math.IsInf(s.Rate, 0) {
				return fmt.Errorf("rate %v: must be positive", s.Rate)
			}
		}
		if a.Kind == Burst && a.BurstSize < 1 {
			return fmt.Errorf("burst size %d: must be at least 1", a.BurstSize)
		}
	case Concurrency:
		if a.Concurrency < 1 {
			return fmt.Errorf("concurrency %d: must be at least 1", a.Concurrency)
		}
	case TraceTimes:
		if !(a.Speedup > 0) {
			return fmt.Errorf("trace speedup %v: must be positive", a.Speedup)
		}
	default:
		return fmt.Errorf("arrival %q: want one of %v", a.Kind, ArrivalKinds)
	}
	return nil
}

// Schedule returns the send offset of every request from the run's start,
// nil for closed-loop concurrency. It is deterministic in seed.
//
// Poisson, constant and burst arrivals share one construction: each gap is
// an amount of "work" E (an Exp(1) draw for Poisson, 1 for constant,
// BurstSize for a burst's requests) spent at the current step's rate; a gap
// that runs past a step's end spends the rest at the next step's rate
// (t = end, E −= rate·(end − t)). For Poisson this is exactly a
// non-homogeneous Poisson process with piecewise-constant rate, since
// exponential gaps are memoryless.
func (a Arrival) Schedule(reqs []Request, seed uint64) ([]time.Duration, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	switch a.Kind {
	case Concurrency:
		return nil, nil
	case TraceTimes:
		out := make([]time.Duration, len(reqs))
		for i, r := range reqs {
			out[i] = time.Duration(float64(r.At) / a.Speedup)
		}
		return out, nil
	}
	r := newRNG(seed, purposeArrival)
	out := make([]time.Duration, len(reqs))
	t, step, stepEnd := 0.0, 0, a.Steps[0].For.Seconds()
	for i := range out {
		work := 1.0
		switch {
		case a.Kind == Poisson:
			work = -math.Log(1 - r.float())
		case a.Kind == Burst && i%a.BurstSize != 0:
			work = 0 // rest of the burst: same instant
		case a.Kind == Burst:
			work = float64(a.BurstSize)
		}
		if i == 0 && a.Kind != Poisson {
			work = 0 // the first request goes at once
		}
		for step < len(a.Steps)-1 && work > a.Steps[step].Rate*(stepEnd-t) {
			work -= a.Steps[step].Rate * (stepEnd - t)
			t = stepEnd
			step++
			stepEnd += a.Steps[step].For.Seconds()
		}
		t += work / a.Steps[step].Rate
		out[i] = time.Duration(t * float64(time.Second))
	}
	return out, nil
}

// MeanRate is the offered rate of a schedule: requests over the span from
// the first to the last arrival; NaN when it cannot be told.
func MeanRate(offsets []time.Duration) float64 {
	if len(offsets) < 2 || offsets[len(offsets)-1] <= offsets[0] {
		return math.NaN()
	}
	return float64(len(offsets)-1) / (offsets[len(offsets)-1] - offsets[0]).Seconds()
}
