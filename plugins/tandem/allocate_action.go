package tandem

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"volcano.sh/apis/pkg/apis/scheduling"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/conf"
	"volcano.sh/volcano/pkg/scheduler/framework"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// AllocateActionName is the action to list before allocate in the
// scheduler config's actions, e.g.
// "enqueue, tandem-allocate, allocate, tandem-reclaim, backfill".
const AllocateActionName = "tandem-allocate"

// maxReplans bounds how often one unit is planned again after the
// session's checks refused a node the planner chose.
const maxReplans = 3

func init() {
	framework.RegisterAction(&allocateAction{})
}

// allocateAction places serving units topology first, before Volcano's
// allocate runs, and leaves everything else to it. Volcano's allocate,
// for a job with sub-group policies or a hard network topology (every
// unit the controller makes has sub-group policies), tries every
// HyperNode of each tier gradient for the whole job and again for each
// sub-group, running the predicates and every node-order plugin on every
// node of each — the cost grows with units × HyperNodes × nodes. This
// action reasons over HyperNodes first and asks about nodes only inside
// the few it picks:
//
//  1. Units (servingUnits): valid serving units past enqueue with pending
//     pods, queue present and not overused, highest priority first, then
//     oldest; within a priority the most constrained first (OrderUnits).
//     A unit of lower priority than a pending batch job is left to
//     allocate, which orders them (serving first only at equal or higher
//     priority, as the plugin's job order says). So is a unit whose group
//     asks to spread its units (the plugin's spread score, not weighed
//     here), a unit with an
//     instance placed in part or a pipelined pod (mending those is
//     allocate's path), and one whose pods fail the session's
//     pre-predicates.
//  2. The view (Fleet, allocate_fleet.go): per node its idle resources,
//     accelerator type and HyperNode at each tier; per HyperNode its free
//     accelerators in total, by type and on its emptiest node. Built once
//     per session, updated as units are placed.
//  3. Per unit, the gang part (per role, the instances its minimum still
//     needs) is planned by Fleet.PlaceUnit (allocate_plan.go): the lowest
//     tier at which one HyperNode can hold the whole unit inside its hard
//     tier, partly used HyperNodes before whole free ones and the fullest
//     first, a couple of them tried; inside, pods one by one next to the
//     unit's other roles (KV transfer) and ranks, fullest domain and node
//     first. A session of a few units (jointMaxUnits) is planned jointly
//     instead (allocate_joint.go), a bounded branch and bound that can
//     interleave units competing for the same racks.
//  4. Every pod of a plan is checked by the session itself before it is
//     allocated in one Statement: the queue's Allocatable (proportion's
//     capacity), the node's idle room, and PredicateForAllocateAction
//     (the predicates, Tandem's accelerator types among them); the
//     statement is committed only if the session's JobReady then holds
//     (gang, Tandem's role minimums), else discarded: whole units or
//     nothing. A node the session refuses is remembered and the unit
//     planned again (maxReplans). The planner only proposes; it never
//     overrides a session check, so it cannot place what allocate would
//     refuse.
//  5. Optional instances (above a role's minimum) are placed one at a
//     time next to the unit, each in its own statement.
//
// Anything left pending — no room by the planner's reckoning, a refused
// plan, a queue out of capacity — is still pending when allocate runs
// next in the same session, which tries it its own way (and may pipeline
// it onto room being released, which this action does not). Serving
// units go first because this action runs before allocate.
type allocateAction struct{}

func (a *allocateAction) Name() string  { return AllocateActionName }
func (a *allocateAction) Initialize()   {}
func (a *allocateAction) UnInitialize() {}

func (a *allocateAction) Execute(ssn *framework.Session) {
	args, ok := sessionArgs(ssn)
	if !ok {
		klog.V(4).InfoS("tandem-allocate: the tandem plugin is not configured; leaving every job to allocate")
		return
	}
	units := servingUnits(ssn, args)
	if len(units) == 0 {
		return
	}
	al := &allocator{ssn: ssn, args: args, fleet: sessionFleet(ssn, args)}
	for _, u := range units {
		al.prepare(u)
	}
	units = al.order(units)
	plans := al.jointPlans(units)
	placed := 0
	for i, u := range units {
		if al.place(u, plans[i]) {
			placed++
		}
	}
	klog.V(3).InfoS("tandem-allocate done", "units", len(units), "placed", placed)
}

