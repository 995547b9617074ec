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
// With an ITL bound, also the p90 inter-token latency over the window from
// the engines' own histograms (the routers relay streams but see no token
// steps): the decode leaders of a disaggregated group, every leader of an
// aggregated one (collect.Engines).
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
//     growth rate since the previous decision times coldStartSeconds, the
//     time a new unit needs before it serves. The rise is believed only
//     when it exceeds three times the gauge's own noise, sqrt(now +
//     previous) (a count of requests in flight is about Poisson at a
//     steady load); a fall is never extrapolated. Without that gate one
//     15 s difference of a few requests, times a 90 s cold start, asked
//     for a unit at night (34 in flight predicted as 60). The same gate
//     is applied to queued tokens, where it is too lax (a token count
//     varies by a request's tokens, not by one); status keeps no held
//     count, so the previous look's held requests count as engine load,
//     which understates a rise, never overstates it.
//  5. Recommend, per target set: in-flight and queued tokens ask for
//     ceil(predicted load / per-unit target). Requests the routers hold
//     (Held) wait for a slot rather than use one: with a unit ready they
//     are left out of the in-flight load (the engines at saturation
//     already carry current units / utilisation, and the TTFT bound sees
//     the wait); with none ready they count one slot each, as the only
//     sign of the load. Held requests are never extrapolated: a queue
//     grows while nothing drains it, whatever the load does. The TTFT
//     bound asks for ceil(ready units × p90/bound) when p90 exceeds the
//     bound by more than 10% (never less than the current units, so units
//     still starting are not doubled while they load), and the current
//     units between half the bound and that; under half the bound it
//     holds no unit when a queue target is set (that target says how
//     many may go) and asks for one unit less when the latency bounds are
//     the only targets; without TTFT samples it abstains. The ITL bound
//     does the same with the engines' p90 ITL. The most demanding target
//     wins. A group with no demand at all is recommended minReplicas. The
//     result is clamped to the bounds.
//  6. Stabilise: a recommendation above the current units must hold for
//     scaleUpWindowSeconds (counted from aboveTargetSince), then the group
//     goes straight to it. One below must hold for scaleDownWindowSeconds
//     (from belowTargetSince): no look in the window may ask for more
//     than the current units; looks equal to them neither start nor end
//     the window. Then, at every look below the current units, the group
//     goes to the most units any look of the last scaleDownWindowSeconds
//     asked for (a sliding maximum; status downWindowLooks keeps the
//     looks that can still be it, at most 16), so after a burst the units
//     follow the falling load one window behind it, look by look, rather
//     than a whole window per step. A window ends when a look asks for
//     more than the current units, or when no look below them is left in
//     the last window's time (a look equal to them after that does not
//     carry it on). When some routers did not answer the sums are low, so
//     the group may grow but does not shrink.
//
// Kubernetes' HPA stabilises a scale-down the same way: it keeps the
// recommendations of the whole window and takes the highest
// (autoscaling/v2 HPAScalingRules.stabilizationWindowSeconds: the seconds
// of past recommendations it considers, 300 by default for scale-down;
// KEP-853 configurable-hpa-scale-velocity, algorithm pseudocode: gather
// the window's recommendations, pick the largest). Two differences: Decide
// keeps, in status, only the looks that can still be the highest (each
// asks for more than every later one), so a restarted controller goes on
// where the last one stopped; and looks equal to the current units are
// not kept, so a load that sits on a unit's edge, asking for the current
// units at some looks and one fewer at others, still gives the unit back
// once a whole window has passed with looks below (the HPA would keep
// it). An earlier rule went, once a window had run, to the most of all its
// looks and began a new window: after the local-cluster bursts (issue 16,
// benchmarks/results/autoscale.md) that held 7 units for 22 s and 4 for
// 22 s more while the looks already asked for 2 to 4.
//
// The TTFT bound scales up in proportion because queueing delay grows with
// load, but it only ever shrinks by one unit: TTFT at light load is the
// prefill time, flat in the load, so the ratio says nothing about how many
// units could go.
//
// # Prefill and decode
//
// Decision: a disaggregated group changes its prefill:decode ratio with
// elastic instances inside the units it has, above each role's gang
// minimum; the unit stays the step of whole-gang growth. Not whole units
// with a per-unit shape. Why:
//
//   - The gang is minReplicas: a unit's PodGroup asks for
//     minMember = Σ minReplicas × size and minResources for those pods
//     only (controller/plan, build_unit.go), and each instance is its own
//     sub-gang (subGroupPolicy, subGroupSize = size). An instance above
//     minReplicas joins the PodGroup without changing either, so adding it
//     restarts nothing and Volcano places it as a whole instance near its
//     unit's other instances (the KV-transfer proximity score); removing
//     one never breaks the gang.
//   - Per-unit shapes move capacity only a whole unit at a time: a ratio
//     change waits for new units (a full unit's GPUs and cold start), or
//     replaces serving units, which is the restart the issue forbids.
//   - Prefill and decode load move independently (a burst of long prompts
//     with short answers needs prefill only), so reshaping must be cheaper
//     than a unit: one instance's GPUs and cold start.
//
// DecideShape (ratio.go) is the pure decision, in steps:
//
//  1. No units, or no router answered: the shape is kept.
//  2. Bounds: each role's instances per unit are clamped to its
//     [min, max] at once (min at least the role's minReplicas).
//  3. Prefill: the uncached prompt tokens per second the routers sent to
//     the group's models, predicted one cold start ahead while it grows,
//     over what one prefill instance sustains (the routers' learned
//     prefill rate, prefill_rate_tokens_per_second, × a planned
//     utilisation below 1, since a prefill queue fed at its rate makes TTFT
//     grow without bound) is the prefill instances needed; per unit,
//     ceil(needed / units). Until a rate is measured prefill keeps its
//     instances.
//  4. Decode: the running requests at the decode endpoints over the
//     requests one decode instance carries within the ITL bound (an
//     operator figure from a profile of the engine), the same way.
//  5. ITL (when measured): p90 over the bound by more than 10% grows
//     decode in proportion, ceil(decode × p90/bound); it never shrinks
//     decode, since at light load ITL is the step time, flat in the load.
//  6. Units: a role whose need exceeds its per-unit maximum in every unit
//     asks for ceil(need / max) units (UnitsWanted), one more target for
//     Decide, so the group grows by whole units only when reshaping cannot
//     absorb the load.
//  7. Stabilise per role: growth at once (the new instance's cold start
//     is the delay already), one instance less per scaleDownWindow, and
//     no shrinking while a router did not answer.
//
// # Wiring
//
// The controller runs the two decisions in one round per group
// (controller/autoscaler.go), with spec.autoscaling.roles set on a group
// with roles named prefill and decode:
//
//  1. Signals: the Autoscaler splits the group's pods by their role label
//     and asks the collector for the role loads (collect.Collector.Roles:
//     uncached tokens/s for the group's models, the median learned
//     prefill rate of the prefill endpoints, in-flight requests at the
//     decode endpoints); the decode ITL is the one collect.Engines
//     measures for the unit decision (at the decode leaders). With roles
//     set, the ITL bound sizes decode only: PolicyFrom leaves it out of
//     the unit targets, so one slow decode does not add both an instance
//     and a unit.
//  2. DecideShape on the current units gives UnitsWanted, which Decide
//     takes as one more target (Input.UnitsWanted).
//  3. Decide; spec.replicas is written through the scale subresource.
//  4. DecideShape again for the decided units; when the shape changes the
//     prefill and decode roles' replicas are merge-patched with the
//     resourceVersion the decision read (or the scale write returned): a
//     conflict keeps the shape and the next round decides on the newer
//     group. A role without minReplicas gets its current replicas written
//     as minReplicas, so its gang minimum (in the revision) does not move.
//  5. One status write (status.autoscaling.roles: instances, desired
//     instances and the scale-down window's start per role; rolesReason,
//     rolesMessage; the role signals, which the next round's prediction
//     reads), then one event per changed role (RoleScaledUp,
//     RoleScaledDown: the role, old and new instances per unit, the
//     reason and the figures).
//
// An Autoscaler without RoleSignals keeps every shape and says so in
// status (RolesSignalsUnavailable).
//
// The Reconciler turns the new counts into instances in place
// (controller/plan, step 4 "Reshape"): roles[].replicas is not in the
// revision, so no unit is rolled; a grown role's instances are created in
// each unit's PodGroup, a shrunk role loses its highest instances
// (not-ready first, never below minReplicas, and a ready unit only while
// the instances left hold its minimum ready), and the PodGroup's
// role-replicas annotation is updated in place. Units made before
// roles[].replicas left the hash carry the legacy revision of the same
// spec, which counts as current; their label is moved in place.
package autoscale
