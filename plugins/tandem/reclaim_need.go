package tandem

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
	"volcano.sh/apis/pkg/apis/scheduling"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/framework"
)

// pass is one Execute of tandem-reclaim: the session and what every
// unit's search shares.
type pass struct {
	ssn   *framework.Session
	voter *voter
	// free is every node's room free or coming free; nothing changes it
	// before the action's only eviction.
	free map[string]Resources
	// withRoom lists by resource the nodes with some of it free.
	withRoom map[string][]string
	// candidates caches candidateJobs by what it depends on.
	candidates map[candidateKey][]*api.JobInfo
	topology   *Topology
	// placeable caches allowance's first check (required node affinity,
	// hard taints) by the pod's terms for it, then by node: units of one
	// shape ask the same.
	placeable map[string]map[string]bool
}

func newPass(ssn *framework.Session) *pass {
	p := &pass{ssn: ssn, voter: newVoter(ssn), free: map[string]Resources{}, withRoom: map[string][]string{},
		candidates: map[candidateKey][]*api.JobInfo{}, topology: sessionTopology(ssn), placeable: map[string]map[string]bool{}}
	for name, node := range ssn.Nodes {
		room := resources(node.FutureIdle())
		p.free[name] = room
		for res, q := range room {
			if q > 0 {
				p.withRoom[res] = append(p.withRoom[res], name)
			}
		}
	}
	return p
}

// unitNeed collects the pending pods with the nodes each may use (every
// predicate a reclaim could not resolve). The predicates are asked only
// for the nodes the victim search looks at (a node with room for the
// pod, or holding a candidate's pod), once each.
func (p *pass) unitNeed(tasks []*api.TaskInfo) Need {
	a := &allowance{pass: p, tasks: tasks, pre: make([]bool, len(tasks)), memo: make([]map[string]bool, len(tasks)),
		affinity: make([]nodeaffinity.RequiredNodeAffinity, len(tasks)), shared: make([]map[string]bool, len(tasks))}
	need := Need{Allowed: a.allowed}
	for i, t := range tasks {
		need.Requests = append(need.Requests, resources(t.InitResreq))
		a.memo[i] = map[string]bool{}
		a.affinity[i] = nodeaffinity.GetRequiredNodeAffinity(t.Pod)
		key := placementTerms(t.Pod)
		if p.placeable[key] == nil || key == "" {
			a.shared[i] = map[string]bool{}
			if key != "" {
				p.placeable[key] = a.shared[i]
			}
		} else {
			a.shared[i] = p.placeable[key]
		}
		if err := p.ssn.PrePredicateFn(t); err != nil {
			klog.V(4).InfoS("Pending pod of a serving unit fails its pre-predicates", "pod", klog.KRef(t.Namespace, t.Name), "err", err)
			continue // no node
		}
		a.pre[i] = true
	}
	p.hardTiers(&need, tasks)
	return need
}

// hardTiers adds the unit's hard network topology to need, as the
// controller writes it: the PodGroup's for the whole unit, and each
// sub-group policy's (one per role) for every instance of the role. A
// tier above the topology's top holds every node: no constraint.
func (p *pass) hardTiers(need *Need, tasks []*api.TaskInfo) {
	domainAt := func(nt *scheduling.NetworkTopologySpec) func(string) string {
		if nt == nil || nt.Mode != scheduling.HardNetworkTopologyMode || nt.HighestTierAllowed == nil ||
			*nt.HighestTierAllowed > p.topology.MaxTier() {
			return nil
		}
		tier := *nt.HighestTierAllowed
		return func(node string) string { return p.topology.Domain(node, tier) }
	}
	if len(tasks) == 0 {
		return
	}
	job := p.ssn.Jobs[tasks[0].Job]
	need.Unit = domainAt(job.PodGroup.Spec.NetworkTopology)
	for _, policy := range job.PodGroup.Spec.SubGroupPolicy {
		domain := domainAt(policy.NetworkTopology)
		if domain == nil {
			continue
		}
		instances := map[string][]int{}
		var order []string
		for i, t := range tasks {
			if m := member(t); m.Role == policy.Name {
				if _, ok := instances[m.Instance]; !ok {
					order = append(order, m.Instance)
				}
				instances[m.Instance] = append(instances[m.Instance], i)
			}
		}
		for _, inst := range order {
			need.Together = append(need.Together, Together{Pods: instances[inst], Domain: domain})
		}
	}
}