// sessionArgs reads the tandem plugin's arguments from the session's
// tiers; ok is false when the plugin is not configured.
func sessionArgs(ssn *framework.Session) (Args, bool) {
	for _, tier := range ssn.Tiers {
		for _, p := range tier.Plugins {
			if p.Name != Name {
				continue
			}
			args, err := ParseArgs(framework.Arguments(p.Arguments))
			if err != nil {
				klog.ErrorS(err, "tandem-allocate: using default arguments")
				args = DefaultArgs()
			}
			return args, true
		}
	}
	return Args{}, false
}

// unitWork is one serving unit's work in the action: its pending pods
// split into the gang part (Volcano's JobReady needs them) and optional
// instances, each as a PlanUnit with the tasks in the same order.
type unitWork struct {
	job      *api.JobInfo
	queue    *api.QueueInfo
	gang     *PlanUnit
	tasks    []*api.TaskInfo
	optional []optionalInstance
	// refused[pod][node] remembers the session's verdicts for the gang.
	refused map[int]map[int]bool
	asked   map[int]map[int]bool
	skip    bool
}

type optionalInstance struct {
	tasks []*api.TaskInfo
	tier  int
	role  string
}

// servingUnits are the units the action takes on: valid serving units
// past enqueue with pending pods, whose queue exists and is not overused,
// no pod of which is pipelined or half of an instance placed (recovery of
// a broken instance is left to allocate), and with no pending batch job
// of higher priority (allocate keeps that job's turn); highest priority
// first, then oldest.
func servingUnits(ssn *framework.Session, args Args) []*unitWork {
	enqueue := conf.EnabledActionMap["enqueue"]
	batchPriority := int32(-1 << 31)
	hasBatch := false
	for _, job := range ssn.Jobs {
		if !isServing(job) && len(job.TaskStatusIndex[api.Pending]) > 0 && (!job.IsPending() || !enqueue) {
			hasBatch = true
			batchPriority = max(batchPriority, job.Priority)
		}
	}
	var out []*unitWork
	for _, job := range ssn.Jobs {
		if !isServing(job) || len(job.TaskStatusIndex[api.Pending]) == 0 || len(job.TaskStatusIndex[api.Pipelined]) > 0 {
			continue
		}
		if job.IsPending() {
			if enqueue {
				continue
			}
			job.PodGroup.Status.Phase = scheduling.PodGroupInqueue // as allocate does without enqueue
		}
		if hasBatch && job.Priority < batchPriority {
			continue
		}
		// Spreading a group's units across racks is the plugin's score,
		// which this planner does not weigh yet: such units keep
		// allocate's path.
		if job.PodGroup.Annotations[v1alpha1.AnnotationSpreadUnits] == "true" {
			continue
		}
		if vr := ssn.JobValid(job); vr != nil && !vr.Pass {
			continue
		}
		queue := ssn.Queues[job.Queue]
		if queue == nil || ssn.Overused(queue) {
			continue
		}
		if !ssn.HyperNodesReadyToSchedule && job.ContainsNetworkTopology() {
			continue
		}
		out = append(out, &unitWork{job: job, queue: queue})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].job, out[j].job
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.UID < b.UID
	})
	return out
}

// sessionFleet builds the planner's view of the session's nodes.
func sessionFleet(ssn *framework.Session, args Args) *Fleet {
	topo := sessionTopology(ssn)
	res := corev1.ResourceName(args.AcceleratorResource)
	in := make([]FleetInput, 0, len(ssn.Nodes))
	for name, node := range ssn.Nodes {
		fi := FleetInput{Name: name, Free: resources(node.Idle)}
		if node.Allocatable != nil {
			fi.Capacity = node.Allocatable.Get(res)
		}
		if node.Node != nil {
			fi.Type = node.Node.Labels[args.AcceleratorLabel]
		}
		in = append(in, fi)
	}
	return NewFleet(args.AcceleratorResource, topo, in)
}

type allocator struct {
	ssn   *framework.Session
	args  Args
	fleet *Fleet
}

