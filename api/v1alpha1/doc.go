// Package v1alpha1 holds the ServingGroup API (serving.tandem.dev/v1alpha1).
//
// A ServingGroup has spec.replicas units. A unit is the gang: one Volcano
// PodGroup that is placed whole or not at all. A unit holds roles (prefill,
// decode, or a single engine role); a role has replicas instances per unit and
// an instance is size pods (a leader and size-1 workers for tensor or pipeline
// parallelism). The controller owns the pods directly and derives all its
// state from API objects, so labels and annotations defined here are part of
// the contract between the controller, the scheduler plugin and the router.
//
// +kubebuilder:object:generate=true
// +groupName=serving.tandem.dev
package v1alpha1
