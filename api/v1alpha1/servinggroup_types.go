package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Name budget. A pod is named <group>-<unit>-<role>-<instance>-<rank> and
// uses that name as its hostname, which must be a DNS label of at most 63
// characters: 30 (group) + 4 (unit, up to 2,000 with surge) + 20 (role) +
// 2 + 2 (instance and rank, at most 64 each) + 4 dashes = 62.
const (
	MaxGroupNameLength = 30
	MaxRoleNameLength  = 20
	MaxUnits           = 1000
	MaxRoleReplicas    = 64
	MaxInstanceSize    = 64
)

// ServingGroup serves one model with gang-scheduled units of engine pods.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=sg,categories=tandem
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`,description="Desired units"
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`,description="Units whose roles all reached their minimum"
// +kubebuilder:printcolumn:name="Updated",type=integer,JSONPath=`.status.updatedReplicas`,description="Units on the current revision"
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.conditions[?(@.type=="Progressing")].reason`,description="Why the group is not settled: RollingOut, UnitsStarting, UnitsUnschedulable (see kubectl describe), Complete"
// +kubebuilder:printcolumn:name="Engine",type=string,JSONPath=`.spec.engine.kind`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 30 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="ServingGroup name must be at most 30 characters, start with a lower-case letter and contain only lower-case letters, digits and '-': it prefixes pod, Service and PodGroup names"
type ServingGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ServingGroupSpec   `json:"spec,omitempty"`
	Status ServingGroupStatus `json:"status,omitempty"`
}

// ServingGroupList is a list of ServingGroups.
//
// +kubebuilder:object:root=true
type ServingGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServingGroup `json:"items"`
}

// ServingGroupSpec is the desired state of a ServingGroup.
//
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || !has(self.autoscaling.roles) || (self.roles.exists(r, r.name == 'prefill') && self.roles.exists(r, r.name == 'decode'))",message="autoscaling.roles sizes the prefill and decode roles of a disaggregated group: the group needs roles named prefill and decode"
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || !has(self.autoscaling.roles) || has(self.servedModelNames)",message="autoscaling.roles needs servedModelNames: the routers report prompt tokens by model name"
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || !has(self.autoscaling.roles) || self.roles.all(r, r.name != 'prefill' || self.autoscaling.roles.prefill.minInstances >= (has(r.minReplicas) ? r.minReplicas : (has(r.replicas) ? r.replicas : 1)))",message="autoscaling.roles.prefill.minInstances must be at least the prefill role's minReplicas (its replicas when minReplicas is unset): the autoscaler never takes a role below its gang minimum"
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || !has(self.autoscaling.roles) || self.roles.all(r, r.name != 'decode' || self.autoscaling.roles.decode.minInstances >= (has(r.minReplicas) ? r.minReplicas : (has(r.replicas) ? r.replicas : 1)))",message="autoscaling.roles.decode.minInstances must be at least the decode role's minReplicas (its replicas when minReplicas is unset): the autoscaler never takes a role below its gang minimum"
// +kubebuilder:validation:XValidation:rule="!has(self.autoscaling) || has(self.servedModelNames) || (self.autoscaling.minReplicas > 0 && !has(self.autoscaling.targets.ttftP90Milliseconds))",message="autoscaling with minReplicas 0 or a ttftP90Milliseconds target needs servedModelNames: the routers report held requests and TTFT by model name"
type ServingGroupSpec struct {
	// Replicas is the number of units. Each unit is gang-scheduled as one
	// Volcano PodGroup. This is the field the scale subresource (HPA, KEDA)
	// changes.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Engine is the inference engine every role runs.
	Engine EngineSpec `json:"engine"`

	// ServedModelNames are the model names clients put in requests; the
	// router matches them. Empty means the router uses the engine's own
	// model list.
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +optional
	ServedModelNames []string `json:"servedModelNames,omitempty"`

	// Roles are the kinds of engine a unit holds, e.g. prefill and decode,
	// or one role for aggregated serving. The set of role names cannot
	// change after creation.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:XValidation:rule="self.all(r, self.exists_one(o, o.name == r.name))",message="role names must be unique within a ServingGroup"
	// +kubebuilder:validation:XValidation:rule="size(self) == size(oldSelf) && self.all(r, oldSelf.exists(o, o.name == r.name))",message="roles cannot be added, removed or renamed after creation; create a new ServingGroup for a different set of roles"
	Roles []RoleSpec `json:"roles"`

	// Topology constrains where instances and units are placed among
	// Volcano HyperNodes. Without it, placement ignores the network.
	// +optional
	Topology *TopologySpec `json:"topology,omitempty"`

	// Recovery says what the controller does when a pod of a unit fails or
	// disappears.
	// +kubebuilder:default={}
	// +optional
	Recovery RecoverySpec `json:"recovery,omitempty"`

	// Rollout says how units are replaced when the pod-shaping parts of the
	// spec change.
	// +kubebuilder:default={}
	// +optional
	Rollout RolloutSpec `json:"rollout,omitempty"`

	// Queue is the Volcano queue the units' PodGroups are submitted to.
	// +kubebuilder:default=default
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="queue must be a Volcano queue name: lower-case letters, digits, '-' and '.'"
	// +optional
	Queue string `json:"queue,omitempty"`

	// PriorityClassName is set on every PodGroup and pod.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="priorityClassName must name a PriorityClass: lower-case letters, digits, '-' and '.'"
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// Autoscaling lets the controller set replicas from the routers'
	// metrics; while it is set the autoscaler owns replicas.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`
}