// prepare reads the unit's roles, instances, tiers and placed pods into
// PlanUnits, and runs the session's pre-predicates on its pods.
func (al *allocator) prepare(w *unitWork) {
	job := w.job
	unitTier := al.hardTier(job.PodGroup.Spec.NetworkTopology)
	instTier := map[string]int{}
	for _, p := range job.PodGroup.Spec.SubGroupPolicy {
		instTier[p.Name] = al.hardTier(p.NetworkTopology)
	}
	type inst struct {
		role, name     string
		pending, total int
		tasks          []*api.TaskInfo
	}
	insts := map[string]*inst{}
	var anchors []Anchor
	whole := map[string]int{} // role -> whole instances placed
	placedIn := map[string]int{}
	for _, t := range job.Tasks {
		m := member(t)
		key := m.Role + "/" + m.Instance
		in := insts[key]
		if in == nil {
			in = &inst{role: m.Role, name: m.Instance}
			insts[key] = in
		}
		in.total++
		switch {
		case t.Status == api.Pending && !t.SchGated && !t.Resreq.IsEmpty():
			in.pending++
			in.tasks = append(in.tasks, t)
		case api.AllocatedStatus(t.Status):
			placedIn[key]++
			if n := al.fleet.Index(t.NodeName); n >= 0 {
				anchors = append(anchors, Anchor{Role: m.Role, Node: n})
			}
		}
	}
	var pendingByRole = map[string][]*inst{}
	for key, in := range insts {
		switch {
		case placedIn[key] > 0 && in.pending > 0:
			w.skip = true // an instance placed in part: allocate's to mend
			return
		case in.pending == in.total:
			pendingByRole[in.role] = append(pendingByRole[in.role], in)
		case placedIn[key] == in.total:
			whole[in.role]++
		}
	}
	gang := &PlanUnit{Tier: unitTier, Anchors: anchors}
	for _, r := range rules(job) {
		list := pendingByRole[r.Role]
		sort.Slice(list, func(i, j int) bool { return instanceLess(list[i].name, list[j].name) })
		need := max(0, r.MinInstances-whole[r.Role])
		if need > len(list) {
			w.skip = true // the gang cannot be whole this session
			return
		}
		for i, in := range list {
			sortTasks(in.tasks)
			if i >= need {
				w.optional = append(w.optional, optionalInstance{tasks: in.tasks, tier: instTier[r.Role], role: r.Role})
				continue
			}
			pi := PlanInstance{Role: r.Role, Tier: instTier[r.Role]}
			for _, t := range in.tasks {
				pi.Pods = append(pi.Pods, len(gang.Pods))
				gang.Pods = append(gang.Pods, al.planPod(t, r.Role, len(gang.Instances)))
				w.tasks = append(w.tasks, t)
			}
			gang.Instances = append(gang.Instances, pi)
		}
	}
	for _, t := range w.tasks {
		if err := al.ssn.PrePredicateFn(t); err != nil {
			klog.V(4).InfoS("tandem-allocate: pod fails its pre-predicates; leaving the unit to allocate", "pod", klog.KRef(t.Namespace, t.Name), "err", err)
			w.skip = true
			return
		}
	}
	w.gang = gang
	w.refused, w.asked = map[int]map[int]bool{}, map[int]map[int]bool{}
	gang.Allowed = func(pod, node int) bool { return al.allowed(w, w.tasks, pod, node) }
}

// allowed asks the session's predicates (as allocate does:
// PredicateForAllocateAction) whether task pod of tasks may use node,
// once per pod and node.
func (al *allocator) allowed(w *unitWork, tasks []*api.TaskInfo, pod, node int) bool {
	if w.asked[pod] == nil {
		w.asked[pod], w.refused[pod] = map[int]bool{}, map[int]bool{}
	}
	if w.asked[pod][node] {
		return !w.refused[pod][node]
	}
	w.asked[pod][node] = true
	n := al.ssn.Nodes[al.fleet.Nodes[node].Name]
	if n == nil || al.ssn.PredicateForAllocateAction(tasks[pod], n) != nil {
		w.refused[pod][node] = true
		return false
	}
	return true
}

func (al *allocator) planPod(t *api.TaskInfo, role string, instance int) PlanPod {
	return PlanPod{Role: role, Instance: instance, Request: resources(t.InitResreq), Types: AcceleratorTypes(t.Pod, al.args.AcceleratorLabel)}
}

