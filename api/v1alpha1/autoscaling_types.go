package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AutoscalingSpec lets the controller choose spec.replicas from the
// routers' own metrics. When it is set the autoscaler owns spec.replicas:
// it overwrites any other writer (a kubectl scale) on its next decision,
// except a HorizontalPodAutoscaler (KEDA's included) targeting the group:
// then it stands down and reports the conflict (reason
// ConflictingAutoscaler) until one of the two is removed. Leave it unset
// to drive the scale subresource with HPA or KEDA.
//
// +kubebuilder:validation:XValidation:rule="self.maxReplicas >= self.minReplicas",message="autoscaling.maxReplicas must be at least autoscaling.minReplicas"
type AutoscalingSpec struct {
	// MinReplicas is the fewest units. 0 lets the group scale to zero; the
	// first request seen at a router for one of servedModelNames brings
	// one unit back.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MinReplicas int32 `json:"minReplicas"`

	// MaxReplicas is the most units.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	MaxReplicas int32 `json:"maxReplicas"`

	// Targets are what one unit should carry. When several are set the
	// most demanding wins.
	Targets AutoscalingTargets `json:"targets"`

	// ScaleUpWindowSeconds is how long load must stay above the targets
	// before units are added. 0 adds them at the first decision that sees
	// the overload.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	// +optional
	ScaleUpWindowSeconds int32 `json:"scaleUpWindowSeconds"`

	// ScaleDownWindowSeconds is how long load must stay below the targets
	// before one unit is removed; each further unit waits another window.
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	// +optional
	ScaleDownWindowSeconds int32 `json:"scaleDownWindowSeconds"`

	// ColdStartSeconds is how long a new unit takes to serve (image pull,
	// weight load). While load grows, the autoscaler sizes for the load
	// expected this far ahead, so capacity arrives in time.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=3600
	// +optional
	ColdStartSeconds int32 `json:"coldStartSeconds"`

	// Roles lets the autoscaler size the prefill and decode roles inside
	// each unit of a disaggregated group (roles named prefill and decode):
	// it sets their roles[].replicas from the measured prefill load
	// (uncached prompt tokens per second against the prefill rate the
	// routers learned) and decode load (running requests against
	// decode.requestsPerInstance, and the ITL bound of targets when set),
	// within these bounds. Units are resized in place: instances above a
	// role's gang minimum (minReplicas) join or leave each unit's
	// PodGroup, and no instance that keeps serving restarts. The group
	// grows by whole units only when a role at its maxInstances cannot
	// carry its load. While it is set the autoscaler owns the two roles'
	// replicas and keeps their minReplicas where it was (writing it when
	// unset).
	// +optional
	Roles *RoleAutoscalingSpec `json:"roles,omitempty"`
}

// RoleAutoscalingSpec bounds the prefill and decode instances per unit.
type RoleAutoscalingSpec struct {
	Prefill PrefillAutoscaling `json:"prefill"`
	Decode  DecodeAutoscaling  `json:"decode"`
}

// PrefillAutoscaling bounds the prefill instances per unit.
//
// +kubebuilder:validation:XValidation:rule="self.maxInstances >= self.minInstances",message="autoscaling.roles.prefill.maxInstances must be at least autoscaling.roles.prefill.minInstances"
type PrefillAutoscaling struct {
	// MinInstances is the fewest prefill instances per unit; at least the
	// prefill role's minReplicas (its replicas when minReplicas is unset).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	MinInstances int32 `json:"minInstances"`

	// MaxInstances is the most prefill instances per unit: what a unit's
	// topology domain can hold beside its decode instances.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	MaxInstances int32 `json:"maxInstances"`

	// UtilizationPercent is the share of one prefill instance's measured
	// rate (the routers' learned prefill tokens per second) the autoscaler
	// plans to use. Below 100 it leaves headroom: a prefill queue fed
	// close to its rate makes TTFT grow without bound.
	// +kubebuilder:default=80
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	UtilizationPercent int32 `json:"utilizationPercent,omitempty"`
}

// DecodeAutoscaling bounds the decode instances per unit.
//
// +kubebuilder:validation:XValidation:rule="self.maxInstances >= self.minInstances",message="autoscaling.roles.decode.maxInstances must be at least autoscaling.roles.decode.minInstances"
type DecodeAutoscaling struct {
	// MinInstances is the fewest decode instances per unit; at least the
	// decode role's minReplicas (its replicas when minReplicas is unset).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	MinInstances int32 `json:"minInstances"`

	// MaxInstances is the most decode instances per unit.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=64
	MaxInstances int32 `json:"maxInstances"`

	// RequestsPerInstance is the running requests one decode instance
	// carries within the ITL bound: the batch size at which a profile of
	// the engine meets it.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerInstance int32 `json:"requestsPerInstance"`
}

