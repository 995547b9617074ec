package plan

import (
	"time"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// recover applies the recovery policy to broken units below target. A
// failure becomes due grace after it was noticed (see evalInstance); before
// that the planner only asks to be woken when it is due.
//
//   - RecreateUnit deletes the unit's pods and PodGroup; it is created again,
//     and placed again as one gang, once they are gone.
//   - RecreateInstance deletes the pods of each broken instance; the absent
//     instance is then created again in the same PodGroup. In an outdated
//     unit it recreates the whole unit instead: the old revision's template
//     is not stored anywhere, and mixing revisions inside one gang would
//     pair engines that disagree.
//   - None changes nothing; the status reports the unit as Failed and the
//     group as Degraded until an operator deletes the unit's pods and
//     PodGroup (then the unit is created again) or the pods recover.
func (p *planner) recover(target int32) {
	policy := p.spec.Recovery.Policy
	if policy == v1alpha1.RecoverNone {
		return
	}
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if idx >= target || !u.broken || u.terminating || u.deleting != "" {
			continue
		}
		if policy == v1alpha1.RecoverRecreateInstance && !u.outdated {
			p.recreateInstances(u)
			continue
		}
		if due := firstBroken(u).Add(p.grace); p.now.Before(due) {
			p.requeueAt(due)
			continue
		}
		p.deleteUnit(u, ReasonRecreateUnit, true)
	}
}

func (p *planner) recreateInstances(u *unitState) {
	for _, inst := range u.instances {
		if !inst.broken {
			continue
		}
		if due := inst.brokenAt.Add(p.grace); p.now.Before(due) {
			p.requeueAt(due)
			continue
		}
		inst.recreating = true
		for _, pod := range inst.pods {
			if pod != nil && pod.DeletionTimestamp == nil {
				p.deletePod(u, pod.Name, pod.UID, ReasonRecreateInstance)
			}
		}
	}
}

// firstBroken is when the unit's earliest failure was noticed.
func firstBroken(u *unitState) time.Time {
	var first time.Time
	for _, inst := range u.instances {
		if inst.broken && (first.IsZero() || inst.brokenAt.Before(first)) {
			first = inst.brokenAt
		}
	}
	return first
}
