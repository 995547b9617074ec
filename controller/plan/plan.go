package plan

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Observed is what exists for one ServingGroup: the objects it owns. Objects
// without the group's LabelGroup or a valid LabelUnit are ignored.
type Observed struct {
	Pods      []*corev1.Pod
	PodGroups []*schedv1beta1.PodGroup
	Services  []*corev1.Service
}

// Plan is what the executor should do, in order: creates (PodGroups before
// Services before pods, so pods never wait for a missing gang), then the
// in-place updates, then the deletes in list order, then one status write.
// Updates come between the two so an interrupted resize leaves objects the
// next plan reads the same way: a grown role's new pods exist before the
// PodGroup names them (until then they are the new shape's, not strays, as
// long as the spec asks for them), and a shrunk role's PodGroup stops
// naming its highest instances before their pods go (so they are never
// judged lost).
type Plan struct {
	PodGroups []*schedv1beta1.PodGroup
	Services  []*corev1.Service
	Pods      []*corev1.Pod
	// Updates change labels and annotations of objects the plan keeps.
	Updates []Update
	// Deletes lists objects to delete. Within a unit, pods come before the
	// PodGroup and the Service, so an interrupted delete leaves a unit the
	// next plan still recognizes.
	Deletes []Deletion
	// Status is the ServingGroup status computed from the observed objects
	// and this plan's decisions.
	Status v1alpha1.ServingGroupStatus
	// RequeueAfter, when non-zero, is when a pending recovery becomes due;
	// nothing else will wake the controller at that moment.
	RequeueAfter time.Duration
}

// Empty reports whether the plan changes nothing in the cluster.
func (p *Plan) Empty() bool {
	return len(p.PodGroups) == 0 && len(p.Services) == 0 && len(p.Pods) == 0 && len(p.Updates) == 0 && len(p.Deletes) == 0
}

// Kind is the kind of an object to delete.
type Kind string

const (
	KindPod      Kind = "Pod"
	KindPodGroup Kind = "PodGroup"
	KindService  Kind = "Service"
)

// DeleteReason says why the planner deletes an object; the executor uses it
// for events and metrics.
type DeleteReason string

const (
	ReasonScaleDown        DeleteReason = "ScaleDown"
	ReasonRollout          DeleteReason = "Rollout"
	ReasonRecreateUnit     DeleteReason = "RecreateUnit"
	ReasonRecreateInstance DeleteReason = "RecreateInstance"
	ReasonNotInSpec        DeleteReason = "NotInSpec"
	// ReasonRoleScaleDown: the spec asks for fewer instances of a role in
	// each unit; the highest ones above the new count go.
	ReasonRoleScaleDown DeleteReason = "RoleScaleDown"
)

// Deletion names one object to delete. The executor should delete with a
// UID precondition, so a stale plan never removes an object recreated under
// the same name.
type Deletion struct {
	Kind   Kind
	Name   string
	UID    types.UID
	Unit   int32
	Reason DeleteReason
}

// UpdateReason says why the planner changes an object in place.
type UpdateReason string

const (
	// ReasonResize: the unit's PodGroup records a new instance count of a
	// role (AnnotationRoleReplicas); no pod that keeps serving restarts.
	ReasonResize UpdateReason = "ResizedUnit"
	// ReasonRelabel: the object carries the legacy revision of the current
	// spec (made before roles[].replicas left the hash) and gets the
	// current revision's name, so the unit is not rolled.
	ReasonRelabel UpdateReason = "Relabel"
)

// Update is a metadata change to one object the plan keeps: the labels and
// annotations given are merged into the object's.
type Update struct {
	Kind Kind
	Name string
	Unit int32
	// ResourceVersion is the version the change was planned on; the
	// executor sends it so that a change planned on a stale object is
	// refused (Conflict) and planned again.
	ResourceVersion     string
	Labels, Annotations map[string]string
	Reason              UpdateReason
	// Message is for the event: what changed, e.g. "prefill 1 to 3".
	Message string
}

// Compute plans one reconcile of sg given what exists at time now. It reads
// its inputs only, keeps no state between calls and returns the same plan
// for the same inputs.
func Compute(cfg Config, sg *v1alpha1.ServingGroup, obs Observed, now time.Time) (*Plan, error) {
	p, err := newPlanner(cfg, sg, now)
	if err != nil {
		return nil, err
	}
	p.observe(obs)
	target := p.target()
	p.addMissingUnits(target)
	p.scaleDown(target)
	p.reshape(target)
	p.recover(target)
	p.rollout()
	p.removeStrays(target)
	p.create(target)
	p.plan.Status = p.status(target)
	return p.plan, nil
}

// planner holds one Compute call's inputs and decisions.
type planner struct {
	cfg            Config
	sg             *v1alpha1.ServingGroup
	spec           *v1alpha1.ServingGroupSpec // normalized
	revision       string
	now            time.Time
	grace          time.Duration
	maxUnavailable int32
	maxSurge       int32
	units          map[int32]*unitState
	plan           *Plan
	// legacy memoizes legacyRevision by shape: units mostly share one.
	legacy map[string]string
}

func newPlanner(cfg Config, sg *v1alpha1.ServingGroup, now time.Time) (*planner, error) {
	spec := normalize(&sg.Spec)
	if len(spec.Roles) == 0 {
		return nil, fmt.Errorf("ServingGroup %s/%s has no roles", sg.Namespace, sg.Name)
	}
	rev, err := Revision(spec)
	if err != nil {
		return nil, err
	}
	maxUnavailable, maxSurge, err := rolloutLimits(spec)
	if err != nil {
		return nil, err
	}
	return &planner{
		cfg:            cfg.withDefaults(),
		sg:             sg,
		spec:           spec,
		revision:       rev,
		now:            now,
		grace:          time.Duration(*spec.Recovery.GracePeriodSeconds) * time.Second,
		maxUnavailable: maxUnavailable,
		maxSurge:       maxSurge,
		units:          map[int32]*unitState{},
		plan:           &Plan{},
		legacy:         map[string]string{},
	}, nil
}

// requeueAt asks to be woken at t (the earliest request wins).
func (p *planner) requeueAt(t time.Time) {
	d := t.Sub(p.now)
	if d <= 0 {
		return
	}
	if p.plan.RequeueAfter == 0 || d < p.plan.RequeueAfter {
		p.plan.RequeueAfter = d
	}
}
