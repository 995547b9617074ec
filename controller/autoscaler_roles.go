package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Event reasons of a role resize.
const (
	EventRoleScaledUp   = "RoleScaledUp"
	EventRoleScaledDown = "RoleScaledDown"
)

// +kubebuilder:rbac:groups=serving.tandem.dev,resources=servinggroups,verbs=get;list;watch;patch

// shapeInput is the shape decision's input for a group with
// spec.autoscaling.roles (nil without it): the role loads measured over
// the group's prefill and decode pods, the decode ITL the unit decision
// measured, the current instances per unit and the last decision's record.
// Units is the current units; the caller sets the decided ones.
func (a *Autoscaler) shapeInput(sg *v1alpha1.ServingGroup, pods []corev1.Pod, sig autoscale.Signals, now time.Time, units int32) *autoscale.RatioInput {
	policy, ok := autoscale.RatioPolicyFrom(sg.Spec.Autoscaling, sg.Spec.Roles)
	prefill, decode := roleIndex(sg, autoscale.RolePrefill), roleIndex(sg, autoscale.RoleDecode)
	if !ok || prefill < 0 || decode < 0 {
		return nil
	}
	in := &autoscale.RatioInput{
		Now: now, Policy: policy, Units: units,
		Current:  autoscale.Shape{Prefill: max(sg.Spec.Roles[prefill].Replicas, 1), Decode: max(sg.Spec.Roles[decode].Replicas, 1)},
		Previous: ratioPrevious(sg.Status.Autoscaling),
	}
	if a.RoleSignals != nil {
		in.Signals = a.RoleSignals(sg.Spec.ServedModelNames, roleEndpoints(sg, pods, autoscale.RolePrefill), roleEndpoints(sg, pods, autoscale.RoleDecode))
		// The ITL the engines report at the decode leaders (collect.EngineTargets).
		in.Signals.DecodeITLP90, in.Signals.HasITL = sig.ITLP90, sig.HasITL
	}
	return in
}

func roleIndex(sg *v1alpha1.ServingGroup, name string) int {
	for i := range sg.Spec.Roles {
		if sg.Spec.Roles[i].Name == name {
			return i
		}
	}
	return -1
}

// roleEndpoints are the group's pods of one role, named as the router's
// discovery names endpoints.
func roleEndpoints(sg *v1alpha1.ServingGroup, pods []corev1.Pod, role string) []string {
	var out []string
	for i := range pods {
		if pods[i].Labels[v1alpha1.LabelRole] == role {
			out = append(out, sg.Namespace+"/"+pods[i].Name)
		}
	}
	return out
}

// decideShape makes the shape decision for the decided units and writes
// roles[].replicas when it changes, on the group's resourceVersion rv (the
// one the decision read, or the scale write's). A conflict keeps the
// current shape for this round: the next one decides on the newer group.
func (a *Autoscaler) decideShape(ctx context.Context, sg *v1alpha1.ServingGroup, rv string, in autoscale.RatioInput) (autoscale.RatioDecision, error) {
	if a.RoleSignals == nil {
		return autoscale.RatioDecision{Shape: in.Current, Desired: in.Current, Reason: autoscale.ReasonShapeNoSignals,
			Message: "this controller measures no role signals; keeping " + in.Current.String()}, nil
	}
	d := autoscale.DecideShape(in)
	if d.Shape == in.Current {
		return d, nil
	}
	err := a.resize(ctx, sg, rv, d.Shape)
	if err == nil {
		return d, nil
	}
	d.Shape = in.Current
	d.Message += "; not written: " + err.Error()
	return d, err
}

