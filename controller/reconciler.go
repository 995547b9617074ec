// Package controller reconciles ServingGroups. Each reconcile is a
// pipeline: read the group and the objects it owns from the informer cache,
// let the pure planner (controller/plan) decide what to create and delete
// and what the status is, apply that (executor.go), write the status once,
// and only then emit events. All state comes from API objects, so a
// restarted controller carries on where the last one stopped.
package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
)

// Reconciler reconciles one ServingGroup at a time.
type Reconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	Plan     plan.Config
	// Now is the clock; tests may replace it.
	Now func() time.Time

	expect *expectations
}

// cacheWait is how soon a reconcile that found the cache behind its own
// writes tries again (watch events usually wake it sooner).
const cacheWait = time.Second

// +kubebuilder:rbac:groups=serving.tandem.dev,resources=servinggroups,verbs=get;list;watch
// +kubebuilder:rbac:groups=serving.tandem.dev,resources=servinggroups/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=serving.tandem.dev,resources=servinggroups/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=scheduling.volcano.sh,resources=podgroups,verbs=get;list;watch;create;patch;delete

// Reconcile runs the pipeline once for the group named in req.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := klog.FromContext(ctx)
	sg := &v1alpha1.ServingGroup{}
	if err := r.Client.Get(ctx, req.NamespacedName, sg); err != nil {
		if apierrors.IsNotFound(err) {
			r.expect.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("get ServingGroup: %w", err)
	}
	if sg.DeletionTimestamp != nil {
		return ctrl.Result{}, nil // owned objects go with it (owner references)
	}
	obs, err := r.observe(ctx, sg)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := r.Now()
	if !r.expect.satisfied(req.NamespacedName, seen(obs), now) {
		log.V(4).Info("Waiting for the cache to show this controller's own writes")
		return ctrl.Result{RequeueAfter: cacheWait}, nil
	}
	p, err := plan.Compute(r.Plan, sg, obs, now)
	if err != nil {
		r.Recorder.Event(sg, corev1.EventTypeWarning, "PlanFailed", err.Error())
		return ctrl.Result{}, fmt.Errorf("plan: %w", err)
	}
	done, execErr := r.execute(ctx, sg, p, now)
	if err := r.writeStatus(ctx, sg, p.Status); apierrors.IsConflict(err) {
		// The cached group is older than our own last status write: plan
		// again once the cache has caught up, without error backoff. The
		// creates and deletes did happen, so their events still go out.
		done.emit(r.Recorder, sg)
		return ctrl.Result{RequeueAfter: cacheWait}, execErr
	} else if err != nil {
		return ctrl.Result{}, err
	}
	done.emit(r.Recorder, sg)
	if execErr != nil {
		return ctrl.Result{}, execErr
	}
	if done.stale {
		return ctrl.Result{RequeueAfter: cacheWait}, nil
	}
	return ctrl.Result{RequeueAfter: p.RequeueAfter}, nil
}

// observe lists the objects the group owns, from the cache.
func (r *Reconciler) observe(ctx context.Context, sg *v1alpha1.ServingGroup) (plan.Observed, error) {
	sel := []client.ListOption{client.InNamespace(sg.Namespace), client.MatchingLabels{v1alpha1.LabelGroup: sg.Name}}
	var pods corev1.PodList
	var pgs schedv1beta1.PodGroupList
	var svcs corev1.ServiceList
	for _, list := range []client.ObjectList{&pods, &pgs, &svcs} {
		if err := r.Client.List(ctx, list, sel...); err != nil {
			return plan.Observed{}, fmt.Errorf("list owned objects: %w", err)
		}
	}
	var obs plan.Observed
	for i := range pods.Items {
		if controlledBy(&pods.Items[i], sg) {
			obs.Pods = append(obs.Pods, &pods.Items[i])
		}
	}
	for i := range pgs.Items {
		if controlledBy(&pgs.Items[i], sg) {
			obs.PodGroups = append(obs.PodGroups, &pgs.Items[i])
		}
	}
	for i := range svcs.Items {
		if controlledBy(&svcs.Items[i], sg) {
			obs.Services = append(obs.Services, &svcs.Items[i])
		}
	}
	return obs, nil
}

func controlledBy(obj client.Object, sg *v1alpha1.ServingGroup) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == sg.UID
}

// seen maps every observed object to its UID and resourceVersion, for the
// expectations check.
func seen(obs plan.Observed) map[objectKey]seenObject {
	out := map[objectKey]seenObject{}
	for _, p := range obs.Pods {
		out[objectKey{string(plan.KindPod), p.Name}] = seenObject{p.UID, p.ResourceVersion}
	}
	for _, pg := range obs.PodGroups {
		out[objectKey{string(plan.KindPodGroup), pg.Name}] = seenObject{pg.UID, pg.ResourceVersion}
	}
	for _, s := range obs.Services {
		out[objectKey{string(plan.KindService), s.Name}] = seenObject{s.UID, s.ResourceVersion}
	}
	return out
}

// writeStatus writes the planned status if it differs from the stored one.
// Conditions keep their lastTransitionTime while their status holds.
func (r *Reconciler) writeStatus(ctx context.Context, sg *v1alpha1.ServingGroup, status v1alpha1.ServingGroupStatus) error {
	conditions := append([]metav1.Condition(nil), sg.Status.Conditions...)
	for _, c := range status.Conditions {
		meta.SetStatusCondition(&conditions, c)
	}
	status.Conditions = conditions
	status.Autoscaling = sg.Status.Autoscaling // the Autoscaler's to write
	if equality.Semantic.DeepEqual(sg.Status, status) {
		return nil
	}
	sg.Status = status
	if err := r.Client.Status().Update(ctx, sg); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// SetupWithManager registers the reconciler, watching ServingGroups and the
// objects they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	r.expect = newExpectations()
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ServingGroup{}).
		Owns(&corev1.Pod{}).
		Owns(&corev1.Service{}).
		Owns(&schedv1beta1.PodGroup{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}
