package controller

import (
	"context"
	"fmt"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Autoscaler sets spec.replicas of ServingGroups with spec.autoscaling
// from the routers' signals (controller/autoscale decides, the collector
// in controller/autoscale/collect measures), and with
// spec.autoscaling.roles the prefill and decode roles' replicas too. Per
// group, once per collector round: read the group fresh from the API
// server; with roles, a first shape decision on the current units says
// how many units the roles ask for (UnitsWanted); decide the units; write
// spec.replicas through the scale subresource when it changes; decide the
// shape for the decided units and write roles[].replicas when it changes
// (on the resourceVersion the decision read or the scale write returned; a
// conflict waits for the next round); patch status.autoscaling once; then
// emit the events. It runs beside the Reconciler, which turns spec.replicas
// into units and roles[].replicas into instances per unit (in place) as for
// any other writer.
type Autoscaler struct {
	Client client.Client
	// APIReader reads the group past the cache, so a decision never works
	// from a spec.replicas or status older than its own last write.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Signals returns the latest round's figures for a group's models and
	// endpoints (<namespace>/<pod>).
	Signals func(models, endpoints []string) autoscale.Signals
	// EngineITL measures the p90 inter-token latency at a group's engines
	// (collect.Engines.Group); asked only for groups with an
	// itlP90Milliseconds target. Nil: such a target abstains.
	EngineITL func(ctx context.Context, sg *v1alpha1.ServingGroup, pods []corev1.Pod) autoscale.ITL
	// RoleSignals returns the latest round's role loads of a disaggregated
	// group (collect.Collector.Roles) from its models and its prefill and
	// decode endpoints; asked only for groups with spec.autoscaling.roles.
	// Nil: such groups keep their shape and status says why.
	RoleSignals func(models, prefill, decode []string) autoscale.RatioSignals
	// Interval is the collector's round; a group is decided once per round.
	Interval time.Duration
	Now      func() time.Time
}

// Event reasons on the ServingGroup.
const (
	EventScaledUp           = "ScaledUp"
	EventScaledDown         = "ScaledDown"
	EventSignalsUnavailable = "AutoscalerSignalsUnavailable"
	EventScaleFailed        = "ScaleFailed"
)

// +kubebuilder:rbac:groups=serving.tandem.dev,resources=servinggroups/scale,verbs=get;update;patch

// Reconcile makes one decision for the group in req.
func (a *Autoscaler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := klog.FromContext(ctx)
	sg := &v1alpha1.ServingGroup{}
	if err := a.APIReader.Get(ctx, req.NamespacedName, sg); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if sg.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if sg.Spec.Autoscaling == nil {
		return ctrl.Result{}, a.patchStatus(ctx, sg, nil) // drop a stale record
	}
	if hpa, err := a.conflictingHPA(ctx, sg); err != nil {
		return ctrl.Result{}, err
	} else if hpa != "" {
		return a.standDown(ctx, sg, hpa) // autoscaler_conflict.go
	}
	pods, err := a.pods(ctx, sg)
	if err != nil {
		return ctrl.Result{}, err
	}
	sig := a.Signals(sg.Spec.ServedModelNames, endpoints(sg, pods))
	prev := sg.Status.Autoscaling
	if sig.At.IsZero() || prev != nil && prev.Signals != nil && !sig.At.Truncate(time.Second).After(prev.Signals.ObservedTime.Time) {
		return ctrl.Result{RequeueAfter: a.untilNextRound(sig.At)}, nil // this round was decided already
	}
	if sg.Spec.Autoscaling.Targets.ITLP90Milliseconds != nil && a.EngineITL != nil {
		sig = sig.WithITL(a.EngineITL(ctx, sg, pods)) // once per round, like the routers
	}
	now := a.Now()
	current := ptrOr(sg.Spec.Replicas, 1)
	shapeIn := a.shapeInput(sg, pods, sig, now, current)
	var unitsWanted int32
	if shapeIn != nil && a.RoleSignals != nil {
		unitsWanted = autoscale.DecideShape(*shapeIn).UnitsWanted
	}
	d := autoscale.Decide(autoscale.Input{
		Now: now, Policy: autoscale.PolicyFrom(sg.Spec.Autoscaling),
		Current: current, Ready: sg.Status.ReadyReplicas,
		Signals: sig, Previous: previous(prev), UnitsWanted: unitsWanted,
	})
	log.V(4).Info("Autoscaling decision", "servingGroup", klog.KObj(sg), "replicas", current, "decided", d.Replicas, "reason", d.Reason, "message", d.Message)

	status := decisionStatus(prev, d, sig, now)
	rv := sg.ResourceVersion
	if d.Replicas != current {
		var err error
		if rv, err = a.scale(ctx, sg, d.Replicas); apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: time.Second}, nil // decide again on the newer group
		} else if err != nil {
			a.Recorder.Eventf(sg, corev1.EventTypeWarning, EventScaleFailed, "setting %d units: %v", d.Replicas, err)
			return ctrl.Result{}, err
		}
		status.LastScaleTime = &metav1.Time{Time: now}
		if rv == "" {
			rv = sg.ResourceVersion // refused as stale: the roles wait a round
		}
	}
	var shape autoscale.RatioDecision
	var resizeErr error
	if shapeIn != nil {
		shapeIn.Units = d.Replicas
		shape, resizeErr = a.decideShape(ctx, sg, rv, *shapeIn)
		log.V(4).Info("Autoscaling shape decision", "servingGroup", klog.KObj(sg), "shape", shapeIn.Current, "decided", shape.Shape, "reason", shape.Reason, "message", shape.Message)
		shapeStatus(status, prev, *shapeIn, shape, now)
	}
	if err := a.patchStatus(ctx, sg, status); err != nil {
		return ctrl.Result{}, err
	}
	if shapeIn != nil {
		a.emitShape(sg, *shapeIn, shape)
		if resizeErr != nil && !apierrors.IsConflict(resizeErr) { // a conflict is decided again next round
			a.Recorder.Eventf(sg, corev1.EventTypeWarning, EventScaleFailed, "setting %s per unit: %v", shape.Desired, resizeErr)
		}
	}
	switch {
	case d.Replicas > current:
		a.Recorder.Eventf(sg, corev1.EventTypeNormal, EventScaledUp, "%d to %d units (%s): %s%s", current, d.Replicas, d.Reason, d.Message, scaleNote(sg, current, d.Replicas))
	case d.Replicas < current:
		a.Recorder.Eventf(sg, corev1.EventTypeNormal, EventScaledDown, "%d to %d units (%s): %s%s", current, d.Replicas, d.Reason, d.Message, scaleNote(sg, current, d.Replicas))
	case d.Reason == autoscale.ReasonSignalsUnavailable && (prev == nil || prev.Reason != d.Reason):
		a.Recorder.Event(sg, corev1.EventTypeWarning, EventSignalsUnavailable, d.Message)
	}
	return ctrl.Result{RequeueAfter: a.untilNextRound(sig.At)}, nil
}