// resize merge-patches roles[].replicas of the prefill and decode roles,
// with rv as the precondition. A role without minReplicas gets its current
// replicas as minReplicas: its gang minimum, which is in the revision,
// stays where it was, so the planner resizes units in place rather than
// rolling them.
func (a *Autoscaler) resize(ctx context.Context, sg *v1alpha1.ServingGroup, rv string, shape autoscale.Shape) error {
	roles := make([]v1alpha1.RoleSpec, len(sg.Spec.Roles))
	copy(roles, sg.Spec.Roles)
	for i := range roles {
		r := &roles[i]
		n := int32(0)
		switch r.Name {
		case autoscale.RolePrefill:
			n = shape.Prefill
		case autoscale.RoleDecode:
			n = shape.Decode
		default:
			continue
		}
		if r.MinReplicas == nil {
			r.MinReplicas = ptrTo(max(r.Replicas, 1))
		}
		r.Replicas = n
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": rv},
		"spec":     map[string]any{"roles": roles},
	})
	if err != nil {
		return fmt.Errorf("resize roles: %w", err)
	}
	obj := &v1alpha1.ServingGroup{ObjectMeta: metav1.ObjectMeta{Namespace: sg.Namespace, Name: sg.Name}}
	if err := a.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("resize roles: %w", err)
	}
	return nil
}

// shapeStatus records the shape decision in s.
func shapeStatus(s, prev *v1alpha1.AutoscalingStatus, in autoscale.RatioInput, d autoscale.RatioDecision, now time.Time) {
	s.Roles = []v1alpha1.RoleAutoscalingStatus{
		{Name: autoscale.RolePrefill, Instances: d.Shape.Prefill, DesiredInstances: d.Desired.Prefill, BelowTargetSince: timeOrNil(d.PrefillBelowSince)},
		{Name: autoscale.RoleDecode, Instances: d.Shape.Decode, DesiredInstances: d.Desired.Decode, BelowTargetSince: timeOrNil(d.DecodeBelowSince)},
	}
	s.RolesReason, s.RolesMessage = d.Reason, d.Message
	if prev != nil {
		s.LastResizeTime = prev.LastResizeTime
	}
	if d.Shape != in.Current {
		s.LastResizeTime = &metav1.Time{Time: now}
	}
	if s.Signals != nil && in.Signals.Routers > 0 {
		uncached, running := roundCount(in.Signals.UncachedTokensPerSecond), roundCount(in.Signals.DecodeRunning)
		s.Signals.UncachedPromptTokensPerSecond, s.Signals.DecodeRunningRequests = &uncached, &running
		if in.Signals.PrefillRate > 0 {
			rate := roundCount(in.Signals.PrefillRate)
			s.Signals.PrefillRateTokensPerSecond = &rate
		}
	}
}

// ratioPrevious reads the last shape decision's record.
func ratioPrevious(s *v1alpha1.AutoscalingStatus) autoscale.RatioPrevious {
	var p autoscale.RatioPrevious
	if s == nil {
		return p
	}
	for _, r := range s.Roles {
		if r.BelowTargetSince == nil {
			continue
		}
		switch r.Name {
		case autoscale.RolePrefill:
			p.PrefillBelowSince = r.BelowTargetSince.Time
		case autoscale.RoleDecode:
			p.DecodeBelowSince = r.BelowTargetSince.Time
		}
	}
	if g := s.Signals; g != nil && g.UncachedPromptTokensPerSecond != nil && g.DecodeRunningRequests != nil {
		p.Signals = &autoscale.RatioSignals{
			At: g.ObservedTime.Time, Routers: int(g.Routers), Failed: int(g.RoutersFailed),
			UncachedTokensPerSecond: float64(*g.UncachedPromptTokensPerSecond), DecodeRunning: float64(*g.DecodeRunningRequests),
		}
	}
	return p
}

// emitShape sends one event per role whose instances changed, naming the
// role, the old and new instances per unit, and why.
func (a *Autoscaler) emitShape(sg *v1alpha1.ServingGroup, in autoscale.RatioInput, d autoscale.RatioDecision) {
	role := func(name string, from, to int32) {
		switch {
		case to > from:
			a.Recorder.Eventf(sg, corev1.EventTypeNormal, EventRoleScaledUp, "%s %d to %d instances per unit (%s): %s", name, from, to, d.Reason, d.Message)
		case to < from:
			a.Recorder.Eventf(sg, corev1.EventTypeNormal, EventRoleScaledDown, "%s %d to %d instances per unit (%s): %s", name, from, to, d.Reason, d.Message)
		}
	}
	role(autoscale.RolePrefill, in.Current.Prefill, d.Shape.Prefill)
	role(autoscale.RoleDecode, in.Current.Decode, d.Shape.Decode)
}

func ptrTo[T any](v T) *T { return &v }
