package v1alpha1

// Condition types of a ServingGroup. Each is usable with
// `kubectl wait --for=condition=<Type>`.
const (
	// ConditionAvailable is True when enough units are ready to serve:
	// readyReplicas >= max(1, replicas - maxUnavailable), or replicas is 0.
	ConditionAvailable = "Available"
	// ConditionProgressing is True while units are being created, replaced
	// or removed to match the spec.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is True while a unit has a failed or lost pod.
	ConditionDegraded = "Degraded"
)

// Condition reasons (CamelCase, stable: scripts may match on them).
const (
	// Available.
	ReasonMinimumUnitsReady   = "MinimumUnitsReady"
	ReasonNotEnoughUnitsReady = "NotEnoughUnitsReady"
	ReasonScaledToZero        = "ScaledToZero"

	// Progressing.
	ReasonRollingOut    = "RollingOut"
	ReasonScalingDown   = "ScalingDown"
	ReasonUnitsStarting = "UnitsStarting"
	// ReasonUnitsUnschedulable: some unit waits because the scheduler
	// cannot place it; the message says why, unit by unit.
	ReasonUnitsUnschedulable = "UnitsUnschedulable"
	ReasonBlockedByFailure   = "BlockedByFailure"
	ReasonComplete           = "Complete"

	// Degraded.
	ReasonRecoveryPending  = "RecoveryPending"
	ReasonRecovering       = "Recovering"
	ReasonRecoveryDisabled = "RecoveryDisabled"
	ReasonAllUnitsHealthy  = "AllUnitsHealthy"
)

// Reasons a unit waits for placement (UnitStatus.Reason), read from what
// Volcano wrote on the unit's PodGroup and pods.
const (
	// UnitAcceleratorTypeUnavailable: a role asks for accelerator types
	// that no node (with free accelerators) has.
	UnitAcceleratorTypeUnavailable = "AcceleratorTypeUnavailable"
	// UnitInsufficientResources: the gang needs more of a resource (usually
	// the accelerator) than is free within the unit's topology tier.
	UnitInsufficientResources = "InsufficientResources"
	// UnitWaitingForQueue: the unit's Volcano queue has not admitted its
	// PodGroup (phase Pending), so the scheduler has not tried to place it.
	UnitWaitingForQueue = "WaitingForQueue"
	// UnitUnschedulable: the scheduler cannot place the unit for another
	// reason; the message carries Volcano's own words.
	UnitUnschedulable = "Unschedulable"
)
