package plan

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// instanceState is one instance (size pods) of a unit.
type instanceState struct {
	role  *v1alpha1.RoleSpec
	index int32
	pods  []*corev1.Pod // by rank; nil where the pod is missing

	ready       bool    // every pod is running and ready
	terminating bool    // a pod is being deleted: wait for it to go
	toCreate    []int32 // missing ranks that are simply still to be created
	broken      bool
	brokenAt    time.Time // when the earliest failure was noticed
	cause       string    // operator-readable, for conditions

	recreating bool // this plan deletes the instance (RecreateInstance)
}

// evalInstance classifies the instance's pods. Failure times come only from
// API objects, so a restarted controller reaches the same verdict:
//   - a Failed or Succeeded pod failed when its containers finished (an
//     engine that exits has stopped serving, whatever its exit code);
//   - a missing pod was noticed at the newest creation time among the
//     unit's PodGroup and the instance's remaining pods. Within the grace
//     period of that moment it is taken as not yet created (the executor
//     may have been interrupted) and is created; after it, it was lost.
func (p *planner) evalInstance(u *unitState, inst *instanceState) {
	inst.ready = true
	var missing []int32
	var newest time.Time
	if u.podGroup != nil {
		newest = u.podGroup.CreationTimestamp.Time
	}
	for rank, pod := range inst.pods {
		switch {
		case pod == nil:
			missing = append(missing, int32(rank))
			inst.ready = false
			continue
		case pod.DeletionTimestamp != nil:
			inst.terminating = true
			inst.ready = false
			continue
		}
		if t := pod.CreationTimestamp.Time; t.After(newest) {
			newest = t
		}
		if podFinished(pod) {
			inst.fail(failureTime(pod), fmt.Sprintf("pod %s %s", pod.Name, pod.Status.Phase))
		}
		inst.ready = inst.ready && podReady(pod)
	}
	if inst.terminating || len(missing) == 0 {
		return
	}
	p.evalMissing(u, inst, missing, newest)
}

func (p *planner) evalMissing(u *unitState, inst *instanceState, missing []int32, noticed time.Time) {
	// Without a PodGroup the unit is being (re)built: nothing was lost yet.
	if u.podGroup == nil || p.now.Before(noticed.Add(p.grace)) {
		inst.toCreate = missing
		return
	}
	// A wholly absent instance under RecreateInstance is exactly what that
	// policy produces before recreating it; creating it is the recovery.
	// An outdated unit cannot get pods of its old revision, so there the
	// absence counts as a loss and the unit is recreated instead.
	whole := len(missing) == len(inst.pods)
	if whole && p.spec.Recovery.Policy == v1alpha1.RecoverRecreateInstance && !u.outdated {
		inst.toCreate = missing
		return
	}
	names := make([]string, len(missing))
	for i, rank := range missing {
		names[i] = podName(p.sg.Name, u.index, inst.role.Name, inst.index, rank)
	}
	inst.fail(noticed, "pod "+strings.Join(names, ", ")+" missing")
}

func (inst *instanceState) fail(at time.Time, cause string) {
	inst.ready = false
	if !inst.broken || at.Before(inst.brokenAt) {
		inst.brokenAt = at
		inst.cause = cause
	}
	inst.broken = true
}

// podFinished: the pod will never run again.
func podFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// failureTime is when a finished pod stopped: the latest container finish
// time, else when it stopped being ready, else when it started, else when
// it was created.
func failureTime(pod *corev1.Pod) time.Time {
	var latest time.Time
	for _, cs := range pod.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil && t.FinishedAt.After(latest) {
			latest = t.FinishedAt.Time
		}
	}
	if !latest.IsZero() {
		return latest
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return pod.CreationTimestamp.Time
}
