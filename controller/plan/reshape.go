package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// reshape moves every current unit below target to the spec's instances per
// role in place, and moves the revision label of objects that carry the
// current spec's legacy revision. A role grows by instances added to the
// unit's PodGroup (their pods are created by create; each is its own
// sub-gang above the gang minimum, so nothing that serves restarts) and
// shrinks by deleting its highest instances above the new count, not-ready
// ones first, never below minReplicas. A ready unit shrinks a role only
// when the instances below the new count hold the role's minimum ready, so
// a resize never takes a unit out of service; until then the role keeps
// its instances. Outdated units are left to the rollout, which replaces
// them whole at the current shape.
func (p *planner) reshape(target int32) {
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx >= target || u.podGroup == nil || u.outdated || u.terminating || u.deleting != "" {
			continue
		}
		pg := Update{Kind: KindPodGroup, Name: u.podGroup.Name, Unit: idx, ResourceVersion: u.podGroup.ResourceVersion}
		if u.legacy != "" && u.podGroup.Labels[v1alpha1.LabelRevision] == u.legacy {
			pg.Labels, pg.Reason = map[string]string{v1alpha1.LabelRevision: p.revision}, ReasonRelabel
		}
		p.relabelPods(u)
		if next := p.nextShape(u); !sameShape(next, u.shape) {
			pg.Annotations = map[string]string{v1alpha1.AnnotationRoleReplicas: formatShapeOf(p.spec, next)}
			pg.Reason, pg.Message = ReasonResize, describeResize(p.spec, u.shape, next)
			p.resize(u, next)
		}
		if pg.Reason != "" {
			p.plan.Updates = append(p.plan.Updates, pg)
		}
	}
}

// relabelPods moves the revision label of the unit's live pods from the
// legacy revision to the current one.
func (p *planner) relabelPods(u *unitState) {
	if u.legacy == "" {
		return
	}
	for _, name := range sortedNames(u.pods) {
		pod := u.pods[name]
		if pod.DeletionTimestamp == nil && pod.Labels[v1alpha1.LabelRevision] == u.legacy {
			p.plan.Updates = append(p.plan.Updates, Update{
				Kind: KindPod, Name: name, Unit: u.index, ResourceVersion: pod.ResourceVersion,
				Labels: map[string]string{v1alpha1.LabelRevision: p.revision}, Reason: ReasonRelabel,
			})
		}
	}
}

// nextShape is the shape the unit takes in this plan: the spec's count per
// role, except that a ready unit keeps a role's instances while removing
// the highest would leave fewer than minReplicas ready below the new count.
func (p *planner) nextShape(u *unitState) map[string]int32 {
	next := make(map[string]int32, len(p.spec.Roles))
	for i := range p.spec.Roles {
		r := &p.spec.Roles[i]
		cur, want := u.shape[r.Name], max(r.Replicas, *r.MinReplicas)
		next[r.Name] = want
		if want >= cur || !u.ready {
			continue
		}
		var readyBelow int32
		removesReady := false
		for _, inst := range u.instances {
			if inst.role.Name != r.Name || !inst.ready {
				continue
			}
			if inst.index < want {
				readyBelow++
			} else {
				removesReady = true
			}
		}
		if removesReady && readyBelow < *r.MinReplicas {
			next[r.Name] = cur
		}
	}
	return next
}

// resize applies next to the unit: instances above a role's new count are
// deleted, not-ready ones first, then the highest; instances below it that
// the unit lacks are added with their missing pods still to create (they
// are new, not lost). Pods of added instances that already exist (a resize
// the executor did not finish) are taken in rather than deleted as strays.
func (p *planner) resize(u *unitState, next map[string]int32) {
	var kept, removed []*instanceState
	for _, inst := range u.instances {
		if inst.index < next[inst.role.Name] {
			kept = append(kept, inst)
		} else {
			removed = append(removed, inst)
		}
	}
	sort.SliceStable(removed, func(i, j int) bool {
		a, b := removed[i], removed[j]
		if a.ready != b.ready {
			return !a.ready
		}
		return a.index > b.index
	})
	for _, inst := range removed {
		if inst.recreating {
			continue // its pods are going already
		}
		for _, pod := range inst.pods {
			if pod != nil && pod.DeletionTimestamp == nil {
				p.deletePod(u, pod.Name, pod.UID, ReasonRoleScaleDown)
			}
		}
	}
	taken := map[string]bool{}
	for i := range p.spec.Roles {
		r := &p.spec.Roles[i]
		for n := u.shape[r.Name]; n < next[r.Name]; n++ {
			inst := p.layoutInstance(u, r, n)
			p.evalAddedInstance(inst)
			for _, name := range p.instancePodNames(u, inst) {
				taken[name] = true
			}
			kept = append(kept, inst)
		}
	}
	var extras = u.extras[:0:0]
	for _, pod := range u.extras {
		if !taken[pod.Name] {
			extras = append(extras, pod)
		}
	}
	u.instances, u.extras, u.shape = kept, extras, next
	u.broken = false
	p.evalReadiness(u)
}

// evalAddedInstance classifies an instance the resize adds: its missing
// pods are to be created, a terminating one makes it wait for the name.
func (p *planner) evalAddedInstance(inst *instanceState) {
	inst.ready = true
	var missing []int32
	for rank, pod := range inst.pods {
		switch {
		case pod == nil:
			missing = append(missing, int32(rank))
			inst.ready = false
		case pod.DeletionTimestamp != nil:
			inst.terminating, inst.ready = true, false
		default:
			inst.ready = inst.ready && podReady(pod)
		}
	}
	if !inst.terminating {
		inst.toCreate = missing
	}
}

func sameShape(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// describeResize says what a resize changes, in spec order: "prefill 1 to 3".
func describeResize(spec *v1alpha1.ServingGroupSpec, from, to map[string]int32) string {
	var parts []string
	for _, r := range spec.Roles {
		if from[r.Name] != to[r.Name] {
			parts = append(parts, fmt.Sprintf("%s %d to %d", r.Name, from[r.Name], to[r.Name]))
		}
	}
	return strings.Join(parts, ", ")
}
