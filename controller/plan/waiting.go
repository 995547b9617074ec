package plan

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// waitFacts is what the planner knows about a unit that Volcano has not
// placed: what Volcano wrote on the unit's PodGroup and pods, and the
// unit's own demand, read from its PodGroup (so it matches the unit's
// revision, not a newer spec).
type waitFacts struct {
	podGroup string
	queue    string
	phase    schedv1beta1.PodGroupPhase
	// gang is the message of the PodGroup's Unschedulable condition, or ""
	// when there is none (or a later Scheduled condition replaced it).
	gang string
	// pods are the unbound pods whose PodScheduled condition Volcano set to
	// False with reason Unschedulable, sorted by name.
	pods []podWait
	// tier is the unit's highest HyperNode tier (0: no unit tier); hard
	// says the scheduler must keep it.
	tier int32
	hard bool
	// demand is the gang minimum's resources (the PodGroup's minResources).
	demand corev1.ResourceList
}

type podWait struct {
	name, role, message string
}

// waitReason is a unit's UnitStatus reason and message; zero when there
// is nothing to say.
type waitReason struct {
	reason, message string
}

// roleFit is one fit report and the role whose pod it is about ("" when
// unknown). raw holds text that is not a FitErrors message.
type roleFit struct {
	role string
	fit  fitText
	raw  string
}

// explainWait turns Volcano's text into an operator's words. The most
// actionable cause wins: a queue that has not admitted the gang, then an
// accelerator type no node offers (more hardware of the wrong kind would
// not help), then a resource the unit's tier cannot hold, then any other
// per-node reason, and last Volcano's gang message as it is.
func explainWait(f waitFacts) waitReason {
	if f.phase == schedv1beta1.PodGroupPending && f.gang != "" {
		return waitReason{v1alpha1.UnitWaitingForQueue, fmt.Sprintf(
			"queue %s has not admitted the unit's PodGroup yet; Volcano's events on PodGroup %s say why", f.queue, f.podGroup)}
	}
	fits := f.fitReports()
	for _, explain := range []func([]roleFit) (waitReason, bool){typeUnavailable, f.insufficient, otherFit} {
		if r, ok := explain(fits); ok {
			return r
		}
	}
	if f.gang != "" {
		return waitReason{v1alpha1.UnitUnschedulable, "Volcano cannot place the gang: " + f.gang}
	}
	return waitReason{}
}

// fitReports collects the distinct fit texts Volcano left: each pod's own,
// and the origin task's quoted in job-wide messages, attributed to a role
// through the pod they name.
func (f waitFacts) fitReports() []roleFit {
	roles := map[string]string{}
	for _, p := range f.pods {
		roles[p.name] = p.role
	}
	var out []roleFit
	seen := map[[2]string]bool{}
	add := func(role, text string) {
		if text == "" || seen[[2]string{role, text}] {
			return
		}
		seen[[2]string{role, text}] = true
		fit, ok := parseFit(text)
		if !ok {
			out = append(out, roleFit{role: role, raw: text})
			return
		}
		out = append(out, roleFit{role: role, fit: fit})
	}
	for _, p := range f.pods {
		switch {
		case waitsForGang(p.message):
		case isJobText(p.message):
			job := parseJob(p.message)
			add(roles[job.originTask], job.origin)
		default:
			add(p.role, p.message)
		}
	}
	if g, ok := parseGang(f.gang); ok {
		add(roles[g.job.originTask], g.job.origin)
	}
	return out
}

// typeUnavailable: some role's pods found no node of their accelerator
// type. Nodes short of free resources fail Volcano's resource check
// before Tandem's type check runs, so they are counted apart: the type may
// exist there, but not with room.
func typeUnavailable(fits []roleFit) (waitReason, bool) {
	var lines []string
	done := map[string]bool{}
	for _, rf := range fits {
		line, role := typeLine(rf.fit)
		if line == "" || done[role] {
			continue
		}
		done[role] = true
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return waitReason{}, false
	}
	return waitReason{v1alpha1.UnitAcceleratorTypeUnavailable, strings.Join(lines, "; ")}, true
}

