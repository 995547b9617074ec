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
	ReasonRollingOut       = "RollingOut"
	ReasonScalingDown      = "ScalingDown"
	ReasonUnitsStarting    = "UnitsStarting"
	ReasonBlockedByFailure = "BlockedByFailure"
	ReasonComplete         = "Complete"

	// Degraded.
	ReasonRecoveryPending  = "RecoveryPending"
	ReasonRecovering       = "Recovering"
	ReasonRecoveryDisabled = "RecoveryDisabled"
	ReasonAllUnitsHealthy  = "AllUnitsHealthy"
)
