// Package autoscale is the pure decision of the ServingGroup autoscaler:
// given the group's autoscaling spec, its current and ready units, the load
// signals the routers report for it, and what the last decision recorded
// in status, it returns the units to set and why. It does no I/O and keeps
// no memory: the stabilisation windows and the growth rate are read from
// the previous status (aboveTargetSince, belowTargetSince, the last
// signals and their time), so a restarted controller decides as the old
// one would have.
//
// # Signals
//
// Summed over every router replica that answered (see the collector in
// controller/autoscale/collect): in-flight requests at the group's engines
// plus requests the routers hold for its models, uncached prompt tokens
// queued at its engines, requests answered for its models during the
// signal window, and the p90 time to first token over that window,
// computed from the delta of the routers' TTFT histograms (Quantile).
//
// The p90 is interpolated inside the router's TTFT buckets (edges at 0.1,
// 0.25, 0.5, 1, 2.5 s ...), so it is only as exact as a bucket is narrow.
// Against the clients' own p90 over the same 5 s windows (tandem-router in
// front of two tandem-sim engines, 2 to 16 streaming clients) it read
// 235 ms for 110 ms and 476 ms for 317 ms: it errs high inside a bucket.
// Put a TTFT bound on a bucket edge, where the error cannot change the
// answer to "over or under".
//
// # Algorithm
//
// Decide runs these steps in order:
//
//  1. Bounds: units below minReplicas are raised to it and units above
//     maxReplicas lowered to it at once, whatever the signals say.
//  2. No signals: when no router answered, nothing changes.
//  3. From zero: with 0 units, any demand (a request held, in flight or
//     answered during the window) asks for max(1, recommendation) at once,
//     without waiting for the scale-up window.
//  4. Predict: while a queue signal grows, its value is extrapolated by the
//     growth rate since the previous decision (never negative) times
//     coldStartSeconds, the time a new unit needs before it serves.
//  5. Recommend, per target set: in-flight and queued tokens ask for
//     ceil(predicted load / per-unit target); the TTFT bound asks for
//     ceil(ready units × p90/bound) when p90 exceeds the bound by more than
//     10% (never less than the current units, so units still starting are
//     not doubled while they load), one unit less when p90 is under half
//     the bound, and the current units otherwise; without TTFT samples it
//     abstains. The most demanding target wins. A group with no demand at
//     all is recommended minReplicas. The result is clamped to the bounds.
//  6. Stabilise: a recommendation above the current units must hold for
//     scaleUpWindowSeconds (counted from aboveTargetSince), then the group
//     goes straight to it. One below must hold for scaleDownWindowSeconds
//     (from belowTargetSince), then the group loses one unit and the window
//     starts again, so a fall of n units takes n windows. A decision that
//     disagrees with the running window's direction restarts it. When some
//     routers did not answer the sums are low, so the group may grow but
//     does not shrink.
//
// The TTFT bound scales up in proportion because queueing delay grows with
// load, but it only ever shrinks by one unit: TTFT at light load is the
// prefill time, flat in the load, so the ratio says nothing about how many
// units could go.
package autoscale
