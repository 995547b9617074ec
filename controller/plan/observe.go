package plan

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// unitState is one unit as observed, what the planner concluded about it,
// and what it decided.
type unitState struct {
	index    int32
	podGroup *schedv1beta1.PodGroup
	service  *corev1.Service
	pods     map[string]*corev1.Pod
	// extras are pods of the unit that its shape does not name.
	extras []*corev1.Pod

	revision string
	outdated bool // some object is not on the current revision
	// legacy is the current spec's revision as the controller named it
	// before roles[].replicas left the hash (legacyRevision); objects
	// carrying it are current and get their label moved.
	legacy    string
	shape     map[string]int32 // instances per role, as its PodGroup records
	instances []*instanceState

	terminating bool // the PodGroup, or every pod left, is being deleted
	ready       bool // every role has at least minReplicas ready instances
	scheduled   bool // every pod exists and is bound to a node
	broken      bool // some instance failed or lost a pod

	// wait is why Volcano has not placed the unit, when it said so.
	wait waitReason

	deleting DeleteReason // set when this plan deletes the unit
}

// exists reports whether the unit has a PodGroup or a pod. A Service alone
// does not make a unit.
func (u *unitState) exists() bool { return u.podGroup != nil || len(u.pods) > 0 }

// observe sorts the observed objects into units and evaluates each.
func (p *planner) observe(obs Observed) {
	for _, pg := range obs.PodGroups {
		if u := p.unitFor(&pg.ObjectMeta); u != nil {
			u.podGroup = pg
		}
	}
	for _, svc := range obs.Services {
		// Only the Service named after the unit is the unit's.
		if svc.Name != p.sg.Name+"-"+svc.Labels[v1alpha1.LabelUnit] {
			continue
		}
		if u := p.unitFor(&svc.ObjectMeta); u != nil {
			u.service = svc
		}
	}
	for _, pod := range obs.Pods {
		if u := p.unitFor(&pod.ObjectMeta); u != nil {
			u.pods[pod.Name] = pod
		}
	}
	for _, u := range p.units {
		p.evalUnit(u)
	}
}

// unitFor returns the unit an object belongs to by its labels, or nil if it
// is not this group's.
func (p *planner) unitFor(meta *metav1.ObjectMeta) *unitState {
	if meta.Labels[v1alpha1.LabelGroup] != p.sg.Name {
		return nil
	}
	idx, err := strconv.ParseInt(meta.Labels[v1alpha1.LabelUnit], 10, 32)
	if err != nil || idx < 0 {
		return nil
	}
	return p.unit(int32(idx))
}

func (p *planner) unit(idx int32) *unitState {
	u := p.units[idx]
	if u == nil {
		u = &unitState{index: idx, pods: map[string]*corev1.Pod{}}
		p.units[idx] = u
	}
	return u
}

// addMissingUnits makes sure every index below target has a unitState, so
// that absent units flow through the same creation path as partial ones.
func (p *planner) addMissingUnits(target int32) {
	for i := int32(0); i < target; i++ {
		if p.units[i] == nil {
			p.evalUnit(p.unit(i))
		}
	}
}

// evalUnit derives revision, shape, instance health and readiness.
func (p *planner) evalUnit(u *unitState) {
	u.shape = p.unitShape(u)
	u.revision, u.outdated = p.unitRevision(u)
	u.terminating = isTerminating(u)
	u.instances, u.extras = p.instancesOf(u)
	if u.terminating {
		return
	}
	for _, inst := range u.instances {
		p.evalInstance(u, inst)
	}
	p.evalReadiness(u)
	u.wait = p.unitWait(u)
}

// unitRevision returns the unit's revision and whether it is outdated. A
// unit is outdated if any of its live objects carries another revision than
// the current one or its legacy name; the status then shows that older
// revision.
func (p *planner) unitRevision(u *unitState) (string, bool) {
	if legacy := p.legacyRevision(u.shape); legacy != p.revision {
		u.legacy = legacy
	}
	var revs []string
	if pg := u.podGroup; pg != nil && pg.DeletionTimestamp == nil {
		revs = append(revs, pg.Labels[v1alpha1.LabelRevision])
	}
	for _, name := range sortedNames(u.pods) {
		if pod := u.pods[name]; pod.DeletionTimestamp == nil {
			revs = append(revs, pod.Labels[v1alpha1.LabelRevision])
		}
	}
	for _, r := range revs {
		if r != p.revision && (u.legacy == "" || r != u.legacy) {
			return r, true
		}
	}
	if len(revs) == 0 {
		return "", false
	}
	return p.revision, false
}

