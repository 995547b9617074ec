package simbench

import (
	"math"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// HostPoint is one run of the host-capacity sweep: Engines engines, each
// under the same closed loop, at the sweep's time scale.
type HostPoint struct {
	Engines  int `json:"engines"`
	Requests int `json:"requests"`
	Errors   int `json:"errors"`
	// Demand is the output tokens per wall-clock second the fleet produces
	// if every engine runs exactly as modelled: Engines × the model's
	// tokens per modelled second ÷ the time scale.
	Demand load.Num `json:"demand_tokens_per_s"`
	// Achieved is output tokens per wall-clock second, first send to last
	// end over all engines.
	Achieved load.Num `json:"achieved_tokens_per_s"`
	// Speed is the modelled span × time scale ÷ the wall-clock span: 1 when
	// the host keeps up, below 1 when steps run late.
	Speed load.Num `json:"speed"`
	// ITL and ModelITL are the mean inter-token latency measured by the
	// client and predicted by the model, both in modelled ms (wall ÷ time
	// scale); ITLRatio is ITL ÷ ModelITL. The mean, not the median: the
	// engines time steps with Go timers of about 1 ms granularity here and
	// catch up on a late step with a short one, which keeps the mean gap
	// exact but scatters the individual gaps of sub-millisecond steps.
	ITL      load.Num `json:"itl_mean_ms"`
	ModelITL load.Num `json:"model_itl_mean_ms"`
	ITLRatio load.Num `json:"itl_ratio"`
	// Deviation is how far the run fell short of the model: the larger of
	// 1 − Speed and ITLRatio − 1; +Inf when requests failed.
	Deviation load.Num `json:"deviation"`
	// Cores is the process's CPU time (user + system, every thread: engines,
	// HTTP servers and the load client) over the wall-clock span.
	Cores load.Num `json:"cores"`
	// MachineCores is the whole machine's busy CPU time over the wall-clock
	// span (/proc/stat): above Cores by what other processes used, which
	// the host's limit must be read against on a shared machine.
	MachineCores load.Num `json:"machine_cores"`
	// CPUPerToken is CPU microseconds per generated token.
	CPUPerToken load.Num `json:"cpu_us_per_token"`
	// Steps are the engines' steps; StepRate them per wall-clock second.
	Steps    uint64   `json:"steps"`
	StepRate load.Num `json:"steps_per_s"`
}

// Deviation is how far a run fell short of its model: the larger of the
// throughput shortfall (1 − speed) and the inter-token latency excess
// (itlRatio − 1). Either figure alone can hide the host's limit: the
// engines' step loop catches up on short delays (a step that overran is
// followed by one that sleeps less), which keeps throughput but not
// latency, while a client that is slow to send the next request costs
// throughput with every step on time. NaN inputs count as no deviation
// on that side; a run with failed requests deviates without bound.
func Deviation(speed, itlRatio float64, errors int) float64 {
	if errors > 0 {
		return math.Inf(1)
	}
	d := math.Inf(-1)
	if !math.IsNaN(speed) {
		d = 1 - speed
	}
	if !math.IsNaN(itlRatio) {
		d = math.Max(d, itlRatio-1)
	}
	if math.IsInf(d, -1) {
		return math.NaN()
	}
	return d
}

// HostLimit is where the host stops keeping up with the model.
type HostLimit struct {
	// Engines and Demand at the crossing of the deviation threshold,
	// interpolated linearly in deviation between the last point within it
	// and the first beyond it (as load.FindKnee does for TTFT).
	Engines float64 `json:"engines"`
	Demand  float64 `json:"demand_tokens_per_s"`
	// LastWithin and FirstBeyond are the engine counts around the crossing
	// (0: none).
	LastWithin  int `json:"last_within"`
	FirstBeyond int `json:"first_beyond"`
	// Censored is "" for a crossing inside the sweep, "above" when no point
	// deviated beyond the threshold (the limit is at least the largest
	// demand run), "below" when even the first point did.
	Censored string `json:"censored,omitempty"`
}

// FindHostLimit finds the first point, in the order given (rising
// demand), whose deviation exceeds threshold, and interpolates the
// crossing between it and the point before it. A NaN deviation counts as
// beyond the threshold.
func FindHostLimit(points []HostPoint, threshold float64) HostLimit {
	if len(points) == 0 {
		return HostLimit{Censored: "below"}
	}
	over := func(p HostPoint) bool { d := float64(p.Deviation); return math.IsNaN(d) || d > threshold }
	i := 0
	for i < len(points) && !over(points[i]) {
		i++
	}
	switch {
	case i == len(points):
		last := points[len(points)-1]
		return HostLimit{Engines: float64(last.Engines), Demand: float64(last.Demand), LastWithin: last.Engines, Censored: "above"}
	case i == 0:
		return HostLimit{Engines: float64(points[0].Engines), Demand: float64(points[0].Demand), FirstBeyond: points[0].Engines, Censored: "below"}
	}
	a, b := points[i-1], points[i]
	f := 0.0 // an unbounded deviation at b: the limit is placed at a
	da, db := float64(a.Deviation), float64(b.Deviation)
	if !math.IsInf(db, 0) && !math.IsNaN(db) && db > da {
		f = (threshold - da) / (db - da)
	}
	return HostLimit{
		Engines:     float64(a.Engines) + f*float64(b.Engines-a.Engines),
		Demand:      float64(a.Demand) + f*float64(b.Demand-a.Demand),
		LastWithin:  a.Engines,
		FirstBeyond: b.Engines,
	}
}

// overTwice reports whether the last two points both deviate beyond the
// threshold: the sweep stops there, since more engines only deviate more.
func overTwice(points []HostPoint, threshold float64) bool {
	n := len(points)
	if n < 2 {
		return false
	}
	over := func(p HostPoint) bool { d := float64(p.Deviation); return math.IsNaN(d) || d > threshold }
	return over(points[n-1]) && over(points[n-2])
}
