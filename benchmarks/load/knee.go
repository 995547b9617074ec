package load

import (
	"math"
	"sort"
)

// SweepPoint is one run of a rate sweep.
type SweepPoint struct {
	// Rate is the offered arrival rate, requests per second.
	Rate float64 `json:"rate"`
	// Throughput is the measured rate of finished requests per second.
	Throughput float64 `json:"throughput"`
	// P90TTFT is the run's 90th percentile time to first token, ms.
	P90TTFT float64 `json:"p90_ttft_ms"`
}

// Knee is where a sweep's p90 TTFT crosses a bound.
type Knee struct {
	// Throughput and Rate at the crossing.
	Throughput float64 `json:"throughput"`
	Rate       float64 `json:"rate"`
	// Censored is "" for a crossing inside the sweep; "above" when no point
	// crossed the bound (the knee is at least Throughput, the sweep's best);
	// "below" when the first point already crossed it (the knee is under the
	// sweep's lowest rate; Throughput is that point's).
	Censored string `json:"censored,omitempty"`
}

// FindKnee locates the knee: with points ordered by rate, the first point
// whose p90 TTFT exceeds boundMs and the point before it bracket the
// crossing, and throughput and rate are interpolated linearly in p90 TTFT
// between them:
//
//	f = (bound − ttft[i−1]) / (ttft[i] − ttft[i−1])
//	knee = tput[i−1] + f·(tput[i] − tput[i−1])
//
// Points with no TTFT (NaN: nothing finished) count as above the bound, and
// a crossing into one is placed at the point before it.
// FindKnee returns the zero Knee with Censored "below" for no points.
func FindKnee(points []SweepPoint, boundMs float64) Knee {
	if len(points) == 0 {
		return Knee{Censored: "below"}
	}
	p := append([]SweepPoint(nil), points...)
	sort.SliceStable(p, func(i, j int) bool { return p[i].Rate < p[j].Rate })
	over := func(q SweepPoint) bool { return math.IsNaN(q.P90TTFT) || q.P90TTFT > boundMs }
	i := 0
	for i < len(p) && !over(p[i]) {
		i++
	}
	switch {
	case i == len(p):
		best := p[0]
		for _, q := range p {
			if q.Throughput > best.Throughput {
				best = q
			}
		}
		return Knee{Throughput: best.Throughput, Rate: best.Rate, Censored: "above"}
	case i == 0:
		return Knee{Throughput: p[0].Throughput, Rate: p[0].Rate, Censored: "below"}
	}
	a, b := p[i-1], p[i]
	f := 0.0 // nothing finished at b: take the last good point
	if !math.IsNaN(b.P90TTFT) && b.P90TTFT > a.P90TTFT {
		f = (boundMs - a.P90TTFT) / (b.P90TTFT - a.P90TTFT)
	}
	return Knee{
		Throughput: a.Throughput + f*(b.Throughput-a.Throughput),
		Rate:       a.Rate + f*(b.Rate-a.Rate),
	}
}