// legacyRevision is legacyRevision of the group's spec for shape, or "" if
// it cannot be computed (then only the current revision is current).
func (p *planner) legacyRevision(shape map[string]int32) string {
	key := formatShapeOf(p.spec, shape)
	if rev, ok := p.legacy[key]; ok {
		return rev
	}
	rev, err := legacyRevision(&p.sg.Spec, shape)
	if err != nil {
		rev = ""
	}
	p.legacy[key] = rev
	return rev
}

// isTerminating: the unit is on its way out (its PodGroup is being deleted,
// or it has no PodGroup and only terminating pods). Nothing is created for it
// until it is gone; that is how a recreated unit waits for its old pods.
func isTerminating(u *unitState) bool {
	if u.podGroup != nil {
		return u.podGroup.DeletionTimestamp != nil
	}
	if len(u.pods) == 0 {
		return false
	}
	for _, pod := range u.pods {
		if pod.DeletionTimestamp == nil {
			return false
		}
	}
	return true
}

// unitShape is the instances per role the unit's PodGroup records: those it
// was created with, or the last resize's. Without a PodGroup the current
// spec is the best guess.
func (p *planner) unitShape(u *unitState) map[string]int32 {
	value := ""
	if u.podGroup != nil {
		value = u.podGroup.Annotations[v1alpha1.AnnotationRoleReplicas]
	}
	return parseShape(value, p.spec)
}

// instancesOf lays the unit's pods out by role, instance and rank; pods the
// shape does not name are returned as extras.
func (p *planner) instancesOf(u *unitState) ([]*instanceState, []*corev1.Pod) {
	named := map[string]bool{}
	var out []*instanceState
	for i := range p.spec.Roles {
		role := &p.spec.Roles[i]
		for n := int32(0); n < u.shape[role.Name]; n++ {
			inst := p.layoutInstance(u, role, n)
			for _, name := range p.instancePodNames(u, inst) {
				named[name] = true
			}
			out = append(out, inst)
		}
	}
	var extras []*corev1.Pod
	for _, name := range sortedNames(u.pods) {
		if !named[name] {
			extras = append(extras, u.pods[name])
		}
	}
	return out, extras
}

// layoutInstance is instance n of role in the unit, with the pods that
// exist under its names.
func (p *planner) layoutInstance(u *unitState, role *v1alpha1.RoleSpec, n int32) *instanceState {
	inst := &instanceState{role: role, index: n, pods: make([]*corev1.Pod, role.Size)}
	for rank, name := range p.instancePodNames(u, inst) {
		inst.pods[rank] = u.pods[name]
	}
	return inst
}

func (p *planner) instancePodNames(u *unitState, inst *instanceState) []string {
	names := make([]string, inst.role.Size)
	for rank := range names {
		names[rank] = podName(p.sg.Name, u.index, inst.role.Name, inst.index, int32(rank))
	}
	return names
}

// evalReadiness: a unit is ready when every role has at least minReplicas
// ready instances (the gang minimum, not every instance), scheduled when
// every pod of its shape is bound, broken when an instance is.
func (p *planner) evalReadiness(u *unitState) {
	readyByRole := map[string]int32{}
	u.scheduled = true
	for _, inst := range u.instances {
		if inst.ready {
			readyByRole[inst.role.Name]++
		}
		u.broken = u.broken || inst.broken
		for _, pod := range inst.pods {
			if pod == nil || pod.Spec.NodeName == "" {
				u.scheduled = false
			}
		}
	}
	u.ready = true
	for _, r := range p.spec.Roles {
		if readyByRole[r.Name] < min(*r.MinReplicas, u.shape[r.Name]) {
			u.ready = false
		}
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
