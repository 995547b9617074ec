package tandem

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
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
	// candidates that pass the vote are considered.
	maxCandidateGangs = 24
)

func init() {
	framework.RegisterAction(&reclaimAction{})
}

// reclaimAction frees room for a serving unit that allocate could not
// place by evicting whole batch gangs of lower priority. Volcano's own
// reclaim and preempt actions evict pod by pod on one node at a time,
// which leaves batch gangs broken (and preempt skips jobs with a network
// topology, as units have); this action evicts every running pod of the
// fewest, youngest gangs whose release lets the whole unit fit. It acts
// for one unit per session, so two units never count the same released
// capacity; allocate places the unit once the evicted pods are gone.
//
// Per waiting unit (admitted or refused admission, pods pending, not
// ready, highest priority first):
//
//  1. Candidates: jobs that are not serving units, of lower priority,
//     every placed pod running and preemptable (the pod annotation
//     Volcano's reclaim and preempt also require), in the unit's queue or
//     in a reclaimable one; a victim in another queue also needs the
//     session's Preemptive for the unit's queue (the check Volcano's
//     reclaim makes of a reclaimer, asked here for the unit's whole
//     pending request at once). Each must pass the vote (below,
//     reclaim_vote.go) alone. The list is made once per pass for units
//     alike in what it depends on (candidateKey); with none, the unit is
//     done before any predicate is asked, which is what a session costs
//     while nothing may be evicted.
//  2. Where each pending pod may go: the session's pre-predicates, then
//     its predicates as Volcano's preempt and reclaim read them
//     (PredicateForPreemptAction: a node is out only for a reason no
//     eviction resolves), asked only of the nodes the search looks at,
//     after a shared check of node affinity and taints (allowance). The
//     pre-predicates must run here: Volcano's predicates plugin reads the
//     kube-scheduler PreFilter state they write (e.g.
//     "PreFilterNodePorts"), and allocate writes it only for the queues
//     it visits — it skips an overused queue, which a queue full of its
//     own batch work is. Without them every node failed and
//     tandem-reclaim found nothing when the gang shared the unit's queue.
//  3. Victims: of the candidates with a running pod on a node some
//     pending pod may use, the youngest maxCandidateGangs, searched by
//     ChooseVictims (reclaim.go) for a set that lets the whole unit fit
//     inside its hard tiers (hardTiers: the unit's and each instance's
//     HyperNode), so no gang goes for room the unit could not use; each
//     set that frees enough is asked the vote again as a whole
//     (proportion's count of a queue's share runs across the set).
//  4. Eviction in one statement. A unit that enqueue refused (its
//     PodGroup still Pending: its queue's quota is held, as when batch
//     gangs fill the queue they share with it) may only take gangs of its
//     own queue that give back at least its minResources of that quota
//     (coversQuota), and is admitted (Inqueue, as the enqueue action
//     does) in their place: a swap that grows no queue's or the
//     cluster's use, so the quota checks enqueue makes (proportion's,
//     overcommit's) are no worse off. Victims in other queues would free
//     nothing of its queue's quota, so it does not take them. (Asking the
//     session's JobEnqueueable instead is not possible: proportion's
//     check compares only the resources a job asks for more than zero of,
//     so a copy of the unit asking for less cannot stand for a queue
//     holding less, and after a tentative eviction it subtracts elastic
//     resources counted at session open from an allocation that no longer
//     holds them, which Volcano's Resource.Sub asserts against — a panic
//     by default.)
//
// The vote: victims in the unit's queue must be approved by the session's
// Preemptable, the others by its Reclaimable (Volcano's preempt asks the
// first within a queue, its reclaim the second across queues), each task
// of every victim gang. How the session combines plugins (the first tier
// whose plugins' intersection is not empty decides; a plugin that keeps
// nothing ends its tier's say and hands over to the next tier) is not
// used: it would never ask proportion when conformance, a tier above it
// in the shipped config, approves (Volcano issue #5896), it would let
// proportion approve a gang whose every pod conformance refuses, and an
// empty intersection of two plugins lets a third refill it (Volcano PR
// #5969). Instead every plugin is asked alone and every one must keep
// every task, which is stricter than any tier outcome, except for the two
// votes a whole-job eviction cannot pass by construction (gang's, and
// drf's preemptable one; see skipped). So conformance keeps critical pods
// and kube-system, proportion keeps a queue at or under its deserved
// share (with one task of leeway, as in Volcano's reclaim), priority
// keeps jobs of equal or higher priority in the queue, and whole gangs
// keep gang's guarantee by going whole.
//
// Sources, in volcano.sh/volcano v1.14.1 pkg/scheduler:
// actions/reclaim/reclaim.go (Preemptive of the reclaimer's queue,
// Reclaimable per node, running and preemptable victims only),
// actions/preempt/preempt.go (Preemptable per node; jobs with a network
// topology and Pending jobs skipped), framework/session_plugins.go
// (Reclaimable, Preemptable, JobEnqueueable, PrePredicateFn),
// framework/session.go (PredicateForPreemptAction), the plugins
// gang/gang.go, conformance/conformance.go, proportion/proportion.go,
// priority/priority.go, drf/drf.go and predicates (the PreFilter state),
// and api/resource_info.go (LessEqualWithDimensionAndResourcesName;
// Sub's assertion). Volcano issues #1772 and #5330 describe the
// same-queue case Volcano itself leaves waiting.
type reclaimAction struct{}

