package plan

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// revisionInput is everything that lands in a unit's pods or PodGroup. A
// unit is created whole from one revision; changing any of these replaces
// units through the rollout. Units, roles[].replicas, recovery, rollout
// and served model names are left out: changing them must not restart
// engines. A role's instance count is the unit's shape, recorded on its
// PodGroup and changed in place (reshape.go); its gang minimum
// (minReplicas) stays in, since it is the PodGroup's minMember and
// minResources. A role without minReplicas has replicas as its minimum, so
// for it a new count still changes the revision.
type revisionInput struct {
	Engine            v1alpha1.EngineSpec    `json:"engine"`
	Roles             []v1alpha1.RoleSpec    `json:"roles"`
	Topology          *v1alpha1.TopologySpec `json:"topology,omitempty"`
	Queue             string                 `json:"queue"`
	PriorityClassName string                 `json:"priorityClassName,omitempty"`
}

// Revision returns the revision of a normalized spec: the first 10 hex
// digits of an FNV-1a hash of its JSON. JSON of API types is deterministic
// (struct field order, sorted map keys, canonical quantities), so the same
// spec always yields the same revision, across controller restarts.
//
// Of the engine only kind and port are hashed: the bootstrap and KV-event
// ports are read by the router and land in no pod. Leaving them out also
// keeps every revision made before those fields existed (kvEventsPort's
// CRD default now appears in old objects) unchanged, so upgrading the CRD
// rolls no unit.
func Revision(spec *v1alpha1.ServingGroupSpec) (string, error) {
	return hashRevision(spec, func(r *v1alpha1.RoleSpec) { r.Replicas = 0 }) // omitempty: not in the JSON
}

// legacyRevision is the revision a controller that still hashed
// roles[].replicas gave a unit of this spec (as written, before normalize)
// with the given shape (the instances per role its PodGroup records).
// Objects carrying it are current: the planner moves their label to
// Revision in place (reshape.go) instead of rolling units that an upgrade
// of the controller alone would otherwise replace.
func legacyRevision(raw *v1alpha1.ServingGroupSpec, shape map[string]int32) (string, error) {
	spec := raw.DeepCopy()
	for i := range spec.Roles {
		if n, ok := shape[spec.Roles[i].Name]; ok && n > 0 {
			spec.Roles[i].Replicas = n
		}
	}
	return hashRevision(normalize(spec), func(*v1alpha1.RoleSpec) {})
}

// LegacyRevision is the revision a controller that still hashed
// roles[].replicas gave units of spec (as written; it is normalized here).
// Units carrying it are current for this controller, which moves their
// label to Revision in place.
func LegacyRevision(spec *v1alpha1.ServingGroupSpec) (string, error) {
	return legacyRevision(spec, specShape(normalize(spec)))
}

func hashRevision(spec *v1alpha1.ServingGroupSpec, role func(*v1alpha1.RoleSpec)) (string, error) {
	roles := make([]v1alpha1.RoleSpec, len(spec.Roles))
	copy(roles, spec.Roles) // shallow: only marshalled, and role only sets scalars and pointers
	for i := range roles {
		role(&roles[i])
	}
	in := revisionInput{
		Engine:            v1alpha1.EngineSpec{Kind: spec.Engine.Kind, Port: spec.Engine.Port},
		Roles:             roles,
		Topology:          spec.Topology,
		Queue:             spec.Queue,
		PriorityClassName: spec.PriorityClassName,
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("hashing spec: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())[:10], nil
}

// formatShape renders the spec's instances per role as
// "prefill=2,decode=1" in spec order, for AnnotationRoleReplicas.
func formatShape(spec *v1alpha1.ServingGroupSpec) string {
	return formatShapeOf(spec, specShape(spec))
}

// formatShapeOf renders shape in the spec's role order.
func formatShapeOf(spec *v1alpha1.ServingGroupSpec, shape map[string]int32) string {
	parts := make([]string, 0, len(spec.Roles))
	for _, r := range spec.Roles {
		parts = append(parts, r.Name+"="+strconv.Itoa(int(shape[r.Name])))
	}
	return strings.Join(parts, ",")
}

// specShape is the instances per role the spec asks for.
func specShape(spec *v1alpha1.ServingGroupSpec) map[string]int32 {
	shape := make(map[string]int32, len(spec.Roles))
	for _, r := range spec.Roles {
		shape[r.Name] = r.Replicas
	}
	return shape
}

// parseShape reads AnnotationRoleReplicas. Roles it does not mention (or an
// unreadable value) fall back to the current spec; role names cannot change
// (CEL), so a name match is enough.
func parseShape(value string, spec *v1alpha1.ServingGroupSpec) map[string]int32 {
	shape := specShape(spec)
	for _, part := range strings.Split(value, ",") {
		name, n, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		v, err := strconv.Atoi(n)
		if _, known := shape[name]; !known || err != nil || v < 0 || v > v1alpha1.MaxRoleReplicas {
			continue
		}
		shape[name] = int32(v)
	}
	return shape
}

func sortedKeys[V any](m map[int32]V) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