// untilNextRound is how long until the collector's next round should be
// in, so a decision follows each round closely instead of drifting up to
// an interval behind it.
func (a *Autoscaler) untilNextRound(last time.Time) time.Duration {
	slack := a.Interval / 10
	if last.IsZero() {
		return a.Interval
	}
	return max(last.Add(a.Interval).Sub(a.Now())+slack, a.Interval/4)
}

// pods are the group's pods.
func (a *Autoscaler) pods(ctx context.Context, sg *v1alpha1.ServingGroup) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := a.Client.List(ctx, &pods, client.InNamespace(sg.Namespace), client.MatchingLabels{v1alpha1.LabelGroup: sg.Name}); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	return pods.Items, nil
}

// endpoints are the group's pods as the router's Kubernetes discovery
// names its endpoints.
func endpoints(sg *v1alpha1.ServingGroup, pods []corev1.Pod) []string {
	out := make([]string, 0, len(pods))
	for i := range pods {
		out = append(out, sg.Namespace+"/"+pods[i].Name)
	}
	return out
}

// scale writes spec.replicas through the scale subresource, as any other
// autoscaler would, and only if the group is still the one decided on. It
// returns the group's new resourceVersion.
func (a *Autoscaler) scale(ctx context.Context, sg *v1alpha1.ServingGroup, replicas int32) (string, error) {
	s := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Namespace: sg.Namespace, Name: sg.Name, ResourceVersion: sg.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}
	if err := a.Client.SubResource("scale").Update(ctx, sg, client.WithSubResourceBody(s)); err != nil {
		return "", fmt.Errorf("update scale: %w", err)
	}
	return s.ResourceVersion, nil
}