// AutoscalingTargets are per-unit targets an operator thinks in.
//
// +kubebuilder:validation:XValidation:rule="has(self.ttftP90Milliseconds) || has(self.itlP90Milliseconds) || has(self.inFlightRequestsPerUnit) || has(self.queuedTokensPerUnit)",message="autoscaling.targets needs at least one of ttftP90Milliseconds, itlP90Milliseconds, inFlightRequestsPerUnit, queuedTokensPerUnit"
type AutoscalingTargets struct {
	// TTFTP90Milliseconds bounds the p90 time to first token the routers
	// measured over the signal window, for streamed requests. Above it the
	// group grows in proportion; well below it (under half) it may shrink
	// by one unit.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600000
	// +optional
	TTFTP90Milliseconds *int32 `json:"ttftP90Milliseconds,omitempty"`

	// ITLP90Milliseconds bounds the p90 inter-token latency the group's
	// engines measured over the signal window (vLLM's and SGLang's
	// inter_token_latency_seconds histograms, scraped from the serving
	// instances' leaders: the decode role's when the group is
	// disaggregated). Above it the group grows in proportion; under half
	// of it it may shrink by one unit. With roles set it sizes the decode
	// instances per unit instead, and adds units only through decode
	// reaching its maxInstances.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=600000
	// +optional
	ITLP90Milliseconds *int32 `json:"itlP90Milliseconds,omitempty"`

	// InFlightRequestsPerUnit is the open requests one unit should carry:
	// the routers' in-flight requests at the group's engines plus the
	// requests the routers hold for its models, summed over routers.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	// +optional
	InFlightRequestsPerUnit *int32 `json:"inFlightRequestsPerUnit,omitempty"`

	// QueuedTokensPerUnit is the prompt tokens waiting for prefill one unit
	// should carry (the routers' estimate of uncached tokens sent to the
	// group's engines that have not produced a first token yet).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000
	// +optional
	QueuedTokensPerUnit *int64 `json:"queuedTokensPerUnit,omitempty"`
}

// AutoscalingStatus is the autoscaler's last look and decision.
type AutoscalingStatus struct {
	// DesiredReplicas is the units the signals ask for, within bounds and
	// before the stabilisation windows; spec.replicas moves toward it (all
	// at once up; down, after scaleDownWindowSeconds, to the most any look
	// of the window asked for).
	DesiredReplicas int32 `json:"desiredReplicas"`

	// Signals are the values the last decision used.
	// +optional
	Signals *AutoscalingSignals `json:"signals,omitempty"`

	// Reason is the last decision in one CamelCase word: ScaledUp,
	// ScaledDown, ScaledFromZero, WithinTargets, WaitingForScaleUpWindow,
	// WaitingForScaleDownWindow, BelowMinReplicas, AboveMaxReplicas,
	// AtMaxReplicas, SignalsUnavailable, PartialSignals,
	// ConflictingAutoscaler (an HPA also targets the group; nothing is
	// scaled until one of them goes).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says the same in an operator's words, with the numbers.
	// +optional
	Message string `json:"message,omitempty"`
	// LastDecisionTime is when Reason was decided.
	// +optional
	LastDecisionTime *metav1.Time `json:"lastDecisionTime,omitempty"`
	// LastScaleTime is when the autoscaler last changed spec.replicas.
	// +optional
	LastScaleTime *metav1.Time `json:"lastScaleTime,omitempty"`

	// AboveTargetSince is when load first exceeded the current units'
	// capacity without a break since; the scale-up window counts from it.
	// +optional
	AboveTargetSince *metav1.Time `json:"aboveTargetSince,omitempty"`
	// BelowTargetSince is when fewer units first became enough without a
	// break since (or the last scale-down); the scale-down window counts
	// from it.
	// +optional
	BelowTargetSince *metav1.Time `json:"belowTargetSince,omitempty"`
	// DownWindowLooks are the looks of the running down window that can
	// still be its most: each asked for more units than every later one,
	// oldest first, none older than scaleDownWindowSeconds. Once the
	// window has run, the group goes to the first one's replicas. Unset
	// outside a window.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +optional
	DownWindowLooks []ScaleDownLook `json:"downWindowLooks,omitempty"`

	// Roles is the last decision on the prefill and decode instances per
	// unit, with spec.autoscaling.roles.
	// +listType=map
	// +listMapKey=name
	// +optional
	Roles []RoleAutoscalingStatus `json:"roles,omitempty"`
	// RolesReason is that decision in one CamelCase word: RolesResized,
	// RolesWithinTargets, RolesWaitingForScaleDownWindow,
	// RolesAtMaxInstances (a role at maxInstances asks for more units),
	// RolesPrefillRateUnknown (no router learned a prefill rate yet:
	// prefill keeps its instances), RolesNoUnits, RolesSignalsUnavailable,
	// RolesPartialSignals.
	// +optional
	RolesReason string `json:"rolesReason,omitempty"`
	// RolesMessage says the same with the numbers.
	// +optional
	RolesMessage string `json:"rolesMessage,omitempty"`
	// LastResizeTime is when the autoscaler last changed a role's
	// instances.
	// +optional
	LastResizeTime *metav1.Time `json:"lastResizeTime,omitempty"`
}