// sessionTopology is the session's HyperNode tree as Topology.
func sessionTopology(ssn *framework.Session) *Topology {
	members := map[int]map[string][]string{}
	for tier, hyperNodes := range ssn.HyperNodesSetByTier {
		members[tier] = map[string][]string{}
		for hn := range hyperNodes {
			members[tier][hn] = ssn.RealNodesSet[hn].UnsortedList()
		}
	}
	return NewTopology(members)
}

// placementTerms is what allowance's first check reads of a pod, as a
// key.
func placementTerms(pod *corev1.Pod) string {
	var required *corev1.NodeSelector
	if pod.Spec.Affinity != nil && pod.Spec.Affinity.NodeAffinity != nil {
		required = pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	raw, err := json.Marshal(struct {
		Selector    map[string]string
		Required    *corev1.NodeSelector
		Tolerations []corev1.Toleration
	}{pod.Spec.NodeSelector, required, pod.Spec.Tolerations})
	if err != nil {
		return "" // not shared
	}
	return string(raw)
}

// allowance answers Need.Allowed from the session's predicates, as
// Volcano's preempt and reclaim read them (PredicateForPreemptAction),
// asking each pod and node once. The pod's required node affinity and its
// tolerations of the node's NoSchedule and NoExecute taints are checked
// first (component-helpers, as kube-scheduler's NodeAffinity and
// TaintToleration filters do, whose failures no eviction resolves), and
// that check is shared by the pods of the pass with the same terms: a
// unit that no node could take is ruled out without the session's
// predicates, which cost more, and its kind is ruled out once.
type allowance struct {
	pass     *pass
	tasks    []*api.TaskInfo
	pre      []bool // the pod passed its pre-predicates
	affinity []nodeaffinity.RequiredNodeAffinity
	shared   []map[string]bool // by node: the first check, shared by pods of the same placementTerms
	memo     []map[string]bool
}

func (a *allowance) allowed(pod int, node string) bool {
	if !a.pre[pod] {
		return false
	}
	if ok, found := a.memo[pod][node]; found {
		return ok
	}
	n := a.pass.ssn.Nodes[node]
	if n == nil || !a.placeable(pod, n) {
		return false // placeable remembers
	}
	ok := a.pass.ssn.PredicateForPreemptAction(a.tasks[pod], n) == nil
	a.memo[pod][node] = ok
	return ok
}

func (a *allowance) placeable(pod int, n *api.NodeInfo) bool {
	if n.Node == nil {
		return true // the session's predicates decide
	}
	shared := a.shared[pod]
	if ok, found := shared[n.Name]; found {
		return ok
	}
	ok, _ := a.affinity[pod].Match(n.Node)
	if ok {
		hard := func(t *corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}
		_, untolerated := corev1helpers.FindMatchingUntoleratedTaint(n.Node.Spec.Taints, a.tasks[pod].Pod.Spec.Tolerations, hard)
		ok = !untolerated
	}
	shared[n.Name] = ok
	return ok
}

// within names the nodes with some free room in each resource req asks
// for more than zero of: the shortest such list (every node when req
// asks for nothing).
func (p *pass) within(req Resources) []string {
	var out []string
	first := true
	for res, q := range req {
		if q <= 0 {
			continue
		}
		if nodes := p.withRoom[res]; first || len(nodes) < len(out) {
			out, first = nodes, false
		}
	}
	if first {
		for n := range p.free {
			out = append(out, n)
		}
	}
	return out
}