// patchStatus merge-patches status.autoscaling alone, so it never
// overwrites what the Reconciler writes in the rest of status.
func (a *Autoscaler) patchStatus(ctx context.Context, sg *v1alpha1.ServingGroup, status *v1alpha1.AutoscalingStatus) error {
	if equality.Semantic.DeepEqual(sg.Status.Autoscaling, status) {
		return nil
	}
	orig := sg.DeepCopy()
	sg.Status.Autoscaling = status
	if err := a.Client.Status().Patch(ctx, sg, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("patch status.autoscaling: %w", err)
	}
	return nil
}

// previous reads the last decision's record.
func previous(s *v1alpha1.AutoscalingStatus) autoscale.Previous {
	var p autoscale.Previous
	if s == nil {
		return p
	}
	if s.AboveTargetSince != nil {
		p.AboveSince = s.AboveTargetSince.Time
	}
	if s.BelowTargetSince != nil {
		p.BelowSince = s.BelowTargetSince.Time
	}
	for _, l := range s.DownWindowLooks {
		p.DownLooks = append(p.DownLooks, autoscale.Look{At: l.Time.Time, Replicas: l.Replicas})
	}
	if g := s.Signals; g != nil {
		p.Signals = &autoscale.Signals{
			At: g.ObservedTime.Time, Routers: int(g.Routers), Failed: int(g.RoutersFailed),
			InFlight: float64(g.InFlightRequests), QueuedTokens: float64(g.QueuedTokens), Requests: float64(g.RequestsInWindow),
		}
	}
	return p
}

// decisionStatus is the status the decision leaves.
func decisionStatus(prev *v1alpha1.AutoscalingStatus, d autoscale.Decision, sig autoscale.Signals, now time.Time) *v1alpha1.AutoscalingStatus {
	s := &v1alpha1.AutoscalingStatus{
		DesiredReplicas: d.Desired, Reason: d.Reason, Message: d.Message,
		LastDecisionTime: &metav1.Time{Time: now},
		AboveTargetSince: timeOrNil(d.AboveSince), BelowTargetSince: timeOrNil(d.BelowSince),
		Signals: &v1alpha1.AutoscalingSignals{
			ObservedTime: metav1.Time{Time: sig.At}, Routers: int32(sig.Routers), RoutersFailed: int32(sig.Failed),
			InFlightRequests: roundCount(sig.InFlight), QueuedTokens: roundCount(sig.QueuedTokens), RequestsInWindow: roundCount(sig.Requests),
		},
	}
	if sig.HasTTFT {
		ms := sig.TTFTP90.Milliseconds()
		s.Signals.TTFTP90Milliseconds = &ms
	}
	if sig.HasITL {
		ms := sig.ITLP90.Milliseconds()
		s.Signals.ITLP90Milliseconds = &ms
	}
	for _, l := range d.DownLooks {
		s.DownWindowLooks = append(s.DownWindowLooks, v1alpha1.ScaleDownLook{Time: metav1.Time{Time: l.At}, Replicas: l.Replicas})
	}
	s.Signals.Engines, s.Signals.EnginesFailed = int32(sig.Engines), int32(sig.EnginesFailed)
	if prev != nil {
		s.LastScaleTime = prev.LastScaleTime
	}
	return s
}

func timeOrNil(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}

func roundCount(x float64) int64 { return int64(x + 0.5) }

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// SetupWithManager registers the autoscaler. It wakes on creates and spec
// changes (a new or edited spec.autoscaling) and otherwise once per round.
func (a *Autoscaler) SetupWithManager(mgr ctrl.Manager) error {
	if a.Now == nil {
		a.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("autoscaler").
		For(&v1alpha1.ServingGroup{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(a)
}
