package plan

import (
	"sort"
)

// target is the number of unit indices that should exist: replicas, plus
// maxSurge while a rollout is under way. Surge units take the indices right
// above replicas and are created on the current revision. They are kept
// until every unit from partition to replicas-1 is current and ready, then
// removed like any scale down. All of this is derived from the objects, so
// a restarted controller picks the same target.
func (p *planner) target() int32 {
	replicas := *p.spec.Replicas
	if p.maxSurge == 0 {
		return replicas
	}
	if p.rolling() || (p.hasSurgeUnits() && !p.settled()) {
		return replicas + p.maxSurge
	}
	return replicas
}

// rolling: some unit the rollout may replace is not on the current revision.
func (p *planner) rolling() bool {
	for i := p.spec.Rollout.Partition; i < *p.spec.Replicas; i++ {
		if u := p.units[i]; u != nil && u.exists() && u.outdated {
			return true
		}
	}
	return false
}

// settled: every unit the rollout may replace is current and ready.
func (p *planner) settled() bool {
	for i := p.spec.Rollout.Partition; i < *p.spec.Replicas; i++ {
		u := p.units[i]
		if u == nil || !u.exists() || u.outdated || u.terminating || !u.ready {
			return false
		}
	}
	return true
}

func (p *planner) hasSurgeUnits() bool {
	for idx, u := range p.units {
		if idx >= *p.spec.Replicas && u.exists() && !u.terminating {
			return true
		}
	}
	return false
}

// scaleDown deletes every unit at or above target, with its Service. All of
// them go in one plan (the indices to remove are fixed: units are numbered
// 0..replicas-1); the order only decides what an interrupted executor has
// removed first: units that are not ready, then the highest.
func (p *planner) scaleDown(target int32) {
	var excess []*unitState
	for idx, u := range p.units {
		if idx >= target && (u.exists() || u.service != nil) {
			excess = append(excess, u)
		}
	}
	sort.Slice(excess, func(i, j int) bool {
		a, b := excess[i], excess[j]
		if a.ready != b.ready {
			return !a.ready
		}
		return a.index > b.index
	})
	for _, u := range excess {
		p.deleteUnit(u, ReasonScaleDown, false)
	}
}

// rollout replaces outdated units with index in [partition, replicas).
// Units that are not ready are replaced at once: they serve nothing, so
// replacing them costs no availability. Ready ones are replaced highest
// index first while at least replicas-maxUnavailable units stay ready,
// counting ready surge units, which is how maxSurge buys room. A replaced
// unit is deleted whole (pods, then PodGroup; the Service stays) and is
// created again on the current revision once its old pods are gone.
func (p *planner) rollout() {
	replicas := *p.spec.Replicas
	var candidates []*unitState
	for i := p.spec.Rollout.Partition; i < replicas; i++ {
		u := p.units[i]
		if u != nil && u.exists() && u.outdated && !u.terminating && u.deleting == "" {
			candidates = append(candidates, u)
		}
	}
	sort.Slice(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		if a.ready != b.ready {
			return !a.ready
		}
		return a.index > b.index
	})
	ready := p.readyUnits()
	minReady := replicas - p.maxUnavailable
	for _, u := range candidates {
		if u.ready {
			if ready-1 < minReady {
				return
			}
			ready--
		}
		p.deleteUnit(u, ReasonRollout, true)
	}
}

// readyUnits counts ready units that this plan keeps.
func (p *planner) readyUnits() int32 {
	var n int32
	for _, u := range p.units {
		if u.ready && !u.terminating && u.deleting == "" {
			n++
		}
	}
	return n
}
