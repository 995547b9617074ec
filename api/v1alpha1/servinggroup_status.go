package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServingGroupStatus is what an operator needs without reading pods.
type ServingGroupStatus struct {
	// ObservedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Replicas is the number of units that exist, including surge units
	// during a rollout.
	// +optional
	Replicas int32 `json:"replicas"`

	// ReadyReplicas is the number of units in which every role has at least
	// minReplicas ready instances.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas"`

	// UpdatedReplicas is the number of units on the current revision.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas"`

	// UpdateRevision is the revision new units are created with: a hash of
	// the parts of the spec that shape a unit's pods and PodGroup.
	// +optional
	UpdateRevision string `json:"updateRevision,omitempty"`

	// Selector selects the pods of this group, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// Roles reports ready instances per role, summed over units.
	// +listType=map
	// +listMapKey=name
	// +optional
	Roles []RoleStatus `json:"roles,omitempty"`

	// Units reports every unit that exists or is being created.
	// +listType=map
	// +listMapKey=index
	// +optional
	Units []UnitStatus `json:"units,omitempty"`

	// Conditions are Available, Progressing and Degraded.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Autoscaling is the autoscaler's last look and decision; absent
	// without spec.autoscaling.
	// +optional
	Autoscaling *AutoscalingStatus `json:"autoscaling,omitempty"`
}

// RoleStatus counts the ready instances of one role.
type RoleStatus struct {
	Name string `json:"name"`
	// ReadyInstances counts instances whose pods are all ready.
	ReadyInstances int32 `json:"readyInstances"`
}

// UnitPhase is the most urgent state of a unit.
// +kubebuilder:validation:Enum=Pending;Starting;Ready;Failed;Terminating
type UnitPhase string

const (
	// UnitPending: objects are being created or pods wait for placement.
	UnitPending UnitPhase = "Pending"
	// UnitStarting: every pod is placed, not every role has its minimum ready.
	UnitStarting UnitPhase = "Starting"
	// UnitReady: every role has at least minReplicas ready instances.
	UnitReady UnitPhase = "Ready"
	// UnitFailed: a pod failed or disappeared; the unit may still serve if
	// its role minimums hold. Recovery acts after the grace period.
	UnitFailed UnitPhase = "Failed"
	// UnitTerminating: the unit is being deleted (scale down, rollout or
	// recovery).
	UnitTerminating UnitPhase = "Terminating"
)

// UnitStatus is the state of one unit.
type UnitStatus struct {
	Index int32     `json:"index"`
	Phase UnitPhase `json:"phase"`
	// HyperNode is where Volcano placed the unit, read from its PodGroup.
	// +optional
	HyperNode string `json:"hyperNode,omitempty"`
	// Revision of the unit's objects.
	// +optional
	Revision string `json:"revision,omitempty"`
	// Reason says, in one CamelCase word, why the scheduler has not placed
	// the unit yet (see the UnitReason constants); empty once it is placed.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is the scheduler's explanation in an operator's words, e.g.
	// "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room
	// for it". Empty once the unit is placed.
	// +optional
	Message string `json:"message,omitempty"`
}
