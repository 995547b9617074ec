package tandem

import (
	"sort"

	"k8s.io/klog/v2"
	"volcano.sh/apis/pkg/apis/scheduling"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/framework"
)

// ReclaimActionName is the action to list after allocate in the scheduler
// config's actions, e.g. "enqueue, allocate, tandem-reclaim, backfill".
const ReclaimActionName = "tandem-reclaim"

const (
	// maxVictimGangs bounds how many batch gangs one unit may reclaim.
	maxVictimGangs = 3
	// maxCandidateGangs keeps the subset search small: only the youngest
	// candidates are considered.
	maxCandidateGangs = 24
)

func init() {
	framework.RegisterAction(&reclaimAction{})
}

// reclaimAction frees room for a serving unit that allocate could not
// place by evicting whole batch gangs of lower priority, where the gangs'
// queues allow reclaiming (or they share the unit's queue). Volcano's own
// reclaim evicts pod by pod on one node at a time, which leaves batch gangs
// broken; this action evicts every pod of the fewest, youngest gangs whose
// release lets the whole unit fit. It acts for one unit per session, so two
// units never count the same released capacity; the unit is placed by
// allocate once the evicted pods are gone.
type reclaimAction struct{}

func (a *reclaimAction) Name() string  { return ReclaimActionName }
func (a *reclaimAction) Initialize()   {}
func (a *reclaimAction) UnInitialize() {}

func (a *reclaimAction) Execute(ssn *framework.Session) {
	for _, unit := range waitingUnits(ssn) {
		need, free := unitNeed(ssn, unit)
		if len(need.Requests) == 0 || Fits(need, free, nil) {
			continue // nothing pending, or room is already coming free
		}
		gangs := candidateGangs(ssn, unit)
		victims, ok := ChooseVictims(need, free, gangs, maxVictimGangs)
		if !ok || len(victims) == 0 {
			klog.V(4).InfoS("No whole batch gangs to reclaim for serving unit", "unit", klog.KRef(unit.Namespace, unit.Name), "candidates", len(gangs))
			continue
		}
		evictGangs(ssn, unit, victims)
		return
	}
}

// waitingUnits are admitted serving units that allocate left unready,
// highest priority first.
func waitingUnits(ssn *framework.Session) []*api.JobInfo {
	var out []*api.JobInfo
	for _, job := range ssn.Jobs {
		if isServing(job) && job.PodGroup.Status.Phase == scheduling.PodGroupInqueue && len(job.TaskStatusIndex[api.Pending]) > 0 && !ssn.JobReady(job) {
			out = append(out, job)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
	})
	return out
}

// unitNeed collects the unit's pending pods with the nodes each may use
// (every predicate but capacity), and every node's capacity that is free
// or coming free.
func unitNeed(ssn *framework.Session, unit *api.JobInfo) (Need, map[string]Resources) {
	var tasks []*api.TaskInfo
	for _, t := range unit.TaskStatusIndex[api.Pending] {
		tasks = append(tasks, t)
	}
	allowed := make([]map[string]bool, len(tasks))
	need := Need{Allowed: func(pod int, node string) bool { return allowed[pod][node] }}
	for i, t := range tasks {
		need.Requests = append(need.Requests, resources(t.InitResreq))
		allowed[i] = map[string]bool{}
		for name, node := range ssn.Nodes {
			allowed[i][name] = ssn.PredicateFn(t, node) == nil
		}
	}
	free := map[string]Resources{}
	for name, node := range ssn.Nodes {
		free[name] = resources(node.FutureIdle())
	}
	return need, free
}

// candidateGangs are the batch jobs the unit may reclaim whole: lower
// priority, every placed pod running and preemptable, in the unit's queue
// or a reclaimable one. Only the youngest maxCandidateGangs are kept.
func candidateGangs(ssn *framework.Session, unit *api.JobInfo) []Gang {
	var out []Gang
	for _, job := range ssn.Jobs {
		if isServing(job) || job.Priority >= unit.Priority {
			continue
		}
		if job.Queue != unit.Queue && !ssn.Queues[job.Queue].Reclaimable() {
			continue
		}
		if g, ok := wholeGang(job); ok {
			out = append(out, g)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	if len(out) > maxCandidateGangs {
		out = out[:maxCandidateGangs]
	}
	return out
}

// wholeGang describes a job whose placed pods are all running and
// preemptable; ok is false otherwise (it cannot be reclaimed whole).
func wholeGang(job *api.JobInfo) (Gang, bool) {
	g := Gang{ID: string(job.UID), Created: job.CreationTimestamp.Time}
	for _, t := range job.Tasks {
		if !api.AllocatedStatus(t.Status) {
			continue
		}
		if t.Status != api.Running || !t.Preemptable {
			return Gang{}, false
		}
		g.Pods = append(g.Pods, Held{Node: t.NodeName, Request: resources(t.Resreq)})
	}
	return g, len(g.Pods) > 0
}

func evictGangs(ssn *framework.Session, unit *api.JobInfo, victims []string) {
	stmt := framework.NewStatement(ssn)
	reason := "reclaimed whole for serving unit " + unit.Namespace + "/" + unit.Name
	for _, id := range victims {
		job := ssn.Jobs[api.JobID(id)]
		for _, t := range job.Tasks {
			if t.Status != api.Running {
				continue
			}
			if err := stmt.Evict(t, reason); err != nil {
				klog.ErrorS(err, "Evicting a batch gang failed; nothing of it is evicted", "job", klog.KRef(job.Namespace, job.Name))
				stmt.Discard()
				return
			}
		}
		klog.V(2).InfoS("Reclaiming whole batch gang", "job", klog.KRef(job.Namespace, job.Name), "for", klog.KRef(unit.Namespace, unit.Name))
	}
	stmt.Commit()
}

func resources(r *api.Resource) Resources {
	out := Resources{}
	if r == nil {
		return out
	}
	for _, name := range r.ResourceNames() {
		out[string(name)] = r.Get(name)
	}
	return out
}
