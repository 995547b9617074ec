package plan

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// unitWait gathers the facts of a unit Volcano has not placed and explains
// them. A placed unit (every pod bound, or the gang's minimum scheduled)
// has nothing to explain, whatever stale text its PodGroup still holds.
func (p *planner) unitWait(u *unitState) waitReason {
	pg := u.podGroup
	if pg == nil || u.terminating || u.scheduled ||
		pg.Status.Phase == schedv1beta1.PodGroupRunning || pg.Status.Phase == schedv1beta1.PodGroupCompleted {
		return waitReason{}
	}
	f := waitFacts{podGroup: pg.Name, queue: pg.Spec.Queue, phase: pg.Status.Phase, gang: unschedulableMessage(pg),
		requests: map[string]corev1.ResourceList{}}
	if pg.Spec.MinResources != nil {
		f.demand = *pg.Spec.MinResources
	}
	if nt := pg.Spec.NetworkTopology; nt != nil && nt.HighestTierAllowed != nil {
		f.tier = int32(*nt.HighestTierAllowed)
		f.hard = nt.Mode == schedv1beta1.HardNetworkTopologyMode
	}
	for _, name := range sortedNames(u.pods) {
		pod := u.pods[name]
		if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
			continue
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				f.pods = append(f.pods, podWait{name: name, role: pod.Labels[v1alpha1.LabelRole], message: c.Message})
				f.requests[name] = resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
			}
		}
	}
	return p.keepStable(u, explainWait(f))
}

// keepStable keeps the message the group's status already shows for the
// unit while it still holds. With a hard tier Volcano tries the
// HyperNodes in a new order every session and reports the last one;
// rewriting the status for that alone would churn the API server and the
// operator's screen about once a second while nothing changed.
func (p *planner) keepStable(u *unitState, w waitReason) waitReason {
	for _, prev := range p.sg.Status.Units {
		if prev.Index == u.index && prev.Reason == w.reason && prev.Revision == u.revision &&
			stillSays(prev.Message, w.message) {
			w.message = prev.Message
		}
	}
	return w
}

// scopedParts match the parts of a message that depend on which HyperNode
// Volcano tried last (see describeFit and typeLine).
var scopedParts = []*regexp.Regexp{
	regexp.MustCompile(`in HyperNode \S+, the last Volcano tried: [^)]*`),
	regexp.MustCompile(`in HyperNode \S+ \(the last Volcano tried\) has it \(the nodes have [^;)]*`),
}

// stillSays reports whether the shown message prev may stand for next:
// every part of prev (one per role, for missing accelerator types) is in
// next once the HyperNode-scoped details are set aside. A HyperNode may
// lack more roles' types than another; the message that names fewer
// wins, so the status settles on what holds wherever Volcano looks.
func stillSays(prev, next string) bool {
	parts := func(s string) map[string]bool {
		out := map[string]bool{}
		for i, part := range strings.Split(s, "; role ") {
			if i > 0 {
				part = "role " + part
			}
			for _, re := range scopedParts {
				part = re.ReplaceAllString(part, "in a HyperNode")
			}
			out[part] = true
		}
		return out
	}
	shown, now := parts(prev), parts(next)
	for part := range shown {
		if !now[part] {
			return false
		}
	}
	return true
}

// unschedulableMessage is the message of the PodGroup's Unschedulable
// condition while it holds: True, and not followed by a later Scheduled
// condition (the gang plugin writes one or the other each session and
// never clears the other).
func unschedulableMessage(pg *schedv1beta1.PodGroup) string {
	var unsched, sched *schedv1beta1.PodGroupCondition
	for i := range pg.Status.Conditions {
		switch c := &pg.Status.Conditions[i]; c.Type {
		case schedv1beta1.PodGroupUnschedulableType:
			unsched = c
		case schedv1beta1.PodGroupScheduled:
			sched = c
		}
	}
	if unsched == nil || unsched.Status != corev1.ConditionTrue {
		return ""
	}
	if sched != nil && sched.Status == corev1.ConditionTrue && sched.LastTransitionTime.After(unsched.LastTransitionTime.Time) {
		return ""
	}
	return unsched.Message
}
