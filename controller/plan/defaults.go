package plan

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// The CRD defaults every optional field, but the planner does not rely on
// it: objects built in Go (tests, clients without the CRD's defaulting) must
// plan the same way. These values mirror the +kubebuilder:default markers.
const (
	defaultReplicas       = 1
	defaultEnginePort     = 8000
	defaultAccelerator    = "nvidia.com/gpu"
	defaultGraceSeconds   = 30
	defaultQueue          = "default"
	defaultMaxUnavailable = 1
)

// normalize returns a copy of spec with every default filled in, so the rest
// of the planner reads plain values. minReplicas defaults to (and is capped
// at) replicas.
func normalize(in *v1alpha1.ServingGroupSpec) *v1alpha1.ServingGroupSpec {
	spec := in.DeepCopy()
	if spec.Replicas == nil {
		spec.Replicas = ptrTo[int32](defaultReplicas)
	}
	if spec.Engine.Port == 0 {
		spec.Engine.Port = defaultEnginePort
	}
	for i := range spec.Roles {
		normalizeRole(&spec.Roles[i])
	}
	if spec.Topology != nil && spec.Topology.Mode == "" {
		spec.Topology.Mode = v1alpha1.TopologyHard
	}
	if spec.Recovery.Policy == "" {
		spec.Recovery.Policy = v1alpha1.RecoverRecreateUnit
	}
	if spec.Recovery.GracePeriodSeconds == nil {
		spec.Recovery.GracePeriodSeconds = ptrTo[int32](defaultGraceSeconds)
	}
	if spec.Rollout.MaxUnavailable == nil {
		spec.Rollout.MaxUnavailable = ptrTo(intstr.FromInt32(defaultMaxUnavailable))
	}
	if spec.Rollout.MaxSurge == nil {
		spec.Rollout.MaxSurge = ptrTo(intstr.FromInt32(0))
	}
	if spec.Queue == "" {
		spec.Queue = defaultQueue
	}
	return spec
}

func normalizeRole(r *v1alpha1.RoleSpec) {
	if r.Replicas == 0 {
		r.Replicas = 1
	}
	if r.Size == 0 {
		r.Size = 1
	}
	if r.MinReplicas == nil || *r.MinReplicas > r.Replicas {
		r.MinReplicas = ptrTo(r.Replicas)
	}
	if a := r.Accelerator; a != nil {
		if a.Resource == "" {
			a.Resource = defaultAccelerator
		}
		if a.Count == 0 {
			a.Count = 1
		}
	}
}

// rolloutLimits resolves maxUnavailable (rounded down) and maxSurge
// (rounded up) against replicas, as Deployments do. If both come out zero
// the rollout could never move, so maxUnavailable becomes 1.
func rolloutLimits(spec *v1alpha1.ServingGroupSpec) (maxUnavailable, maxSurge int32, err error) {
	replicas := int(*spec.Replicas)
	u, err := intstr.GetScaledValueFromIntOrPercent(spec.Rollout.MaxUnavailable, replicas, false)
	if err != nil {
		return 0, 0, fmt.Errorf("rollout.maxUnavailable: %w", err)
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(spec.Rollout.MaxSurge, replicas, true)
	if err != nil {
		return 0, 0, fmt.Errorf("rollout.maxSurge: %w", err)
	}
	if u < 0 || s < 0 {
		return 0, 0, fmt.Errorf("rollout limits must not be negative (maxUnavailable %d, maxSurge %d)", u, s)
	}
	if u == 0 && s == 0 {
		u = 1
	}
	return int32(u), int32(s), nil
}

func ptrTo[T any](v T) *T { return &v }
