// Package plan is the pure planner of the ServingGroup controller. Given a
// ServingGroup, the pods, PodGroups and Services it owns, and the time, it
// returns the objects to create, the objects to delete (each with a reason)
// and the status to write. It talks to no API server and keeps no memory:
// every fact it needs is read from the objects (labels, annotations,
// creation and failure times), so a restarted controller plans exactly what
// the old one would have.
//
// # Model
//
// A group has spec.replicas units, numbered 0..replicas-1. Unit u is one
// Volcano PodGroup and one headless Service, both named <group>-<u>, and
// for every role r, instance i < r.replicas and rank k < r.size a pod
// <group>-<u>-<r>-<i>-<k>. Every object carries the revision (a hash of the
// spec parts that shape a unit, see Revision) it was built from, and the
// PodGroup records the unit's instances per role (its shape), so a unit is
// judged against the shape it has even after the spec moved on. A role's
// instance count is not in the revision: it changes a unit in place
// (step 4), because instances above the gang minimum (minReplicas, which
// is in the revision) join the PodGroup without changing its minMember.
//
// # Algorithm
//
// Compute runs these steps in order; each later step sees the decisions of
// the earlier ones.
//
//  1. Observe: sort objects into units by label; per instance, classify pods
//     as ready, terminating, finished (Failed/Succeeded) or missing; a
//     missing pod is "still to create" within the grace period after the
//     newest of its PodGroup and its instance's pods was created, and lost
//     after it. A unit is ready when every role has minReplicas ready
//     instances.
//  2. Target: replicas, plus maxSurge while a rollout is under way.
//  3. Scale down: delete every unit at or above target (pods, PodGroup,
//     Service), not-ready ones first, then the highest.
//  4. Reshape: a current unit whose shape differs from the spec's counts
//     gets the missing instances (created in step 8) and loses its highest
//     instances above the new count (not-ready first, never below
//     minReplicas; a ready unit shrinks a role only if the instances left
//     hold its minimum ready); its PodGroup's shape annotation is updated
//     in place. Objects carrying the legacy revision of the current spec
//     (named before roles[].replicas left the hash) are current; their
//     revision label is moved in place, so an upgrade rolls no unit.
//  5. Recover: broken units below target, once grace has passed since the
//     failure was noticed, per policy: RecreateUnit deletes the unit,
//     RecreateInstance deletes the broken instance, None does nothing.
//  6. Roll out: outdated units from partition to replicas-1 are deleted to
//     be recreated, not-ready ones freely, ready ones highest first while
//     replicas-maxUnavailable units stay ready.
//  7. Strays: pods of current units that their shape does not name.
//  8. Create: for every unit below target that is not going away, its
//     missing PodGroup and Service, and the pods still to create; an absent
//     unit is created whole. Pods are only ever built from the current spec
//     and never into an outdated unit.
//  9. Status and conditions (Available, Progressing, Degraded). A unit
//     Volcano has not placed carries Volcano's reason, read from its
//     PodGroup's Unschedulable condition and its pods' PodScheduled
//     conditions and put in an operator's words (waiting.go; the formats
//     are listed in volcano_text.go); Progressing repeats it per unit.
//
// The executor creates, then updates, then deletes, so a resize it does not
// finish reads the same way in the next plan: a grown role's pods exist
// before the PodGroup names them (the spec still asks for them, so they are
// taken in), and a shrunk role's PodGroup stops naming its highest
// instances before their pods go (so they are never judged lost).
//
// Deleting a unit and creating it again take two plans: the old pods hold
// the names until they are gone, and the planner waits for that rather
// than remembering that it asked.
package plan
