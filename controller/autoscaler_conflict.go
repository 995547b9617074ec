package controller

import (
	"context"
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// EventAutoscalerConflict warns that another autoscaler scales the group.
const EventAutoscalerConflict = "AutoscalerConflict"

// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch

// conflictingHPA names a HorizontalPodAutoscaler of the group's namespace
// whose scale target is the group, or "". KEDA scales through an HPA of
// its own (keda-hpa-<name>), so this finds a ScaledObject too.
func (a *Autoscaler) conflictingHPA(ctx context.Context, sg *v1alpha1.ServingGroup) (string, error) {
	var list autoscalingv2.HorizontalPodAutoscalerList
	if err := a.Client.List(ctx, &list, client.InNamespace(sg.Namespace)); err != nil {
		return "", fmt.Errorf("list horizontal pod autoscalers: %w", err)
	}
	var names []string
	for i := range list.Items {
		ref := list.Items[i].Spec.ScaleTargetRef
		group, _, _ := strings.Cut(ref.APIVersion, "/")
		if ref.Kind == "ServingGroup" && ref.Name == sg.Name && group == v1alpha1.GroupVersion.Group {
			names = append(names, list.Items[i].Name)
		}
	}
	return strings.Join(names, ", "), nil
}

// standDown leaves spec.replicas to the other autoscaler rather than fight
// it (each would undo the other's writes every round): status says why,
// one warning event says it when the conflict starts. It is looked at again
// every round, so removing either side ends it.
func (a *Autoscaler) standDown(ctx context.Context, sg *v1alpha1.ServingGroup, hpa string) (ctrl.Result, error) {
	prev := sg.Status.Autoscaling
	msg := fmt.Sprintf("HorizontalPodAutoscaler %s also scales this ServingGroup; spec.replicas is left to it until it or spec.autoscaling is removed", hpa)
	status := &v1alpha1.AutoscalingStatus{
		DesiredReplicas: ptrOr(sg.Spec.Replicas, 1), Reason: autoscale.ReasonConflict, Message: msg,
		LastDecisionTime: &metav1.Time{Time: a.Now()},
	}
	if prev != nil {
		status.LastScaleTime = prev.LastScaleTime
		if prev.Reason == autoscale.ReasonConflict && prev.Message == msg {
			status.LastDecisionTime = prev.LastDecisionTime // nothing new to write
		}
	}
	if err := a.patchStatus(ctx, sg, status); err != nil {
		return ctrl.Result{}, err
	}
	if prev == nil || prev.Reason != autoscale.ReasonConflict {
		a.Recorder.Event(sg, corev1.EventTypeWarning, EventAutoscalerConflict, msg)
	}
	return ctrl.Result{RequeueAfter: a.Interval}, nil
}
