package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
	// requests are the effective requests of those pods, by name.
	requests map[string]corev1.ResourceList
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

// said joins what the unit needs (subject) and where Volcano found it
// missing (detail) into a waitReason.
func said(reason, subject, detail string) waitReason {
	return waitReason{reason: reason, message: subject + detail}
}

// roleFit is one fit report and the pod (and its role) it is about, ""
// when unknown. raw holds text that is not a FitErrors message.
type roleFit struct {
	pod, role string
	fit       fitText
	raw       string
}

// explainWait turns Volcano's text into an operator's words. The most
// actionable cause wins: a queue that has not admitted the gang, then an
// accelerator type no node offers (more hardware of the wrong kind would
// not help), then a resource the unit's tier cannot hold, then any other
// per-node reason, and last Volcano's gang message as it is.
func explainWait(f waitFacts) waitReason {
	if f.phase == schedv1beta1.PodGroupPending && f.gang != "" {
		return said(v1alpha1.UnitWaitingForQueue, fmt.Sprintf(
			"queue %s has not admitted the unit's PodGroup yet; Volcano's events on PodGroup %s say why", f.queue, f.podGroup), "")
	}
	fits := f.fitReports()
	for _, explain := range []func([]roleFit) (waitReason, bool){typeUnavailable, f.insufficient, otherFit, f.noHyperNode} {
		if r, ok := explain(fits); ok {
			return r
		}
	}
	if f.gang != "" {
		return said(v1alpha1.UnitUnschedulable, "Volcano cannot place the gang: "+f.gang, "")
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
	add := func(pod, text string) {
		role := roles[pod]
		if text == "" || seen[[2]string{role, text}] {
			return
		}
		seen[[2]string{role, text}] = true
		fit, ok := parseFit(text)
		if !ok {
			out = append(out, roleFit{pod: pod, role: role, raw: text})
			return
		}
		out = append(out, roleFit{pod: pod, role: role, fit: fit})
	}
	for _, p := range f.pods {
		switch {
		case waitsForGang(p.message):
		case isJobText(p.message):
			job := parseJob(p.message)
			add(job.originTask, job.origin)
		default:
			add(p.name, p.message)
		}
	}
	if g, ok := parseGang(f.gang); ok {
		add(g.job.originTask, g.job.origin)
	}
	return out
}

// typeUnavailable: some role's pods found no node of their accelerator
// type. Nodes short of free resources fail Volcano's resource check
// before Tandem's type check runs, so they are counted apart: the type may
// exist there, but not with room.
func typeUnavailable(fits []roleFit) (waitReason, bool) {
	lines := map[string][2]string{} // role: subject, detail
	for _, rf := range fits {
		role, subject, detail := typeLine(rf.fit)
		if _, done := lines[role]; role != "" && !done {
			lines[role] = [2]string{subject, detail}
		}
	}
	roles := sortedNames(lines)
	if len(roles) == 0 {
		return waitReason{}, false
	}
	detail := lines[roles[0]][1]
	for _, role := range roles[1:] {
		detail += "; " + lines[role][0] + lines[role][1]
	}
	return said(v1alpha1.UnitAcceleratorTypeUnavailable, lines[roles[0]][0], detail), true
}

// typeLine explains one fit report made only of accelerator mismatches
// (and resource shortages), or returns role "".
func typeLine(f fitText) (role, subject, detail string) {
	var m mismatch
	var have []string
	short := map[string]int{}
	for _, r := range f.reasons {
		if mm, ok := parseMismatch(r.text); ok && (m.role == "" || mm.role == m.role) {
			m = mm
			if mm.have == "none" { // Tandem's word for a node without the label
				mm.have = "(unset)"
			}
			have = append(have, mm.have)
			continue
		}
		res, ok := insufficientResource(r.text)
		if !ok {
			return "", "", ""
		}
		short[res] += r.count
	}
	if m.role == "" {
		return "", "", ""
	}
	slices.Sort(have)
	where := "no node"
	if len(short) > 0 {
		where += " with room"
	}
	if f.hyperNode != "" {
		where += " in HyperNode " + f.hyperNode + " (the last Volcano tried)"
	}
	detail = fmt.Sprintf("; %s has it (the nodes have %s=%s", where, m.label, strings.Join(slices.Compact(have), ", "))
	for _, res := range sortedNames(short) {
		detail += fmt.Sprintf("; %s too little free %s", nodesHave(short[res]), res)
	}
	return m.role, fmt.Sprintf("role %s needs accelerator %s", m.role, m.want), detail + ")"
}

// insufficient: a node check failed for lack of a resource. Volcano
// checks one pod at a time, after tentatively placing the unit's earlier
// pods, and says only which nodes lacked room for it; the tier, the unit's
// demand and the pod's own request come from the controller's objects.
// Free amounts are not in Volcano's text and are not guessed.
func (f waitFacts) insufficient(fits []roleFit) (waitReason, bool) {
	for _, rf := range fits {
		for _, r := range rf.fit.reasons {
			res, ok := insufficientResource(r.text)
			if !ok {
				continue
			}
			name := corev1.ResourceName(res)
			need := "needs more " + res + " than is free"
			if q, ok := f.demand[name]; ok {
				need = fmt.Sprintf("needs %s %s", q.String(), res)
			}
			subject := need + "; the cluster cannot place it"
			if f.tier > 0 && f.hard {
				subject = fmt.Sprintf("%s inside one tier-%d HyperNode; none has room for it", need, f.tier)
			}
			detail := describeFit(rf.fit)
			if q, ok := f.request(rf.pod, name); ok && rf.role != "" {
				detail = fmt.Sprintf("role %s asks %s per pod; %s", rf.role, q.String(), detail)
			}
			return said(v1alpha1.UnitInsufficientResources, subject, " ("+detail+")"), true
		}
	}
	return waitReason{}, false
}

// request is what the named pod asks of a resource.
func (f waitFacts) request(pod string, name corev1.ResourceName) (resource.Quantity, bool) {
	q, ok := f.requests[pod][name]
	return q, ok
}

// noHyperNode: a hard-tier gang that Volcano judged without trying a single
// node. Its network-topology-aware plugin offers the allocate action only
// the HyperNodes of the allowed tiers whose idle resources cover the
// gang's minResources (pkg/scheduler/plugins/network-topology-aware
// isEligibleHyperNode); when none does, no node is tried and the gang's
// message carries counts but no origin reason.
func (f waitFacts) noHyperNode(fits []roleFit) (waitReason, bool) {
	g, ok := parseGang(f.gang)
	if !ok || len(fits) > 0 || g.job.origin != "" || f.tier == 0 || !f.hard || f.phase != schedv1beta1.PodGroupInqueue {
		return waitReason{}, false
	}
	return said(v1alpha1.UnitInsufficientResources, fmt.Sprintf(
		"needs %s inside one tier-%d HyperNode; none has that much free", demandText(f.demand), f.tier), ""), true
}

// demandText names the gang's accelerators (extended resources, the ones
// with a domain), or its whole minResources when it asks for none.
func demandText(demand corev1.ResourceList) string {
	names := slices.Sorted(maps.Keys(demand))
	var all, extended []string
	for _, name := range names {
		q := demand[name]
		part := q.String() + " " + string(name)
		all = append(all, part)
		if strings.Contains(string(name), "/") {
			extended = append(extended, part)
		}
	}
	switch {
	case len(extended) > 0:
		return strings.Join(extended, " and ")
	case len(all) > 0:
		return strings.Join(all, ", ")
	}
	return "its pods"
}

// otherFit quotes the first remaining per-node report, naming its role.
func otherFit(fits []roleFit) (waitReason, bool) {
	for _, rf := range fits {
		who := "pods"
		if rf.role != "" {
			who = "role " + rf.role
		}
		if rf.raw != "" {
			return said(v1alpha1.UnitUnschedulable, who+": "+rf.raw, ""), true
		}
		if len(rf.fit.reasons) > 0 {
			return said(v1alpha1.UnitUnschedulable, who+" fit no node", " ("+describeFit(rf.fit)+")"), true
		}
	}
	return waitReason{}, false
}

// describeFit renders a fit report: where Volcano looked and what the
// nodes said, e.g. "in HyperNode rack-2, the last Volcano tried: 4 of 4
// nodes Insufficient nvidia.com/gpu".
func describeFit(f fitText) string {
	var parts []string
	for _, r := range f.reasons {
		parts = append(parts, fmt.Sprintf("%d of %d nodes %s", r.count, f.nodes, r.text))
	}
	s := strings.Join(parts, ", ")
	if f.hyperNode != "" {
		s = "in HyperNode " + f.hyperNode + ", the last Volcano tried: " + s
	}
	return s
}

func nodesHave(n int) string {
	if n == 1 {
		return "1 node has"
	}
	return fmt.Sprintf("%d nodes have", n)
}