// typeLine explains one fit report made only of accelerator mismatches
// (and resource shortages), or returns "".
func typeLine(f fitText) (line, role string) {
	var m mismatch
	var have []string
	short := map[string]int{}
	for _, r := range f.reasons {
		if mm, ok := parseMismatch(r.text); ok && (m.role == "" || mm.role == m.role) {
			m = mm
			have = append(have, mm.have)
			continue
		}
		res, ok := insufficientResource(r.text)
		if !ok {
			return "", ""
		}
		short[res] += r.count
	}
	if m.role == "" {
		return "", ""
	}
	slices.Sort(have)
	where := "no node"
	if f.hyperNode != "" {
		where = "no node in HyperNode " + f.hyperNode
	}
	if len(short) > 0 {
		where += " with room"
	}
	line = fmt.Sprintf("role %s needs accelerator %s; %s has it (%s: %s", m.role, m.want, where, m.label, strings.Join(slices.Compact(have), ", "))
	for _, res := range sortedNames(short) {
		line += fmt.Sprintf("; %s too little free %s", nodesHave(short[res]), res)
	}
	return line + ")", m.role
}

// insufficient: a node check failed for lack of a resource. Volcano says
// only that the pods it tried did not fit; the tier and the demand come
// from the unit's PodGroup. Free amounts are not in Volcano's text and
// are not guessed.
func (f waitFacts) insufficient(fits []roleFit) (waitReason, bool) {
	for _, rf := range fits {
		for _, r := range rf.fit.reasons {
			res, ok := insufficientResource(r.text)
			if !ok {
				continue
			}
			need := "needs more " + res + " than is free"
			if q, ok := f.demand[corev1.ResourceName(res)]; ok {
				need = fmt.Sprintf("needs %s %s", q.String(), res)
			}
			var msg string
			if f.tier > 0 && f.hard {
				msg = fmt.Sprintf("%s inside one tier-%d HyperNode; none has room for it", need, f.tier)
			} else {
				msg = need + "; the cluster has no room for it"
			}
			return waitReason{v1alpha1.UnitInsufficientResources, fmt.Sprintf("%s (%s)", msg, describeFit(rf.fit))}, true
		}
	}
	return waitReason{}, false
}

// otherFit quotes the first remaining per-node report, naming its role.
func otherFit(fits []roleFit) (waitReason, bool) {
	for _, rf := range fits {
		who := "pods"
		if rf.role != "" {
			who = "role " + rf.role
		}
		if rf.raw != "" {
			return waitReason{v1alpha1.UnitUnschedulable, fmt.Sprintf("%s: %s", who, rf.raw)}, true
		}
		if len(rf.fit.reasons) > 0 {
			return waitReason{v1alpha1.UnitUnschedulable, fmt.Sprintf("%s fit no node (%s)", who, describeFit(rf.fit))}, true
		}
	}
	return waitReason{}, false
}

// describeFit renders a fit report: where Volcano looked and what the
// nodes said, e.g. "in HyperNode rack-2: 4 of 4 nodes Insufficient
// nvidia.com/gpu".
func describeFit(f fitText) string {
	var parts []string
	for _, r := range f.reasons {
		parts = append(parts, fmt.Sprintf("%d of %d nodes %s", r.count, f.nodes, r.text))
	}
	s := strings.Join(parts, ", ")
	if f.hyperNode != "" {
		s = "in HyperNode " + f.hyperNode + ": " + s
	}
	return s
}

// unitWait gathers the facts of a unit Volcano has not placed and explains
// them. A placed unit (every pod bound, or the gang's minimum scheduled)
// has nothing to explain, whatever stale text its PodGroup still holds.
func (p *planner) unitWait(u *unitState) waitReason {
	pg := u.podGroup
	if pg == nil || u.terminating || u.scheduled ||
		pg.Status.Phase == schedv1beta1.PodGroupRunning || pg.Status.Phase == schedv1beta1.PodGroupCompleted {
		return waitReason{}
	}
	f := waitFacts{podGroup: pg.Name, queue: pg.Spec.Queue, phase: pg.Status.Phase, gang: unschedulableMessage(pg)}
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
			}
		}
	}
	return explainWait(f)
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

func nodesHave(n int) string {
	if n == 1 {
		return "1 node has"
	}
	return fmt.Sprintf("%d nodes have", n)
}
