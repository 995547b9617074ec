package autoscalebench

import "math"

// HPA is Kubernetes' HorizontalPodAutoscaler algorithm on one
// per-unit metric (the queue length), as the Kubernetes documentation
// "Horizontal Pod Autoscaling", section "Algorithm details" (v1.34),
// states it:
//
//   - desired = ceil(current × metric / target), where metric is the
//     average over the units that report it;
//   - no change while metric/target is within the 10% tolerance;
//   - units that report no metric (still starting) count as using 0 of it
//     when the result would scale up, and as at the target when it would
//     scale down; if that reverses the direction, nothing changes;
//   - scale-down is stabilised: the applied value is the highest desired
//     value of the last 5 minutes;
//   - default scale-up limit: the larger of +100% and +4 units per 15 s
//     period.
type HPA struct {
	Target        float64 // metric per unit
	Min, Max      int
	Tolerance     float64 // 0.1
	DownWindowSec int     // 300
	PeriodSec     int     // 15, the controller's sync period
	history       []recommendation
}

type recommendation struct {
	at, units int
}

// Desired is the raw recommendation: ceil(current × metric/target) with
// the tolerance and the missing-metric rule. total is the metric summed
// over the reporting units.
func (h *HPA) Desired(current, reporting int, total float64) int {
	if current == 0 {
		return h.Min
	}
	if reporting == 0 {
		return current // nothing to go by
	}
	ratio := total / float64(reporting) / h.Target
	if math.Abs(ratio-1) <= h.Tolerance {
		return current
	}
	missing := current - reporting
	if missing > 0 {
		// Re-average with the missing units at 0 (scale up) or at the
		// target (scale down).
		fill := 0.0
		if ratio < 1 {
			fill = h.Target * float64(missing)
		}
		adjusted := (total + fill) / float64(current) / h.Target
		if (ratio > 1) != (adjusted > 1) || math.Abs(adjusted-1) <= h.Tolerance {
			return current
		}
		ratio = adjusted
	}
	return int(math.Ceil(ratio*float64(current) - 1e-9))
}

// Decide is one sync period at second now: the units to set. As the
// HPA controller combines them: the scale-up recommendation is this
// period's (no scale-up window by default), the scale-down one the
// highest of the last DownWindowSec; the current units stay when they
// lie between the two.
func (h *HPA) Decide(now, current, reporting int, total float64) int {
	d := min(max(h.Desired(current, reporting, total), h.Min), h.Max)
	h.history = append(h.history, recommendation{now, d})
	kept := h.history[:0]
	down := d
	for _, r := range h.history {
		if now-r.at <= h.DownWindowSec {
			kept = append(kept, r)
			down = max(down, r.units)
		}
	}
	h.history = kept
	switch {
	case d > current:
		return min(d, max(2*current, current+4))
	case down < current:
		return down
	}
	return current
}
