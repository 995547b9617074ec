package collect

import (
	"slices"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Roles sums a disaggregated group's role loads, the input of
// autoscale.DecideShape, over the routers that answered the latest round:
//
//   - uncached prompt tokens per second for the group's models: the window
//     deltas of prompt_tokens_total minus cached_tokens_total over the
//     time between the two samples, summed over routers (each router sees
//     its own share of the traffic);
//   - the prefill rate one prefill instance sustains: the median of the
//     routers' learned rates (prefill_rate_tokens_per_second) of the
//     group's prefill endpoints, the median so one cold or mis-learned
//     endpoint does not size the role;
//   - running requests at the decode endpoints (their in-flight gauges).
//
// The Autoscaler's RoleSignals (see "Wiring" in controller/autoscale's
// package doc).
func (c *Collector) Roles(models, prefill, decode []string) autoscale.RatioSignals {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig := autoscale.RatioSignals{At: c.round, Failed: c.failed}
	var rates []float64
	for _, r := range c.routers {
		if !r.ok || len(r.samples) == 0 {
			continue
		}
		sig.Routers++
		last, base := r.samples[len(r.samples)-1], r.samples[0]
		for _, e := range decode {
			sig.DecodeRunning += last.inFlight[e]
		}
		for _, e := range prefill {
			if v := last.rate[e]; v > 0 {
				rates = append(rates, v)
			}
		}
		if dt := last.at.Sub(base.at).Seconds(); dt > 0 {
			for _, m := range models {
				uncached := counterDelta(last.prompt[m], base.prompt[m]) - counterDelta(last.cached[m], base.cached[m])
				sig.UncachedTokensPerSecond += max(uncached, 0) / dt
			}
		}
	}
	sig.PrefillRate = median(rates)
	return sig
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
