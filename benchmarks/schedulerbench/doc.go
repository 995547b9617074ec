// Package schedulerbench is `tandem-bench scheduler`: it measures how
// Tandem's Volcano plugin changes placement quality and session time
// against stock Volcano, running real Volcano sessions in-process
// (plugins/scenario) on generated clusters.
//
// # Cases
//
// The large case (default 1,000 nodes × 8 GPUs in racks of 40 and tier-1
// domains of 4: tiers domain / rack / spine, an H100 and an H200 rack in
// turn) starts with 30 % of the nodes running a batch pod of 1–7 GPUs,
// and asks for 500 one-unit ServingGroups of mixed shapes (shapes.go):
// small and large P/D units, one with H200-only decode, a tensor-parallel
// P/D unit held hard in a rack with each two-node instance in one domain,
// tensor-parallel engines, one-GPU engines. Units are rendered by the
// controller's own planner, so PodGroups, sub-group policies and topology
// are exactly what tandem-controller creates.
//
// Small cases (default 5) have 16 nodes (two racks, domains of 2) and 4–6
// units whose every instance is part of the gang, about half the free
// GPUs, so each configuration can place everything and the best possible
// placement can be found exhaustively (optimum.go).
//
// # Method
//
// Each case runs one allocate session per repetition for each
// configuration, alternating stock and Tandem (A, B, A, B, …), each session
// on a freshly built cache with a collected heap. Stock is priority, gang
// and conformance in the first tier, predicates, proportion, binpack and
// network-topology-aware in the second, with binpack and hypernode binpack
// told to pack GPUs (-gpu-binpack, on by default, both configurations);
// Tandem adds its plugin to the first tier. The report gives every run and
// the median, and Tandem's median over stock's.
//
// # Measures (metrics.go)
//
//   - session time: open + allocate + close, wall clock, and the process's
//     CPU time over the session (steadier on a shared machine);
//   - units placed (a unit is placed whole or not at all — checked);
//   - mean P↔D distance: per unit with both roles placed, the mean over
//     its decode pods of the tier distance to the nearest prefill pod of
//     the unit (0 same node, 1 same domain, 2 same rack, 3 across the
//     spine), averaged over units;
//   - whole free tier-1 domains: domains none of whose GPUs are in use;
//   - invariant violations (plugins/scenario.Check), expected 0.
//
// # Optimum
//
// For a small case the optimum is the smallest mean P↔D distance over
// every placement of all its units that respects GPU capacity,
// accelerator types and hard tiers, found by branch and bound: units one
// at a time, pods of a unit prefill first, each pod on every node that
// fits, nearest first; identical pods (ranks of an instance, one-pod
// instances of a role) take nodes in non-decreasing order, and of several
// nodes of one domain with the same product and free GPUs that hold none
// of the unit's pods only the first is tried (swapping two such nodes in
// everything placed afterwards changes nothing). A branch is cut when its
// cost plus each remaining unit's best cost alone on the initial cluster
// (a lower bound) cannot beat the best found. When the search exhausts its
// budget the report says so and gives the proven range instead. A test
// checks the search against brute force on tiny cases.
//
// # Reclaim (reclaim.go; -case reclaim, or all, the default)
//
// What tandem-reclaim adds to a session. The large fleet (1,000 nodes by
// default) is full: 200 low-priority batch gangs of 3, 4, 5, 6, 7 nodes in
// turn over shuffled nodes, one 8-GPU pod a node, as Volcano's job
// controller leaves them (minMember, minResources); two in five share the
// units' queue, the others are in a reclaimable queue of their own, each
// created a random 0–24 h ago. 50 high-priority units of the large case's
// shapes wait, their PodGroups Pending as the controller creates them.
// Each run is one session with the shipped actions (enqueue, allocate,
// tandem-reclaim, backfill) against the same session without
// tandem-reclaim, alternating, after one untimed session of each (a
// process's first session pays for lazy initialisation); the goal is the
// median session time with it at most 1.2× the median without. After
// each session the next one runs untimed on what it left (evicted pods
// gone: plugins/scenario Scenario.Next) to count the units that then hold
// nodes. Three variants: "evictable" (the case the goal is about);
// "all critical" (every batch pod system-cluster-critical, so
// conformance refuses every gang) and "no node fits" (every unit asks for
// an accelerator type no node has), where tandem-reclaim tries every
// waiting unit in vain — its cost in every session while units wait for
// capacity nothing may give back.
//
// # Scale (scale.go; -case scale)
//
// tandem-allocate against Volcano's allocate with the same plugins
// (tandem's included): one session per run, "tandem-allocate, allocate"
// (the shipped order) and "allocate" alone, alternating, on the 8-GPU
// fleet and an NVL72-style fleet (racks of 72, tier-1 domains of 18 nodes
// × 4 GPUs, with a TP-8 shape and a TP-72 shape that needs a whole
// domain) at each -scale-nodes size, 30 % busy (-busy), units in
// proportion to GPUs (-units per -nodes × 8 GPUs). Above
// -volcano-max-nodes Volcano's allocate runs once (it takes minutes
// there); -no-volcano runs tandem-allocate only. It reports session time,
// tandem/Volcano, pods placed per second, session CPU, units placed, mean
// P↔D distance, whole free domains and invariants, the growth exponent of
// session time between sizes, and the placement case's small cases (same
// seed) both ways against their optimum.
package schedulerbench
