package integration

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// TestUnschedulableUnitSaysWhy plays Volcano: it writes, on a unit's
// PodGroup and pods, what the gang plugin and the scheduler cache write
// for a gang that does not fit in its tier, and expects the ServingGroup
// to carry the reason in the unit's status and the Progressing condition;
// once the PodGroup runs, the reason goes away.
func TestUnschedulableUnitSaysWhy(t *testing.T) {
	e := newEnv(t)
	e.create(testutil.MakeServingGroup("big").Namespace(e.ns).Replicas(1).Topology(0, 2, v1alpha1.TopologyHard).
		Role(testutil.MakeRole("engine").Replicas(5).GPU(8).Obj()))
	e.eventually("pods created", func() error {
		if n := len(podNames(e.pods())); n != 5 {
			return fmt.Errorf("%d pods, want 5", n)
		}
		return nil
	})

	const fit = "In hyperNode rack-2: 0/4 nodes are unavailable: 4 Insufficient nvidia.com/gpu."
	e.updatePodGroup("big-0", func(pg *schedv1beta1.PodGroup) {
		pg.Status.Phase = schedv1beta1.PodGroupInqueue
		pg.Status.Conditions = []schedv1beta1.PodGroupCondition{{
			Type: schedv1beta1.PodGroupUnschedulableType, Status: corev1.ConditionTrue, TransitionID: "session-1",
			LastTransitionTime: metav1.Now(), Reason: schedv1beta1.NotEnoughResourcesReason,
			Message: "5/5 tasks in gang unschedulable: pod group is not ready, 5 Pending, 5 minAvailable; " +
				"Pending: 5 Unschedulable. Origin reason is big-0-engine-4-0: " + fit,
		}}
	})
	e.setPodScheduled("big-0-engine-4-0", corev1.PodReasonUnschedulable, fit)

	want := "needs 40 nvidia.com/gpu inside one tier-2 HyperNode; none has room for it " +
		"(role engine asks 8 per pod; in HyperNode rack-2, the last Volcano tried: 4 of 4 nodes Insufficient nvidia.com/gpu)"
	e.eventually("the unit says why it waits", func() error {
		sg := e.get("big")
		if len(sg.Status.Units) != 1 {
			return fmt.Errorf("units %+v", sg.Status.Units)
		}
		u := sg.Status.Units[0]
		if u.Reason != v1alpha1.UnitInsufficientResources || u.Message != want {
			return fmt.Errorf("unit 0 reason %q message %q, want %q %q", u.Reason, u.Message, v1alpha1.UnitInsufficientResources, want)
		}
		c := condition(sg, v1alpha1.ConditionProgressing)
		if c == nil || c.Reason != v1alpha1.ReasonUnitsUnschedulable || c.Message != "unit 0: "+want || c.ObservedGeneration != sg.Generation {
			return fmt.Errorf("Progressing %+v, want UnitsUnschedulable %q at generation %d", c, "unit 0: "+want, sg.Generation)
		}
		return nil
	})

	// Volcano placed the gang: phase Running, a Scheduled condition after
	// the Unschedulable one, which it leaves in place.
	e.updatePodGroup("big-0", func(pg *schedv1beta1.PodGroup) {
		pg.Status.Phase = schedv1beta1.PodGroupRunning
		pg.Status.Conditions = append(pg.Status.Conditions, schedv1beta1.PodGroupCondition{
			Type: schedv1beta1.PodGroupScheduled, Status: corev1.ConditionTrue, TransitionID: "session-2",
			LastTransitionTime: metav1.Now(), Reason: "tasks in gang are ready to be scheduled",
		})
	})
	e.eventually("the reason is cleared once the unit is placed", func() error {
		sg := e.get("big")
		if u := sg.Status.Units[0]; u.Reason != "" || u.Message != "" {
			return fmt.Errorf("unit 0 still says %s: %s", u.Reason, u.Message)
		}
		if c := condition(sg, v1alpha1.ConditionProgressing); c == nil || c.Reason != v1alpha1.ReasonUnitsStarting {
			return fmt.Errorf("Progressing %+v, want UnitsStarting", c)
		}
		return nil
	})
}

// updatePodGroup changes a PodGroup, status included: Volcano's CRD has
// no status subresource, so the scheduler writes status with the object.
func (e *env) updatePodGroup(name string, mutate func(*schedv1beta1.PodGroup)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pg := &schedv1beta1.PodGroup{}
		if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, pg); err != nil {
			return err
		}
		mutate(pg)
		return e.c.Update(e.ctx, pg)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// setPodScheduled writes the PodScheduled=False condition Volcano's
// scheduler cache sets on a pod it could not place.
func (e *env) setPodScheduled(name, reason, message string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, pod); err != nil {
		e.t.Fatal(err)
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
		Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: message, LastTransitionTime: metav1.Now(),
	})
	if err := e.c.Status().Update(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
}
