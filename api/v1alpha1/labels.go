package v1alpha1

// Labels the controller puts on the objects it owns. They are the contract
// with the scheduler plugin (roles, instances) and the router (discovery),
// and the only way a restarted controller finds what it created.
const (
	labelPrefix = GroupName + "/"

	// LabelGroup is the ServingGroup name, on pods, PodGroups and Services.
	LabelGroup = labelPrefix + "group"
	// LabelUnit is the unit index ("0", "1", ...), on pods, PodGroups and
	// Services.
	LabelUnit = labelPrefix + "unit"
	// LabelRole is the role name, on pods.
	LabelRole = labelPrefix + "role"
	// LabelInstance identifies an instance uniquely within the namespace:
	// <group>-<unit>-<role>-<instance>. PodGroup sub-group policies group
	// pods by it, so each multi-pod instance is its own gang.
	LabelInstance = labelPrefix + "instance"
	// LabelRank is the pod's rank in its instance; "0" is the leader.
	LabelRank = labelPrefix + "rank"
	// LabelRevision is the revision a pod or PodGroup was created from.
	LabelRevision = labelPrefix + "revision"
)

// Annotations the controller sets.
const (
	// AnnotationRoleReplicas on a PodGroup records the unit's shape as
	// "role=instances,...": the counts it was created with, updated in
	// place when a role's replicas change (instances above the gang
	// minimum are added or removed without replacing the unit), so the
	// controller can tell a lost instance from one the spec merely added.
	AnnotationRoleReplicas = labelPrefix + "role-replicas"
	// AnnotationSpreadUnits on a PodGroup asks the scheduler plugin to
	// place the units of the group in different HyperNodes.
	AnnotationSpreadUnits = labelPrefix + "spread-units"
)

// Environment variables injected into every container of an engine pod.
const (
	// EnvLeaderAddress is the DNS name of the instance's rank-0 pod.
	EnvLeaderAddress = "TANDEM_LEADER_ADDRESS"
	// EnvRank is the pod's rank in its instance.
	EnvRank = "TANDEM_RANK"
	// EnvWorldSize is the number of pods of the instance.
	EnvWorldSize = "TANDEM_WORLD_SIZE"
)

// AcceleratorMismatchFormat is how tandem-scheduler tells Volcano that a
// node lacks a role's accelerator: the role, the accepted types joined by
// " or ", the node label key and the node's value ("none" when unset). The
// controller reads it back from the PodGroup into the unit's status, so
// the two sides share this one format.
const AcceleratorMismatchFormat = "role %s needs accelerator %s (%s), node has %s"