func (a *reclaimAction) Name() string  { return ReclaimActionName }
func (a *reclaimAction) Initialize()   {}
func (a *reclaimAction) UnInitialize() {}

func (a *reclaimAction) Execute(ssn *framework.Session) {
	units := waitingUnits(ssn)
	if len(units) == 0 {
		return
	}
	p := newPass(ssn)
	for _, unit := range units {
		if p.reclaimFor(unit) {
			return
		}
	}
}

// reclaimFor evicts whole gangs for unit and reports whether it did.
func (p *pass) reclaimFor(unit *api.JobInfo) bool {
	ssn, v := p.ssn, p.voter
	tasks := pendingTasks(ssn, unit)
	if len(tasks) == 0 {
		return false
	}
	reclaimer := tasks[0]
	// Candidates before any predicate: in a session where nothing may be
	// evicted, every waiting unit ends here.
	jobs := p.candidateJobs(unit, reclaimer)
	if len(jobs) == 0 {
		return false
	}
	need := p.unitNeed(tasks)
	f := newFitterOver(need, p.free, p.within)
	if f.fits(nil) {
		return false // room is already coming free
	}
	jobs = usefulJobs(jobs, need, maxCandidateGangs)
	gangs := make([]Gang, len(jobs))
	byID := map[string]*api.JobInfo{}
	for i, job := range jobs {
		gangs[i] = wholeGang(job)
		byID[gangs[i].ID] = job
	}
	approve := func(set []Gang) bool {
		chosen := make([]*api.JobInfo, len(set))
		for i, g := range set {
			chosen[i] = byID[g.ID]
		}
		// A set of one was asked alone in candidateJobs.
		if len(set) > 1 && v.setRefusal(unit, reclaimer, chosen) != "" {
			return false
		}
		return !unit.IsPending() || coversQuota(unit, chosen)
	}
	victims, ok := chooseVictims(f, gangs, maxVictimGangs, approve)
	if !ok || len(victims) == 0 {
		klog.V(4).InfoS("No whole batch gangs to reclaim for serving unit", "unit", klog.KRef(unit.Namespace, unit.Name), "candidates", len(gangs))
		return false
	}
	chosen := make([]*api.JobInfo, len(victims))
	for i, id := range victims {
		chosen[i] = byID[id]
	}
	return evictGangs(ssn, unit, chosen)
}