// EngineKind names a supported inference engine.
// +kubebuilder:validation:Enum=vllm;sglang
type EngineKind string

const (
	EngineVLLM   EngineKind = "vllm"
	EngineSGLang EngineKind = "sglang"
)

// Engine defaults for the ports the router uses besides the HTTP port. They
// are the engines' own defaults: SGLang's --disaggregation-bootstrap-port
// (server_args.py) and the ZeroMQ endpoint of vLLM's --kv-events-config
// (KVEventsConfig.endpoint, tcp://*:5557).
const (
	DefaultSGLangBootstrapPort = 8998
	DefaultKVEventsPort        = 5557
)

// EngineSpec describes the inference engine.
//
// +kubebuilder:validation:XValidation:rule="!has(self.bootstrapPort) || self.kind == 'sglang'",message="engine.bootstrapPort is SGLang's disaggregation bootstrap port; remove it for kind vllm (a vLLM prefill reports its NIXL side channel in kv_transfer_params)"
type EngineSpec struct {
	// Kind is the engine: vllm or sglang. It decides which metrics the router
	// scrapes and how prefill/decode hand over; it cannot change in place.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="engine.kind is immutable: create a new ServingGroup to switch engines"
	Kind EngineKind `json:"kind"`

	// Port is the engine's HTTP port (OpenAI API and /metrics).
	// +kubebuilder:default=8000
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// BootstrapPort is the port of the bootstrap server SGLang runs on each
	// prefill leader (--disaggregation-bootstrap-port). The router sends it,
	// with the prefill pod's IP, as bootstrap_port in both halves of a
	// disaggregated request; it must match the prefill role's flag. SGLang
	// only; omitted, it is SGLang's default, 8998. Read by the router, not
	// put into pods: changing it restarts no engine.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	BootstrapPort int32 `json:"bootstrapPort,omitempty"`

	// KVEventsPort is the port of the engine's KV-cache event publisher
	// (ZeroMQ PUB; vLLM: the endpoint of --kv-events-config, whose default
	// is tcp://*:5557). The router's exact prefix mode subscribes to it on
	// every leader pod; it must match the engines' flag. Read by the router,
	// not put into pods: changing it restarts no engine.
	// +kubebuilder:default=5557
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	KVEventsPort int32 `json:"kvEventsPort,omitempty"`
}

// RoleSpec is one kind of engine in a unit.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicas) || self.minReplicas <= self.replicas",message="minReplicas must not exceed replicas"
// +kubebuilder:validation:XValidation:rule="!has(self.workerTemplate) || self.size > 1",message="workerTemplate is only used when size > 1; remove it or raise size"
type RoleSpec struct {
	// Name of the role, e.g. prefill or decode. A DNS label of at most 20
	// characters so pod names stay within 63.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="role name must contain only lower-case letters, digits and '-', and start and end with a letter or digit"
	Name string `json:"name"`

	// Replicas is the number of instances of this role in each unit. With
	// minReplicas set, changing it resizes running units in place: new
	// instances join each unit's PodGroup and the highest ones above the
	// new count are removed; no instance that stays is restarted. Without
	// minReplicas the gang minimum follows replicas, so a change replaces
	// units through the rollout. spec.autoscaling.roles sets it for the
	// prefill and decode roles.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// MinReplicas is the gang minimum: a unit is scheduled, and counted
	// ready, only when at least this many instances of the role are.
	// Defaults to replicas.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// Size is the number of pods of one instance: 1 for a single pod, more
	// for tensor or pipeline parallelism across nodes (rank 0 is the
	// leader). It cannot change in place.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="size is immutable: a unit cannot change its parallelism in place; create a new ServingGroup"
	// +optional
	Size int32 `json:"size,omitempty"`

	// Accelerator is requested by the first container of every pod of the
	// role. Omit it for roles without accelerators.
	// +optional
	Accelerator *AcceleratorSpec `json:"accelerator,omitempty"`

	// Template is the pod template of the leader (rank 0), and of every
	// rank when workerTemplate is empty.
	Template corev1.PodTemplateSpec `json:"template"`

	// WorkerTemplate is the pod template of ranks 1..size-1.
	// +optional
	WorkerTemplate *corev1.PodTemplateSpec `json:"workerTemplate,omitempty"`
}

