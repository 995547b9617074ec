// Package tandem is Tandem's Volcano scheduler plugin, registered as
// "tandem" and linked into tandem-scheduler (Volcano's own scheduler). It
// adds what gang and network-topology-aware scheduling lack for serving
// units made by the ServingGroup controller: a PodGroup per unit whose pods
// carry the role, instance and group labels of api/v1alpha1.
//
// What it does, callback by callback:
//
//   - Job ready (role-aware readiness): a unit is ready only when every
//     role has at least minSubGroups whole instances (all subGroupSize
//     pods of an instance) allocated. Volcano's gang and sub-group checks
//     say the same in their terms; this check states it in the unit's.
//   - Predicate (accelerator matching): a pod whose role asks for
//     accelerator types (the required node affinity on the accelerator
//     label the controller writes) fails on other nodes with a reason that
//     names the role and the types, so the PodGroup's condition says why.
//   - Batch node order (placement scores, each in [0,1], weighted, times
//     100 like Volcano's other scorers):
//     proximity: nodes close to the pods of the same unit already placed,
//     measured as the lowest HyperNode tier holding both (0 = same node);
//     the other roles of the unit (prefill ↔ decode, for KV transfer) and
//     the other ranks of the same instance (tensor parallelism) both count;
//     for a pod with no such peer placed yet (a unit's first pods), how
//     closely the rest of the unit, and the pod with one pod of each other
//     role, would still fit around the node (fit.go), so that the unit
//     starts where it can stay together rather than in a gap only its
//     first pod fits;
//     packing: nodes in partly used tier-1 HyperNodes, fuller first, and
//     empty ones last, so whole domains stay free for large instances;
//     spread: when the unit's group asks for it, nodes outside the
//     spread-tier HyperNodes that already hold another unit of the group.
//   - Job order (serving before batch): a serving unit goes ahead of a
//     non-Tandem job of the same or lower priority.
//
// All scoring and checking is pure (topology.go, unit.go, score.go,
// fit.go, accelerator.go, order.go) over plain structs built once per
// session in OnSessionOpen (plugin.go). Callbacks only read; the per-node
// and per-domain accelerator usage changes only in the session's allocate
// and deallocate event handlers, which Volcano never runs concurrently
// with scoring.
//
// The package also registers two actions for the scheduler config's
// action list: tandem-allocate (allocate_action.go: serving units placed
// topology first, before Volcano's allocate) and tandem-reclaim
// (reclaim_action.go: whole batch gangs freed for a waiting unit).
package tandem
