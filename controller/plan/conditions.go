package plan

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// conditions updates the group's existing conditions. LastTransitionTime
// moves only when a status flips (meta.SetStatusCondition keeps the old
// time otherwise), so repeated plans of an unchanged world agree.
func (p *planner) conditions(st *v1alpha1.ServingGroupStatus, target int32) []metav1.Condition {
	out := make([]metav1.Condition, 0, 3)
	for _, c := range p.sg.Status.Conditions {
		out = append(out, *c.DeepCopy())
	}
	for _, c := range []metav1.Condition{p.available(st), p.progressing(target), p.degraded(target)} {
		c.ObservedGeneration = p.sg.Generation
		c.LastTransitionTime = metav1.NewTime(p.now)
		meta.SetStatusCondition(&out, c)
	}
	return out
}

// available: enough units are ready to serve, by the same rule a rollout
// keeps: readyReplicas >= replicas - maxUnavailable, but at least one, so
// `kubectl wait --for=condition=Available` on a new group waits for a unit.
func (p *planner) available(st *v1alpha1.ServingGroupStatus) metav1.Condition {
	replicas := *p.spec.Replicas
	if replicas == 0 {
		return cond(v1alpha1.ConditionAvailable, true, v1alpha1.ReasonScaledToZero, "spec.replicas is 0")
	}
	need := max(1, replicas-p.maxUnavailable)
	msg := fmt.Sprintf("%d of %d units ready, %d needed", st.ReadyReplicas, replicas, need)
	if st.ReadyReplicas >= need {
		return cond(v1alpha1.ConditionAvailable, true, v1alpha1.ReasonMinimumUnitsReady, msg)
	}
	return cond(v1alpha1.ConditionAvailable, false, v1alpha1.ReasonNotEnoughUnitsReady, msg)
}

// progressing: units are being replaced, removed or started. It turns False
// when there is nothing left to do (Complete) or only failed units remain,
// which are Degraded's business (BlockedByFailure).
func (p *planner) progressing(target int32) metav1.Condition {
	replicas, partition := *p.spec.Replicas, p.spec.Rollout.Partition
	var outdated, excess, starting, failed, held []int32
	var waiting []string // why the units Volcano has not placed wait
	unplaced := map[int32]bool{}
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx < replicas && u.wait.reason != "" && u.deleting == "" && !u.terminating {
			waiting = append(waiting, fmt.Sprintf("unit %d: %s", idx, u.wait.message))
			unplaced[idx] = true
		}
		switch {
		case idx >= replicas:
			if u.exists() {
				excess = append(excess, idx)
			}
		case u.exists() && u.outdated && idx >= partition:
			outdated = append(outdated, idx)
		case u.broken && !u.ready && u.deleting == "" && !u.terminating:
			failed = append(failed, idx)
		case !u.exists() || u.terminating || u.deleting != "" || !u.ready:
			starting = append(starting, idx)
		case u.outdated:
			held = append(held, idx)
		}
	}
	c := v1alpha1.ConditionProgressing
	switch {
	case len(outdated) > 0:
		msg := fmt.Sprintf("units %v are not on revision %s yet", outdated, p.revision)
		if len(waiting) > 0 {
			msg += "; " + summarize(waiting)
		}
		return cond(c, true, v1alpha1.ReasonRollingOut, msg)
	case len(excess) > 0:
		return cond(c, true, v1alpha1.ReasonScalingDown, fmt.Sprintf("removing units %v", excess))
	case len(waiting) > 0:
		msg := summarize(waiting)
		if rest := slices.DeleteFunc(starting, func(i int32) bool { return unplaced[i] }); len(rest) > 0 {
			msg += fmt.Sprintf("; units %v are not ready yet", rest)
		}
		return cond(c, true, v1alpha1.ReasonUnitsUnschedulable, msg)
	case len(starting) > 0:
		return cond(c, true, v1alpha1.ReasonUnitsStarting, fmt.Sprintf("units %v are not ready yet", starting))
	case len(failed) > 0:
		return cond(c, false, v1alpha1.ReasonBlockedByFailure, fmt.Sprintf("units %v failed; see the Degraded condition", failed))
	}
	msg := fmt.Sprintf("all %d units are ready", replicas)
	if len(held) > 0 {
		msg += fmt.Sprintf("; units %v below partition %d keep their revision", held, partition)
	}
	return cond(c, false, v1alpha1.ReasonComplete, msg)
}

// degraded: some unit below target failed or lost a pod. The reason says
// what happens next: Recovering (this plan deletes it), RecoveryPending
// (waiting out the grace period) or RecoveryDisabled (policy None).
func (p *planner) degraded(target int32) metav1.Condition {
	var recovering, pending []string
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx >= target || !u.broken || u.terminating {
			continue
		}
		for _, inst := range u.instances {
			if !inst.broken {
				continue
			}
			line := fmt.Sprintf("unit %d: %s", idx, inst.cause)
			if inst.recreating || u.deleting != "" {
				recovering = append(recovering, line)
			} else {
				pending = append(pending, line)
			}
		}
	}
	c := v1alpha1.ConditionDegraded
	policy := p.spec.Recovery.Policy
	switch {
	case len(recovering)+len(pending) == 0:
		return cond(c, false, v1alpha1.ReasonAllUnitsHealthy, "no failed or lost pods")
	case policy == v1alpha1.RecoverNone:
		return cond(c, true, v1alpha1.ReasonRecoveryDisabled, summarize(pending)+
			"; recovery policy None: delete the unit's pods and PodGroup to recreate it")
	case len(recovering) > 0:
		return cond(c, true, v1alpha1.ReasonRecovering, fmt.Sprintf("%s (%s)", summarize(recovering), policy))
	}
	return cond(c, true, v1alpha1.ReasonRecoveryPending,
		fmt.Sprintf("%s; %s after the %s grace period", summarize(pending), policy, p.grace))
}

func cond(typ string, status bool, reason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg}
}

// summarize joins up to three items and counts the rest, to keep
// condition messages short with many units.
func summarize(items []string) string {
	const show = 3
	if len(items) <= show {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:show], "; "), len(items)-show)
}