// AcceleratorSpec is the accelerator each pod of a role needs.
type AcceleratorSpec struct {
	// Resource is the extended resource name of the accelerator.
	// +kubebuilder:default="nvidia.com/gpu"
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$')",message="accelerator resource must be an extended resource name with a domain, such as nvidia.com/gpu"
	// +optional
	Resource string `json:"resource,omitempty"`

	// Count is the number of accelerators per pod.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	// +optional
	Count int32 `json:"count,omitempty"`

	// Types are acceptable accelerator models (values of the node label the
	// controller is configured with, nvidia.com/gpu.product by default).
	// Empty means any.
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.all(t, t.matches('^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$'))",message="accelerator types must be node label values: letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
	// +optional
	Types []string `json:"types,omitempty"`
}

// TopologyMode says whether topology limits must hold or are preferred.
// +kubebuilder:validation:Enum=hard;soft
type TopologyMode string

const (
	TopologyHard TopologyMode = "hard"
	TopologySoft TopologyMode = "soft"
)

// TopologySpec limits placement to HyperNode tiers. Tier 1 is the tightest
// domain (e.g. an NVLink domain); higher tiers span more of the network.
//
// +kubebuilder:validation:XValidation:rule="!has(self.instanceTier) || !has(self.unitTier) || self.instanceTier <= self.unitTier",message="topology.instanceTier must not exceed topology.unitTier: an instance is placed inside its unit"
type TopologySpec struct {
	// InstanceTier is the highest HyperNode tier one instance may span.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	// +optional
	InstanceTier *int32 `json:"instanceTier,omitempty"`

	// UnitTier is the highest HyperNode tier one unit may span.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	// +optional
	UnitTier *int32 `json:"unitTier,omitempty"`

	// Mode hard refuses placements that break the tiers; soft prefers them.
	// +kubebuilder:default=hard
	// +optional
	Mode TopologyMode `json:"mode,omitempty"`

	// SpreadUnits asks the scheduler to place units of this group in
	// different HyperNodes so one failure domain does not take all of them.
	// +optional
	SpreadUnits bool `json:"spreadUnits,omitempty"`
}

// RecoveryPolicy is what the controller does with a unit that lost a pod.
// +kubebuilder:validation:Enum=RecreateUnit;RecreateInstance;None
type RecoveryPolicy string

const (
	// RecoverRecreateUnit deletes and recreates the whole unit, so the gang
	// is placed again as one.
	RecoverRecreateUnit RecoveryPolicy = "RecreateUnit"
	// RecoverRecreateInstance deletes and recreates only the broken instance.
	RecoverRecreateInstance RecoveryPolicy = "RecreateInstance"
	// RecoverNone leaves the unit as it is and reports Degraded.
	RecoverNone RecoveryPolicy = "None"
)

// RecoverySpec configures failure recovery.
type RecoverySpec struct {
	// Policy is RecreateUnit, RecreateInstance or None.
	// +kubebuilder:default=RecreateUnit
	// +optional
	Policy RecoveryPolicy `json:"policy,omitempty"`

	// GracePeriodSeconds is how long a failed or missing pod is tolerated
	// before the policy acts. A pod missing from a unit younger than this
	// is taken to be still in creation and is simply created.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	GracePeriodSeconds *int32 `json:"gracePeriodSeconds,omitempty"`
}

// RolloutSpec configures how units move to a new revision. Units are
// replaced whole, highest index first.
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxUnavailable) || !has(self.maxSurge) || !(string(self.maxUnavailable) in ['0', '0%'] && string(self.maxSurge) in ['0', '0%'])",message="rollout.maxUnavailable and rollout.maxSurge cannot both be zero: the rollout could never replace a unit"
type RolloutSpec struct {
	// MaxUnavailable is how many units (or percent of replicas, rounded
	// down) may be not ready because of the rollout.
	// +kubebuilder:default=1
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="rollout.maxUnavailable must be a non-negative number of units or a percentage such as 25%"
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// MaxSurge is how many extra units (or percent of replicas, rounded up)
	// may run above replicas during a rollout.
	// +kubebuilder:default=0
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? self >= 0 : self.matches('^(100|[1-9]?[0-9])%$')",message="rollout.maxSurge must be a non-negative number of units or a percentage such as 25%"
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`

	// Partition keeps units with an index below it on their revision: the
	// rollout replaces only units partition..replicas-1.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Partition int32 `json:"partition,omitempty"`
}
