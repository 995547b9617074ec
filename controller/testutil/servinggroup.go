// Package testutil builds ServingGroups for tests with a fluent API, so a
// test case states only what it is about:
//
//	sg := testutil.MakeServingGroup("chat").Replicas(2).
//		Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj()).Obj()
//
// Unset fields stay unset, as a user would leave them; the planner fills
// the defaults itself.
package testutil

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// ServingGroupWrapper builds a ServingGroup.
type ServingGroupWrapper struct{ v1alpha1.ServingGroup }

// MakeServingGroup starts a vllm ServingGroup in namespace "default" with
// UID "uid-<name>", generation 1 and no roles.
func MakeServingGroup(name string) *ServingGroupWrapper {
	return &ServingGroupWrapper{v1alpha1.ServingGroup{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup"},
		ObjectMeta: metav1.ObjectMeta{
			Name:       name,
			Namespace:  "default",
			UID:        types.UID("uid-" + name),
			Generation: 1,
		},
		Spec: v1alpha1.ServingGroupSpec{Engine: v1alpha1.EngineSpec{Kind: v1alpha1.EngineVLLM}},
	}}
}

// Obj returns a copy of the built object.
func (w *ServingGroupWrapper) Obj() *v1alpha1.ServingGroup { return w.DeepCopy() }

func (w *ServingGroupWrapper) Namespace(ns string) *ServingGroupWrapper {
	w.ObjectMeta.Namespace = ns
	return w
}

func (w *ServingGroupWrapper) Generation(g int64) *ServingGroupWrapper {
	w.ObjectMeta.Generation = g
	return w
}

func (w *ServingGroupWrapper) Replicas(n int32) *ServingGroupWrapper {
	w.Spec.Replicas = &n
	return w
}

func (w *ServingGroupWrapper) Engine(kind v1alpha1.EngineKind, port int32) *ServingGroupWrapper {
	w.Spec.Engine = v1alpha1.EngineSpec{Kind: kind, Port: port}
	return w
}

func (w *ServingGroupWrapper) ServedModelNames(names ...string) *ServingGroupWrapper {
	w.Spec.ServedModelNames = names
	return w
}

// Role appends a role (see MakeRole).
func (w *ServingGroupWrapper) Role(r v1alpha1.RoleSpec) *ServingGroupWrapper {
	w.Spec.Roles = append(w.Spec.Roles, r)
	return w
}

// Topology sets instance and unit tiers (0 leaves a tier unset) and mode.
func (w *ServingGroupWrapper) Topology(instanceTier, unitTier int32, mode v1alpha1.TopologyMode) *ServingGroupWrapper {
	t := &v1alpha1.TopologySpec{Mode: mode}
	if instanceTier > 0 {
		t.InstanceTier = &instanceTier
	}
	if unitTier > 0 {
		t.UnitTier = &unitTier
	}
	if w.Spec.Topology != nil {
		t.SpreadUnits = w.Spec.Topology.SpreadUnits
	}
	w.Spec.Topology = t
	return w
}

func (w *ServingGroupWrapper) SpreadUnits() *ServingGroupWrapper {
	if w.Spec.Topology == nil {
		w.Spec.Topology = &v1alpha1.TopologySpec{}
	}
	w.Spec.Topology.SpreadUnits = true
	return w
}

func (w *ServingGroupWrapper) Recovery(policy v1alpha1.RecoveryPolicy, graceSeconds int32) *ServingGroupWrapper {
	w.Spec.Recovery = v1alpha1.RecoverySpec{Policy: policy, GracePeriodSeconds: &graceSeconds}
	return w
}

// Rollout sets maxUnavailable and maxSurge as numbers of units.
func (w *ServingGroupWrapper) Rollout(maxUnavailable, maxSurge int32) *ServingGroupWrapper {
	u, s := intstr.FromInt32(maxUnavailable), intstr.FromInt32(maxSurge)
	w.Spec.Rollout.MaxUnavailable, w.Spec.Rollout.MaxSurge = &u, &s
	return w
}

func (w *ServingGroupWrapper) Partition(p int32) *ServingGroupWrapper {
	w.Spec.Rollout.Partition = p
	return w
}

// Autoscaling sets spec.autoscaling.
func (w *ServingGroupWrapper) Autoscaling(a v1alpha1.AutoscalingSpec) *ServingGroupWrapper {
	w.Spec.Autoscaling = &a
	return w
}

func (w *ServingGroupWrapper) Queue(q string) *ServingGroupWrapper {
	w.Spec.Queue = q
	return w
}

func (w *ServingGroupWrapper) PriorityClass(name string) *ServingGroupWrapper {
	w.Spec.PriorityClassName = name
	return w
}

// Image sets the image of the first container of every role's templates,
// the usual way to start a rollout in a test.
func (w *ServingGroupWrapper) Image(image string) *ServingGroupWrapper {
	for i := range w.Spec.Roles {
		r := &w.Spec.Roles[i]
		r.Template.Spec.Containers[0].Image = image
		if r.WorkerTemplate != nil {
			r.WorkerTemplate.Spec.Containers[0].Image = image
		}
	}
	return w
}

// RoleWrapper builds a RoleSpec.
type RoleWrapper struct{ v1alpha1.RoleSpec }

// MakeRole starts a role whose template has one container "engine" running
// image "vllm:v1".
func MakeRole(name string) *RoleWrapper {
	return &RoleWrapper{v1alpha1.RoleSpec{
		Name: name,
		Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "engine", Image: "vllm:v1"}},
		}},
	}}
}

// Obj returns a copy of the built role.
func (w *RoleWrapper) Obj() v1alpha1.RoleSpec { return *w.DeepCopy() }

func (w *RoleWrapper) Replicas(n int32) *RoleWrapper {
	w.RoleSpec.Replicas = n
	return w
}

func (w *RoleWrapper) MinReplicas(n int32) *RoleWrapper {
	w.RoleSpec.MinReplicas = &n
	return w
}

func (w *RoleWrapper) Size(n int32) *RoleWrapper {
	w.RoleSpec.Size = n
	return w
}

// GPU requests count nvidia.com/gpu per pod, optionally of the given types.
func (w *RoleWrapper) GPU(count int32, types ...string) *RoleWrapper {
	w.Accelerator = &v1alpha1.AcceleratorSpec{Count: count, Types: types}
	return w
}

// Requests sets CPU and memory requests of the leader's first container.
func (w *RoleWrapper) Requests(cpu, memory string) *RoleWrapper {
	w.Template.Spec.Containers[0].Resources.Requests = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse(memory),
	}
	return w
}

// WorkerImage gives ranks 1.. their own template: the leader's with
// another image.
func (w *RoleWrapper) WorkerImage(image string) *RoleWrapper {
	t := w.Template.DeepCopy()
	t.Spec.Containers[0].Image = image
	w.WorkerTemplate = t
	return w
}

// Label adds a label to the leader template.
func (w *RoleWrapper) Label(key, value string) *RoleWrapper {
	if w.Template.Labels == nil {
		w.Template.Labels = map[string]string{}
	}
	w.Template.Labels[key] = value
	return w
}