// waitingUnits are the valid serving units with pending pods that are
// not ready, admitted (Inqueue) or refused admission (Pending), highest
// priority first.
func waitingUnits(ssn *framework.Session) []*api.JobInfo {
	var out []*api.JobInfo
	for _, job := range ssn.Jobs {
		if !isServing(job) || (job.PodGroup.Status.Phase != scheduling.PodGroupInqueue && !job.IsPending()) ||
			len(job.TaskStatusIndex[api.Pending]) == 0 || ssn.JobReady(job) {
			continue
		}
		if vr := ssn.JobValid(job); vr != nil && !vr.Pass {
			continue
		}
		out = append(out, job)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		if !out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
		}
		return out[i].UID < out[j].UID
	})
	return out
}

// pendingTasks are the unit's pending pods in the session's task order.
func pendingTasks(ssn *framework.Session, unit *api.JobInfo) []*api.TaskInfo {
	var tasks []*api.TaskInfo
	for _, t := range unit.TaskStatusIndex[api.Pending] {
		if !t.SchGated {
			tasks = append(tasks, t)
		}
	}
	sort.Slice(tasks, func(i, j int) bool {
		if ssn.TaskOrderFn(tasks[i], tasks[j]) {
			return true
		}
		if ssn.TaskOrderFn(tasks[j], tasks[i]) {
			return false
		}
		return tasks[i].UID < tasks[j].UID
	})
	return tasks
}

// candidateKey is what candidateJobs depends on. The votes of the
// shipped plugins see the reclaimer only through its job's priority
// (priority.go) or not at all (conformance.go, proportion.go); whether
// victims in other queues may be taken depends on the unit's queue, its
// admission, and the session's Preemptive for its request. Nothing is
// evicted between two units: the action stops at its first eviction.
type candidateKey struct {
	queue      api.QueueID
	priority   int32
	pending    bool
	mayReclaim bool
}

// candidateJobs are the batch jobs the unit may reclaim whole by
// everything but where their pods are (see reclaimAction, step 2),
// youngest first; asked once per candidateKey in a pass.
func (p *pass) candidateJobs(unit *api.JobInfo, reclaimer *api.TaskInfo) []*api.JobInfo {
	ssn := p.ssn
	queue := ssn.Queues[unit.Queue]
	key := candidateKey{queue: unit.Queue, priority: unit.Priority, pending: unit.IsPending(),
		mayReclaim: queue != nil && ssn.Preemptive(queue, wholeRequest(reclaimer, unit))}
	if out, ok := p.candidates[key]; ok {
		return out
	}
	var out []*api.JobInfo
	for _, job := range ssn.Jobs {
		if isServing(job) || job.Priority >= unit.Priority || !evictableWhole(job) {
			continue
		}
		sameQueue := job.Queue == unit.Queue
		if q := ssn.Queues[job.Queue]; !sameQueue && (key.pending || !key.mayReclaim || q == nil || !q.Reclaimable()) {
			continue
		}
		if why := p.voter.refusal(reclaimer, runningTasks(job), sameQueue); why != "" {
			klog.V(5).InfoS("Batch gang kept by the vote", "job", klog.KRef(job.Namespace, job.Name), "plugin", why)
			continue
		}
		out = append(out, job)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return out[i].CreationTimestamp.After(out[j].CreationTimestamp.Time)
		}
		return out[i].UID < out[j].UID
	})
	p.candidates[key] = out
	return out
}

// usefulJobs keeps, in order, the first max jobs with a running pod on a
// node some pending pod of need may use.
func usefulJobs(jobs []*api.JobInfo, need Need, max int) []*api.JobInfo {
	var out []*api.JobInfo
	for _, job := range jobs {
		if len(out) == max {
			break
		}
	pods:
		for _, t := range job.Tasks {
			if t.Status != api.Running {
				continue
			}
			for pod := range need.Requests {
				if need.Allowed(pod, t.NodeName) {
					out = append(out, job)
					break pods
				}
			}
		}
	}
	return out
}