// hardTier is the tier of a hard network topology (0 for none or soft).
func (al *allocator) hardTier(nt *scheduling.NetworkTopologySpec) int {
	if nt == nil || nt.Mode != scheduling.HardNetworkTopologyMode {
		return 0
	}
	if nt.HighestTierAllowed != nil {
		return *nt.HighestTierAllowed
	}
	if tier, ok := al.ssn.HyperNodeTierNameMap[nt.HighestTierName]; ok {
		return tier
	}
	return 0
}

func instanceLess(a, b string) bool {
	ia, ea := strconv.Atoi(lastField(a))
	ib, eb := strconv.Atoi(lastField(b))
	if ea == nil && eb == nil && ia != ib {
		return ia < ib
	}
	return a < b
}

func lastField(s string) string {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '-' {
			return s[i+1:]
		}
	}
	return s
}

// sortTasks orders an instance's pods by rank, leader first.
func sortTasks(ts []*api.TaskInfo) {
	sort.Slice(ts, func(i, j int) bool {
		ri, _ := strconv.Atoi(ts[i].Pod.Labels[v1alpha1.LabelRank])
		rj, _ := strconv.Atoi(ts[j].Pod.Labels[v1alpha1.LabelRank])
		if ri != rj {
			return ri < rj
		}
		return ts[i].UID < ts[j].UID
	})
}

// order keeps priority first and, within a priority, places the most
// constrained units first (OrderUnits).
func (al *allocator) order(units []*unitWork) []*unitWork {
	var out []*unitWork
	for start := 0; start < len(units); {
		end := start
		for end < len(units) && units[end].job.Priority == units[start].job.Priority {
			end++
		}
		run := units[start:end]
		plans := make([]*PlanUnit, len(run))
		for i, w := range run {
			plans[i] = w.gang
			if plans[i] == nil {
				plans[i] = &PlanUnit{}
			}
		}
		for _, i := range OrderUnits(plans, al.args.AcceleratorResource) {
			out = append(out, run[i])
		}
		start = end
	}
	return out
}

// jointPlans returns a plan per unit found by the joint search when the
// session's pending units are a small set (see PlaceJointly), else nils.
func (al *allocator) jointPlans(units []*unitWork) []*Plan {
	out := make([]*Plan, len(units))
	pods := 0
	var us []*PlanUnit
	var idx []int
	for i, w := range units {
		if w.skip || w.gang == nil || len(w.gang.Pods) == 0 {
			continue
		}
		pods += len(w.gang.Pods)
		us = append(us, w.gang)
		idx = append(idx, i)
	}
	if len(us) < 2 || len(us) > jointMaxUnits || pods > jointMaxPods {
		return out
	}
	trial := al.fleet.Clone()
	greedy := make([]Plan, len(us))
	for i, u := range us {
		if p, ok := trial.PlaceUnit(u); ok {
			trial.TakePlan(u, p)
			greedy[i] = p
		}
	}
	scope := al.fleet.JointScope(greedy)
	if scope == nil {
		return out
	}
	best := al.fleet.PlaceJointly(us, greedy, scope)
	for i := range best {
		if p := best[i]; p.Nodes != nil {
			out[idx[i]] = &p
		}
	}
	return out
}

// place places the unit's gang (planned jointly when given, else now),
// then its optional instances one by one; it reports whether the gang was
// placed.
func (al *allocator) place(w *unitWork, planned *Plan) bool {
	if w.skip {
		return false
	}
	if w.gang != nil && len(w.gang.Pods) > 0 {
		if !al.placeGang(w, planned) {
			return false
		}
	}
	for _, oi := range w.optional {
		al.placeOptional(w, oi)
	}
	return true
}

func (al *allocator) placeGang(w *unitWork, planned *Plan) bool {
	for attempt := 0; attempt <= maxReplans; attempt++ {
		var plan Plan
		if planned != nil && attempt == 0 && al.stillFits(w.gang, *planned) {
			plan = *planned
		} else {
			p, ok := al.fleet.PlaceUnit(w.gang)
			if !ok {
				klog.V(4).InfoS("tandem-allocate: no room for the unit; leaving it to allocate", "unit", klog.KRef(w.job.Namespace, w.job.Name))
				return false
			}
			plan = p
		}
		switch al.commit(w, w.tasks, w.gang, plan, true) {
		case committed:
			return true
		case queueFull, notReady:
			return false
		}
		// refused: the verdict is remembered in w.refused; plan again.
	}
	return false
}

