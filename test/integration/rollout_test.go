package integration

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// unitRevisions maps unit index to the set of revisions its live pods carry.
func (e *env) unitRevisions() map[string][]string {
	out := map[string][]string{}
	for _, p := range e.pods() {
		if p.DeletionTimestamp != nil {
			continue
		}
		u, rev := p.Labels[v1alpha1.LabelUnit], p.Labels[v1alpha1.LabelRevision]
		if len(out[u]) == 0 || out[u][len(out[u])-1] != rev {
			out[u] = append(out[u], rev)
		}
	}
	return out
}

// notReadyUnits counts units below replicas with a missing or unready pod.
func (e *env) notReadyUnits(replicas int, podsPerUnit int) int {
	ready := map[string]int{}
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil && isReady(&p) {
			ready[p.Labels[v1alpha1.LabelUnit]]++
		}
	}
	n := 0
	for u := 0; u < replicas; u++ {
		if ready[fmt.Sprint(u)] < podsPerUnit {
			n++
		}
	}
	return n
}

// rollToCompletion plays kubelet through a rollout: it readies new pods as
// they appear and checks that no more than maxUnavailable units are ever
// down at once, until every unit at or above partition has revision want.
func (e *env) rollToCompletion(name string, replicas, podsPerUnit, maxUnavailable int, want string, partition int) {
	e.t.Helper()
	worst := 0
	e.eventually("rollout completes", func() error {
		if n := e.notReadyUnits(replicas, podsPerUnit); n > worst {
			worst = n
		}
		e.readyAll()
		revs := e.unitRevisions()
		for u := partition; u < replicas; u++ {
			if diff := cmp.Diff([]string{want}, revs[fmt.Sprint(u)]); diff != "" {
				return fmt.Errorf("unit %d revisions (-want +got):\n%s", u, diff)
			}
		}
		return wantCondition(e.get(name), v1alpha1.ConditionAvailable, true)
	})
	if worst > maxUnavailable {
		e.t.Errorf("%d units were unavailable at once, maxUnavailable is %d", worst, maxUnavailable)
	}
}

func TestRolloutRespectsMaxUnavailableAndPartition(t *testing.T) {
	e := newEnv(t)
	e.create(testutil.MakeServingGroup("roll").Namespace(e.ns).Replicas(4).Rollout(1, 0).
		Role(testutil.MakeRole("engine").GPU(1).Obj()))
	e.eventually("4 units", func() error { return wantCount(e.pods(), 4) })
	e.readyAll()
	e.eventually("Available", func() error { return wantCondition(e.get("roll"), v1alpha1.ConditionAvailable, true) })
	old := e.unitRevisions()["0"][0]

	e.update("roll", func(sg *v1alpha1.ServingGroup) {
		sg.Spec.Rollout.Partition = 1
		sg.Spec.Roles[0].Template.Spec.Containers[0].Image = "vllm:v2"
	})
	e.eventually("new revision recorded", func() error {
		if sg := e.get("roll"); sg.Status.ObservedGeneration != sg.Generation {
			return fmt.Errorf("status not observed yet: %s", describe(sg))
		}
		return nil
	})
	var current string
	e.eventually("a unit on the new revision", func() error {
		e.readyAll()
		for u, revs := range e.unitRevisions() {
			if u != "0" && len(revs) == 1 && revs[0] != old {
				current = revs[0]
				return nil
			}
		}
		return fmt.Errorf("no unit moved yet: %v", e.unitRevisions())
	})
	e.rollToCompletion("roll", 4, 1, 1, current, 1)
	if diff := cmp.Diff([]string{old}, e.unitRevisions()["0"]); diff != "" {
		t.Errorf("unit 0 is below the partition and must keep its revision (-want +got):\n%s", diff)
	}
	sg := e.get("roll")
	if sg.Status.UpdatedReplicas != 3 {
		t.Errorf("updatedReplicas = %d, want 3 (units 1-3): %s", sg.Status.UpdatedReplicas, describe(sg))
	}
	for _, p := range e.pods() {
		if p.Labels[v1alpha1.LabelRevision] == current && p.Spec.Containers[0].Image != "vllm:v2" {
			t.Errorf("pod %s on the new revision runs %s", p.Name, p.Spec.Containers[0].Image)
		}
	}
}

// TestRestartMidRolloutConverges stops the controller in the middle of a
// rollout and starts a fresh one (empty memory, new cache): it must finish
// the rollout with exactly one pod per slot.
func TestRestartMidRolloutConverges(t *testing.T) {
	e := newEnv(t)
	e.create(testutil.MakeServingGroup("again").Namespace(e.ns).Replicas(3).Rollout(1, 0).
		Role(testutil.MakeRole("engine").Size(2).GPU(8).Obj()))
	e.eventually("3 units of 2 pods", func() error { return wantCount(e.pods(), 6) })
	e.readyAll()
	e.eventually("Available", func() error { return wantCondition(e.get("again"), v1alpha1.ConditionAvailable, true) })
	old := e.unitRevisions()["0"][0]

	e.update("again", func(sg *v1alpha1.ServingGroup) { sg.Spec.Roles[0].Template.Spec.Containers[0].Image = "vllm:v2" })
	e.eventually("rollout under way", func() error {
		for _, revs := range e.unitRevisions() {
			if len(revs) == 1 && revs[0] != old {
				return nil
			}
		}
		if len(podNames(e.pods())) < 6 {
			return nil // a unit was deleted for replacement
		}
		return fmt.Errorf("nothing replaced yet")
	})
	e.stopController()
	e.startController()

	var current string
	e.eventually("new revision", func() error {
		e.readyAll()
		for _, revs := range e.unitRevisions() {
			if len(revs) == 1 && revs[0] != old {
				current = revs[0]
				return nil
			}
		}
		return fmt.Errorf("no unit on a new revision")
	})
	e.rollToCompletion("again", 3, 2, 1, current, 0)
	want := []string{
		"again-0-engine-0-0", "again-0-engine-0-1", "again-1-engine-0-0",
		"again-1-engine-0-1", "again-2-engine-0-0", "again-2-engine-0-1",
	}
	if diff := cmp.Diff(want, podNames(e.pods())); diff != "" {
		t.Errorf("pods after restart and rollout (-want +got):\n%s", diff)
	}
	if n := len(e.podGroups()); n != 3 {
		t.Errorf("%d PodGroups, want 3", n)
	}
	for _, p := range e.pods() {
		if p.Status.Phase == corev1.PodFailed {
			t.Errorf("pod %s failed", p.Name)
		}
	}
}