// wholeRequest is reclaimer standing for the unit's whole pending
// request, for the session's per-task Preemptive.
func wholeRequest(reclaimer *api.TaskInfo, unit *api.JobInfo) *api.TaskInfo {
	t := reclaimer.Clone()
	t.Resreq, t.InitResreq = api.EmptyResource(), api.EmptyResource()
	for _, p := range unit.TaskStatusIndex[api.Pending] {
		t.Resreq.Add(p.Resreq)
		t.InitResreq.Add(p.InitResreq)
	}
	return t
}

// evictableWhole reports whether the job has placed pods and every one
// is running and preemptable.
func evictableWhole(job *api.JobInfo) bool {
	placed := false
	for _, t := range job.Tasks {
		if !api.AllocatedStatus(t.Status) {
			continue
		}
		if t.Status != api.Running || !t.Preemptable {
			return false
		}
		placed = true
	}
	return placed
}

// wholeGang describes the job's running pods for the victim search.
func wholeGang(job *api.JobInfo) Gang {
	g := Gang{ID: string(job.UID), Created: job.CreationTimestamp.Time}
	for _, t := range runningTasks(job) {
		g.Pods = append(g.Pods, Held{Node: t.NodeName, Request: resources(t.Resreq)})
	}
	return g
}

// evictGangs evicts every running pod of the jobs in one statement and
// commits it unless an eviction fails; it reports whether it committed.
func evictGangs(ssn *framework.Session, unit *api.JobInfo, jobs []*api.JobInfo) bool {
	stmt := framework.NewStatement(ssn)
	reason := "reclaimed whole for serving unit " + unit.Namespace + "/" + unit.Name
	told := reclaimMessage(unit, jobs) // before the evictions change the tasks
	for _, job := range jobs {
		for _, t := range runningTasks(job) {
			if err := stmt.Evict(t, reason); err != nil {
				klog.ErrorS(err, "Evicting a batch gang failed; nothing is evicted", "job", klog.KRef(job.Namespace, job.Name))
				stmt.Discard()
				return false
			}
		}
	}
	for _, job := range jobs {
		klog.V(2).InfoS("Reclaiming whole batch gang", "job", klog.KRef(job.Namespace, job.Name), "for", klog.KRef(unit.Namespace, unit.Name))
	}
	stmt.Commit()
	if g, rec := groupOf(unit), reclaimEvents.recorder(ssn.KubeClient()); g != nil && rec != nil {
		rec.Event(g, corev1.EventTypeNormal, EventReclaimedGangs, told)
	}
	if unit.IsPending() {
		// The unit takes over the quota the gangs held (coversQuota), as
		// the enqueue action admits a job.
		ssn.JobEnqueued(unit)
		unit.PodGroup.Status.Phase = scheduling.PodGroupInqueue
		klog.V(2).InfoS("Admitting serving unit in place of the reclaimed gangs", "unit", klog.KRef(unit.Namespace, unit.Name))
	}
	return true
}

// coversQuota reports whether jobs, all in unit's queue, give back at
// least unit's minResources of that queue's quota: per resource the unit
// names, the sum over the jobs of min(allocated, minResources), which is
// what a whole job holds of its queue's quota in proportion's admission
// check (proportion.go, its enqueueable function: minResources plus the
// queue's allocated and inqueue less its elastic resources must fit the
// queue's capability; a job's elastic part is what it holds beyond its
// minResources). A unit without minResources is admitted unasked by the
// enqueue action, so anything covers it.
func coversQuota(unit *api.JobInfo, jobs []*api.JobInfo) bool {
	if unit.PodGroup.Spec.MinResources == nil {
		return true
	}
	held := api.EmptyResource()
	for _, job := range jobs {
		if job.Queue != unit.Queue {
			return false
		}
		h := job.Allocated.Clone()
		h.MinDimensionResource(job.GetMinResources(), api.Zero)
		held.Add(h)
	}
	asked := unit.GetMinResources()
	covered, _ := asked.LessEqualWithDimensionAndResourcesName(held, asked)
	return covered
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
