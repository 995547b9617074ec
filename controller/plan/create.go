package plan

import (
	"k8s.io/apimachinery/pkg/types"
)

// create adds what is missing for every unit below target that this plan
// keeps: its PodGroup, its Service, and the pods evalInstance marked as
// still to be created. Nothing is created for a unit on its way out, for an
// instance whose old pods are still terminating (their names are taken), or
// for an outdated unit (pods are only ever built from the current spec).
func (p *planner) create(target int32) {
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx >= target || u.terminating || u.deleting != "" {
			continue
		}
		if u.podGroup == nil {
			p.plan.PodGroups = append(p.plan.PodGroups, p.buildPodGroup(idx))
		}
		if u.service == nil {
			p.plan.Services = append(p.plan.Services, p.buildService(idx))
		}
		if u.outdated {
			continue
		}
		for _, inst := range u.instances {
			if inst.terminating || inst.recreating {
				continue
			}
			for _, rank := range inst.toCreate {
				p.plan.Pods = append(p.plan.Pods, p.buildPod(idx, podSlot{role: inst.role, instance: inst.index, rank: rank}))
			}
		}
	}
}

// removeStrays deletes pods of current units that the unit's shape does not
// name (left over from an older shape, or made by hand with our labels).
// Outdated units keep theirs: the rollout replaces the whole unit anyway.
func (p *planner) removeStrays(target int32) {
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx >= target || u.outdated || u.deleting != "" {
			continue
		}
		for _, pod := range u.extras {
			if pod.DeletionTimestamp == nil {
				p.deletePod(u, pod.Name, pod.UID, ReasonNotInSpec)
			}
		}
	}
}

// deleteUnit deletes the unit's live pods, then its PodGroup, then (unless
// the unit comes back under the same name) its Service.
func (p *planner) deleteUnit(u *unitState, reason DeleteReason, keepService bool) {
	u.deleting = reason
	for _, name := range sortedNames(u.pods) {
		if pod := u.pods[name]; pod.DeletionTimestamp == nil {
			p.deletePod(u, name, pod.UID, reason)
		}
	}
	if pg := u.podGroup; pg != nil && pg.DeletionTimestamp == nil {
		p.addDelete(KindPodGroup, pg.Name, pg.UID, u.index, reason)
	}
	if svc := u.service; svc != nil && !keepService && svc.DeletionTimestamp == nil {
		p.addDelete(KindService, svc.Name, svc.UID, u.index, reason)
	}
}

func (p *planner) deletePod(u *unitState, name string, uid types.UID, reason DeleteReason) {
	p.addDelete(KindPod, name, uid, u.index, reason)
}

func (p *planner) addDelete(kind Kind, name string, uid types.UID, unit int32, reason DeleteReason) {
	p.plan.Deletes = append(p.plan.Deletes, Deletion{Kind: kind, Name: name, UID: uid, Unit: unit, Reason: reason})
}
