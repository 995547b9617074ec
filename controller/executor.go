package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
)

// applied records what the executor did, for events after the status write.
type applied struct {
	createdUnits []string
	createdPods  int
	resized      []string            // "<unit>: <what changed>"
	deleted      map[string][]string // "<reason>" -> object descriptions
	// stale: an update was refused because the object changed since the
	// plan read it; plan again on the newer one.
	stale bool
}

// execute applies a plan: PodGroups, Services, then pods are created, then
// the in-place updates, then the deletions run in plan order. Creating an object that already exists
// is not an error (its name is deterministic; a lagging cache may not show
// it), nor is deleting one that is gone. Deletes carry a UID precondition so
// a stale plan never removes an object recreated under the same name. It
// goes on past failures and returns them joined.
func (r *Reconciler) execute(ctx context.Context, sg *v1alpha1.ServingGroup, p *plan.Plan, now time.Time) (applied, error) {
	key := types.NamespacedName{Namespace: sg.Namespace, Name: sg.Name}
	done := applied{deleted: map[string][]string{}}
	var errs []error
	create := func(kind plan.Kind, obj client.Object) bool {
		err := r.Client.Create(ctx, obj)
		if err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("create %s %s: %w", kind, obj.GetName(), err))
			recordAction("create", string(kind), "Error")
			return false
		}
		r.expect.expectCreate(key, string(kind), obj.GetName(), now)
		recordAction("create", string(kind), "")
		return err == nil
	}
	for _, pg := range p.PodGroups {
		if create(plan.KindPodGroup, pg) {
			done.createdUnits = append(done.createdUnits, pg.Labels[v1alpha1.LabelUnit])
		}
	}
	for _, svc := range p.Services {
		create(plan.KindService, svc)
	}
	for _, pod := range p.Pods {
		if create(plan.KindPod, pod) {
			done.createdPods++
		}
	}
	unresized := map[int32]bool{} // units whose PodGroup kept its old shape
	for _, u := range p.Updates {
		err := r.update(ctx, sg.Namespace, u)
		switch {
		case err == nil:
			r.expect.expectUpdate(key, string(u.Kind), u.Name, u.ResourceVersion, now)
			recordAction("update", string(u.Kind), string(u.Reason))
			if u.Reason == plan.ReasonResize {
				done.resized = append(done.resized, fmt.Sprintf("%s: %s", u.Name, u.Message))
			}
			continue
		case apierrors.IsConflict(err):
			done.stale = true
		default:
			errs = append(errs, err)
			recordAction("update", string(u.Kind), "Error")
		}
		if u.Kind == plan.KindPodGroup {
			unresized[u.Unit] = true
		}
	}
	for _, d := range p.Deletes {
		if d.Reason == plan.ReasonRoleScaleDown && unresized[d.Unit] {
			// Its PodGroup still names the instance: deleted now, it
			// would be judged lost and the unit recreated.
			continue
		}
		if err := r.delete(ctx, sg.Namespace, d); err != nil {
			errs = append(errs, err)
			recordAction("delete", string(d.Kind), "Error")
			continue
		}
		r.expect.expectDelete(key, string(d.Kind), d.Name, d.UID, now)
		recordAction("delete", string(d.Kind), string(d.Reason))
		done.deleted[string(d.Reason)] = append(done.deleted[string(d.Reason)], fmt.Sprintf("%s %s", d.Kind, d.Name))
	}
	return done, errors.Join(errs...)
}

// update merge-patches the labels and annotations of u into the object,
// with the resourceVersion the plan read: a newer object refuses it
// (Conflict).
func (r *Reconciler) update(ctx context.Context, namespace string, u plan.Update) error {
	var obj client.Object
	switch u.Kind {
	case plan.KindPod:
		obj = &corev1.Pod{}
	case plan.KindPodGroup:
		obj = &schedv1beta1.PodGroup{}
	default:
		return fmt.Errorf("update %s %s: unknown kind", u.Kind, u.Name)
	}
	obj.SetNamespace(namespace)
	obj.SetName(u.Name)
	meta := map[string]any{"resourceVersion": u.ResourceVersion}
	// Only present keys: null in a merge patch would delete the whole map.
	if len(u.Labels) > 0 {
		meta["labels"] = u.Labels
	}
	if len(u.Annotations) > 0 {
		meta["annotations"] = u.Annotations
	}
	patch, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return fmt.Errorf("update %s %s: %w", u.Kind, u.Name, err)
	}
	if err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("update %s %s: %w", u.Kind, u.Name, err)
	}
	return nil
}

func (r *Reconciler) delete(ctx context.Context, namespace string, d plan.Deletion) error {
	var obj client.Object
	switch d.Kind {
	case plan.KindPod:
		obj = &corev1.Pod{}
	case plan.KindService:
		obj = &corev1.Service{}
	case plan.KindPodGroup:
		obj = &schedv1beta1.PodGroup{}
	default:
		return fmt.Errorf("delete %s %s: unknown kind", d.Kind, d.Name)
	}
	obj.SetNamespace(namespace)
	obj.SetName(d.Name)
	opts := []client.DeleteOption{client.PropagationPolicy(metav1.DeletePropagationBackground)}
	if d.UID != "" {
		opts = append(opts, client.Preconditions{UID: &d.UID})
	}
	err := r.Client.Delete(ctx, obj, opts...)
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Conflict: the UID precondition failed, the object under this
		// name is a newer one the plan did not mean.
		return nil
	}
	return fmt.Errorf("delete %s %s: %w", d.Kind, d.Name, err)
}

// emit sends one event per kind of change.
func (a applied) emit(rec record.EventRecorder, sg *v1alpha1.ServingGroup) {
	if len(a.createdUnits) > 0 {
		rec.Eventf(sg, corev1.EventTypeNormal, "CreatedUnits", "Created units %s", strings.Join(a.createdUnits, ", "))
	}
	if a.createdPods > 0 {
		rec.Eventf(sg, corev1.EventTypeNormal, "CreatedPods", "Created %d pods", a.createdPods)
	}
	if len(a.resized) > 0 {
		rec.Eventf(sg, corev1.EventTypeNormal, "ResizedUnits", "Resized units in place: %s", summarize(a.resized, 5))
	}
	reasons := make([]string, 0, len(a.deleted))
	for reason := range a.deleted {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	for _, reason := range reasons {
		objs := a.deleted[reason]
		eventType := corev1.EventTypeNormal
		if reason == string(plan.ReasonRecreateUnit) || reason == string(plan.ReasonRecreateInstance) {
			eventType = corev1.EventTypeWarning
		}
		rec.Eventf(sg, eventType, reason, "Deleted %d objects: %s", len(objs), summarize(objs, 5))
	}
}

func summarize(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}