// stillFits reports whether every pod of the plan still has room.
func (al *allocator) stillFits(u *PlanUnit, p Plan) bool {
	want := map[int]Resources{}
	for i, n := range p.Nodes {
		if want[n] == nil {
			want[n] = Resources{}
		}
		want[n].add(u.Pods[i].Request, 1)
	}
	for n, r := range want {
		if !r.fits(al.fleet.Nodes[n].Free) {
			return false
		}
	}
	return true
}

type outcome int

const (
	committed outcome = iota
	refused
	queueFull
	notReady
)

// commit allocates the plan's pods in one statement, each after the
// session's own checks (queue capacity: Allocatable; the node's idle
// room; predicates), and commits it only when the job is then ready
// (gang) — whole units or nothing.
func (al *allocator) commit(w *unitWork, tasks []*api.TaskInfo, u *PlanUnit, plan Plan, gang bool) outcome {
	ssn := al.ssn
	stmt := framework.NewStatement(ssn)
	for i, t := range tasks {
		ni := plan.Nodes[i]
		node := ssn.Nodes[al.fleet.Nodes[ni].Name]
		if !ssn.Allocatable(w.queue, t) {
			stmt.Discard()
			return queueFull
		}
		if node == nil || !t.InitResreq.LessEqual(node.Idle, api.Zero) || ssn.PredicateForAllocateAction(t, node) != nil {
			stmt.Discard()
			if gang {
				if w.asked[i] == nil {
					w.asked[i], w.refused[i] = map[int]bool{}, map[int]bool{}
				}
				w.asked[i][ni], w.refused[i][ni] = true, true
			}
			return refused
		}
		if err := stmt.Allocate(t, node); err != nil {
			klog.ErrorS(err, "tandem-allocate: allocating failed", "pod", klog.KRef(t.Namespace, t.Name), "node", node.Name)
			stmt.Discard()
			return refused
		}
	}
	if !ssn.JobReady(w.job) {
		stmt.Discard()
		return notReady
	}
	stmt.Commit()
	al.fleet.TakePlan(u, plan)
	ssn.MarkJobDirty(w.job.UID)
	if w.job.ContainsHardTopology() {
		if hn := al.fleet.commonDomain(plan.Nodes); hn != "" {
			w.job.AllocatedHyperNode = ssn.HyperNodes.GetLCAHyperNode(w.job.AllocatedHyperNode, hn)
		}
	}
	return committed
}

// placeOptional places one optional instance next to the unit's placed
// pods, or leaves it pending.
func (al *allocator) placeOptional(w *unitWork, oi optionalInstance) {
	var anchors []Anchor
	for _, t := range w.job.Tasks {
		if api.AllocatedStatus(t.Status) {
			if n := al.fleet.Index(t.NodeName); n >= 0 {
				anchors = append(anchors, Anchor{Role: member(t).Role, Node: n})
			}
		}
	}
	u := &PlanUnit{Tier: w.gang.Tier, Anchors: anchors, Instances: []PlanInstance{{Role: oi.role, Tier: oi.tier}}}
	for _, t := range oi.tasks {
		if err := al.ssn.PrePredicateFn(t); err != nil {
			return
		}
		u.Instances[0].Pods = append(u.Instances[0].Pods, len(u.Pods))
		u.Pods = append(u.Pods, al.planPod(t, oi.role, 0))
	}
	ow := &unitWork{job: w.job, queue: w.queue, refused: map[int]map[int]bool{}, asked: map[int]map[int]bool{}}
	u.Allowed = func(pod, node int) bool { return al.allowed(ow, oi.tasks, pod, node) }
	if p, ok := al.fleet.PlaceUnit(u); ok {
		al.commit(ow, oi.tasks, u, p, false)
	}
}

// commonDomain is the lowest HyperNode holding every node, or "".
func (f *Fleet) commonDomain(nodes []int) string {
	if len(nodes) == 0 {
		return ""
	}
	for t := 1; t <= f.MaxTier(); t++ {
		d := f.Nodes[nodes[0]].Domains[t-1]
		same := d >= 0
		for _, n := range nodes[1:] {
			if f.Nodes[n].Domains[t-1] != d {
				same = false
				break
			}
		}
		if same {
			return f.Tiers[t-1][d].Name
		}
	}
	return ""
}
