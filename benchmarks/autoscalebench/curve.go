package autoscalebench

import (
	"math"
	"math/rand/v2"
)

// Curve is the day's request rate: a diurnal cosine from Trough (t = 0,
// night) to Peak (mid-day), times a burst factor that ramps from 1 to
// BurstFactor in BurstRamp, holds for BurstHold and ramps back down in
// BurstRamp.
type Curve struct {
	Day         float64   // seconds
	Trough      float64   // req/s
	Peak        float64   // req/s
	Bursts      []float64 // start times, seconds into the day
	BurstFactor float64
	BurstRamp   float64 // seconds
	BurstHold   float64 // seconds
}

// Diurnal is the rate without bursts.
func (c Curve) Diurnal(t float64) float64 {
	return c.Trough + (c.Peak-c.Trough)*(1-math.Cos(2*math.Pi*t/c.Day))/2
}

// Factor is the burst multiplier at t (1 outside bursts).
func (c Curve) Factor(t float64) float64 {
	f := 1.0
	for _, b := range c.Bursts {
		f = max(f, c.burst(t-b))
	}
	return f
}

// burst is one burst's multiplier, dt seconds after its start.
func (c Curve) burst(dt float64) float64 {
	up, hold := c.BurstRamp, c.BurstHold
	switch {
	case dt < 0 || dt > 2*up+hold:
		return 1
	case dt < up:
		return 1 + (c.BurstFactor-1)*dt/up
	case dt <= up+hold:
		return c.BurstFactor
	}
	return 1 + (c.BurstFactor-1)*(2*up+hold-dt)/up
}

// Rate is the request rate at t, req/s.
func (c Curve) Rate(t float64) float64 { return c.Diurnal(t) * c.Factor(t) }

// BurstEnd is when the burst starting at b is over.
func (c Curve) BurstEnd(b float64) float64 { return b + 2*c.BurstRamp + c.BurstHold }

// Arrivals are the requests of one step, per class.
type Arrivals struct{ Shared, Chat float64 }

// Total is every request of the step.
func (a Arrivals) Total() float64 { return a.Shared + a.Chat }

// Arrive draws each step's Poisson arrival counts, split by class with
// sharedFraction: the same seed gives the same day, so every scaler sees
// the same requests.
func Arrive(c Curve, steps int, sharedFraction float64, seed uint64) []Arrivals {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	out := make([]Arrivals, steps)
	for t := range out {
		lam := c.Rate(float64(t))
		out[t] = Arrivals{Shared: poisson(rng, lam*sharedFraction), Chat: poisson(rng, lam*(1-sharedFraction))}
	}
	return out
}

// poisson draws a Poisson count: Knuth's product of uniforms for small
// means, the normal approximation (rounded, never negative) above 30,
// where exp(-mean) would lose precision and the product take mean steps.
func poisson(rng *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	limit, p, k := math.Exp(-mean), 1.0, 0.0
	for {
		p *= rng.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}