// RoleAutoscalingStatus is one role's instances per unit.
type RoleAutoscalingStatus struct {
	// Name is prefill or decode.
	Name string `json:"name"`
	// Instances is the count the autoscaler set in the role's replicas.
	Instances int32 `json:"instances"`
	// DesiredInstances is what the signals ask for, within the role's
	// bounds and before the scale-down window (a role grows at once and
	// shrinks by one instance per scaleDownWindowSeconds).
	DesiredInstances int32 `json:"desiredInstances"`
	// BelowTargetSince is when fewer instances first became enough
	// without a break since (or the last removal); the scale-down window
	// counts from it.
	// +optional
	BelowTargetSince *metav1.Time `json:"belowTargetSince,omitempty"`
}

// AutoscalingSignals are the load figures summed over the routers that
// answered.
type AutoscalingSignals struct {
	// ObservedTime is when the routers were scraped.
	ObservedTime metav1.Time `json:"observedTime"`
	// Routers is how many router replicas answered; RoutersFailed how many
	// did not.
	Routers       int32 `json:"routers"`
	RoutersFailed int32 `json:"routersFailed,omitempty"`
	// InFlightRequests is the open requests at the group's engines plus
	// the requests held in the routers for its models.
	InFlightRequests int64 `json:"inFlightRequests"`
	// QueuedTokens is the prompt tokens sent to the group's engines that
	// have not produced a first token.
	QueuedTokens int64 `json:"queuedTokens"`
	// RequestsInWindow is the completion requests for the group's models
	// the routers answered during the signal window.
	RequestsInWindow int64 `json:"requestsInWindow"`
	// TTFTP90Milliseconds is the p90 time to first token over the signal
	// window; absent when no streamed request finished its first token.
	// +optional
	TTFTP90Milliseconds *int64 `json:"ttftP90Milliseconds,omitempty"`
	// ITLP90Milliseconds is the p90 inter-token latency over the signal
	// window at the engines; absent without an itlP90Milliseconds target
	// or when no engine produced a token.
	// +optional
	ITLP90Milliseconds *int64 `json:"itlP90Milliseconds,omitempty"`
	// Engines is how many engines answered the ITL scrape; EnginesFailed
	// how many did not.
	// +optional
	Engines       int32 `json:"engines,omitempty"`
	EnginesFailed int32 `json:"enginesFailed,omitempty"`

	// UncachedPromptTokensPerSecond is the prompt tokens per second the
	// routers sent to the group's models that no engine held in its prefix
	// cache, over the signal window; with spec.autoscaling.roles.
	// +optional
	UncachedPromptTokensPerSecond *int64 `json:"uncachedPromptTokensPerSecond,omitempty"`
	// PrefillRateTokensPerSecond is what one prefill instance sustains:
	// the median of the routers' learned rates of the group's prefill
	// endpoints; absent until one is learned.
	// +optional
	PrefillRateTokensPerSecond *int64 `json:"prefillRateTokensPerSecond,omitempty"`
	// DecodeRunningRequests is the open requests at the group's decode
	// endpoints.
	// +optional
	DecodeRunningRequests *int64 `json:"decodeRunningRequests,omitempty"`
}

// ScaleDownLook is one look of a down window: when, and the units it
// asked for.
type ScaleDownLook struct {
	Time     metav1.Time `json:"time"`
	Replicas int32       `json:"replicas"`
}
