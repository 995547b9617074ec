package plan

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// HyperNodeAnnotation is where Volcano's scheduler records, on a PodGroup,
// the HyperNode it placed the gang in (volcano.sh/volcano
// pkg/scheduler/api.JobAllocatedHyperNode; copied to keep the scheduler out
// of the controller's imports). The unit's hyperNode is read from it rather
// than from node labels: it is the scheduler's own decision, one value per
// unit, and it exists before pods start.
const HyperNodeAnnotation = "volcano.sh/job-allocated-hypernode"

// status describes the observed units with this plan's decisions applied:
// units the plan deletes count as Terminating, units it creates appear as
// Pending but are not counted until they exist.
func (p *planner) status(target int32) v1alpha1.ServingGroupStatus {
	st := v1alpha1.ServingGroupStatus{
		ObservedGeneration: p.sg.Generation,
		UpdateRevision:     p.revision,
		Selector:           labels.SelectorFromSet(labels.Set{v1alpha1.LabelGroup: p.sg.Name}).String(),
	}
	readyByRole := map[string]int32{}
	for _, idx := range sortedKeys(p.units) {
		u := p.units[idx]
		if !u.exists() && idx >= target {
			continue
		}
		st.Units = append(st.Units, p.unitStatus(u))
		if !u.exists() || u.terminating || u.deleting != "" {
			continue
		}
		st.Replicas++
		if u.ready {
			st.ReadyReplicas++
		}
		if !u.outdated {
			st.UpdatedReplicas++
		}
		for _, inst := range u.instances {
			if inst.ready && !inst.recreating {
				readyByRole[inst.role.Name]++
			}
		}
	}
	for _, r := range p.spec.Roles {
		st.Roles = append(st.Roles, v1alpha1.RoleStatus{Name: r.Name, ReadyInstances: readyByRole[r.Name]})
	}
	st.Conditions = p.conditions(&st, target)
	return st
}

func (p *planner) unitStatus(u *unitState) v1alpha1.UnitStatus {
	us := v1alpha1.UnitStatus{Index: u.index, Phase: unitPhase(u), Revision: u.revision}
	if !u.exists() {
		us.Revision = p.revision // about to be created from the current spec
	}
	if u.podGroup != nil {
		us.HyperNode = u.podGroup.Annotations[HyperNodeAnnotation]
	}
	if !u.terminating && u.deleting == "" {
		us.Reason, us.Message = u.wait.reason, u.wait.message
	}
	return us
}

// unitPhase is the most urgent thing to say about a unit. Failed comes
// before Ready: a unit above its role minimums still serves, and is counted
// in readyReplicas, but an operator should see that it lost a pod.
func unitPhase(u *unitState) v1alpha1.UnitPhase {
	switch {
	case u.terminating || u.deleting != "":
		return v1alpha1.UnitTerminating
	case u.broken:
		return v1alpha1.UnitFailed
	case u.ready:
		return v1alpha1.UnitReady
	case u.scheduled:
		return v1alpha1.UnitStarting
	default:
		return v1alpha1.UnitPending
	}
}
