package tandem

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"volcano.sh/volcano/pkg/scheduler/api"
	"volcano.sh/volcano/pkg/scheduler/framework"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// sessionState is what the plugin derives from one session's snapshot.
// Built in OnSessionOpen; afterwards only the event handlers (account)
// write to it, and Volcano runs those between, never during, scoring.
type sessionState struct {
	ssn    *framework.Session
	args   Args
	scorer *Scorer
	// nodeDomain maps a node to its tier-1 HyperNode, for account.
	nodeDomain map[string]string
	// groups maps namespace/group to the units of that ServingGroup.
	groups map[string][]*api.JobInfo
}

func newSessionState(ssn *framework.Session, args Args) *sessionState {
	members := map[int]map[string][]string{}
	for tier, hyperNodes := range ssn.HyperNodesSetByTier {
		members[tier] = map[string][]string{}
		for hn := range hyperNodes {
			members[tier][hn] = ssn.RealNodesSet[hn].UnsortedList()
		}
	}
	topo := NewTopology(members)
	s := &sessionState{
		ssn:        ssn,
		args:       args,
		scorer:     &Scorer{Topology: topo, Domains: map[string]*Usage{}, Nodes: map[string]*Usage{}, NodeTypes: map[string]string{}, Args: args},
		nodeDomain: map[string]string{},
		groups:     map[string][]*api.JobInfo{},
	}
	res := corev1.ResourceName(args.AcceleratorResource)
	for name, node := range ssn.Nodes {
		nu := &Usage{}
		if node.Allocatable != nil {
			nu.Allocatable = node.Allocatable.Get(res)
		}
		if node.Used != nil {
			nu.Used = node.Used.Get(res)
		}
		s.scorer.Nodes[name] = nu
		if node.Node != nil {
			s.scorer.NodeTypes[name] = node.Node.Labels[args.AcceleratorLabel]
		}
		domain := topo.Domain(name, 1)
		if domain == "" {
			continue
		}
		s.nodeDomain[name] = domain
		u := s.scorer.Domains[domain]
		if u == nil {
			u = &Usage{}
			s.scorer.Domains[domain] = u
		}
		if node.Allocatable != nil {
			u.Allocatable += node.Allocatable.Get(res)
		}
		if node.Used != nil {
			u.Used += node.Used.Get(res)
		}
	}
	for _, job := range ssn.Jobs {
		if isServing(job) {
			key := job.Namespace + "/" + job.PodGroup.Labels[v1alpha1.LabelGroup]
			s.groups[key] = append(s.groups[key], job)
		}
	}
	return s
}

// account moves a task's accelerators into (sign 1) or out of (sign -1) its
// node and the node's tier-1 domain.
func (s *sessionState) account(t *api.TaskInfo, sign float64) {
	n := sign * acceleratorRequest(t, s.args.AcceleratorResource)
	if u := s.scorer.Domains[s.nodeDomain[t.NodeName]]; u != nil {
		u.Used += n
	}
	if u := s.scorer.Nodes[t.NodeName]; u != nil {
		u.Used += n
	}
}

// rules reads the unit's role rules from its PodGroup's sub-group policies
// (one per role, written by the controller).
func rules(job *api.JobInfo) []RoleRule {
	var out []RoleRule
	for _, p := range job.PodGroup.Spec.SubGroupPolicy {
		r := RoleRule{Role: p.Name, Size: 1, MinInstances: 1}
		if p.SubGroupSize != nil {
			r.Size = int(*p.SubGroupSize)
		}
		if p.MinSubGroups != nil {
			r.MinInstances = int(*p.MinSubGroups)
		}
		out = append(out, r)
	}
	return out
}

// unitReady applies RolesReady to a job; non-serving jobs are always ready
// as far as this plugin is concerned.
func (s *sessionState) unitReady(job *api.JobInfo, pipelined bool) (bool, string) {
	if !isServing(job) {
		return true, ""
	}
	var ms []Member
	for _, t := range job.Tasks {
		if placed(t.Status, pipelined) {
			ms = append(ms, member(t))
		}
	}
	ready, why := RolesReady(rules(job), ms)
	if !ready {
		klog.V(5).InfoS("Unit not ready", "job", klog.KRef(job.Namespace, job.Name), "reason", why)
	}
	return ready, why
}

func (s *sessionState) predicate(t *api.TaskInfo, node *api.NodeInfo) error {
	role := t.Pod.Labels[v1alpha1.LabelRole]
	if role == "" || node.Node == nil {
		return nil
	}
	types := AcceleratorTypes(t.Pod, s.args.AcceleratorLabel)
	if why := AcceleratorMismatch(role, types, s.args.AcceleratorLabel, node.Node.Labels); why != "" {
		return api.NewFitErrWithStatus(t, node, &api.Status{Code: api.UnschedulableAndUnresolvable, Reason: why, Plugin: Name})
	}
	return nil
}

// scoreNodes is the batch node order callback: one placement view per
// task, then a pure score per node.
func (s *sessionState) scoreNodes(t *api.TaskInfo, nodes []*api.NodeInfo) (map[string]float64, error) {
	job := s.ssn.Jobs[t.Job]
	if job == nil || !isServing(job) {
		return nil, nil
	}
	p := s.placement(t, job)
	scores := make(map[string]float64, len(nodes))
	for _, n := range nodes {
		scores[n.Name] = s.scorer.Score(p, n.Name)
	}
	return scores, nil
}

// demand is what FitTiers needs of a pod.
func (s *sessionState) demand(t *api.TaskInfo) Demand {
	return Demand{Accelerators: acceleratorRequest(t, s.args.AcceleratorResource), Types: AcceleratorTypes(t.Pod, s.args.AcceleratorLabel)}
}

func (s *sessionState) placement(t *api.TaskInfo, job *api.JobInfo) Placement {
	me := member(t)
	p := Placement{Role: me.Role, Instance: me.Instance, Accelerators: acceleratorRequest(t, s.args.AcceleratorResource)}
	self := s.demand(t)
	rest := []Demand{self}         // the unit's pods without a node, t first
	partner := map[string]Demand{} // per other role, its smallest pod without a node
	for _, peer := range job.Tasks {
		switch {
		case peer.UID == t.UID:
		case peer.NodeName != "" && placed(peer.Status, true):
			p.Peers = append(p.Peers, member(peer))
		case peer.Status == api.Pending:
			d := s.demand(peer)
			rest = append(rest, d)
			if role := peer.Pod.Labels[v1alpha1.LabelRole]; role != me.Role {
				if old, ok := partner[role]; !ok || d.Accelerators < old.Accelerators {
					partner[role] = d
				}
			}
		}
	}
	// Used only where Proximity finds no placed peer (see Score).
	if len(rest) > 1 {
		p.Fit = append(p.Fit, NewFitTiers(s.scorer.Topology, s.scorer.Nodes, s.scorer.NodeTypes, rest))
	}
	if len(partner) > 0 {
		pair := []Demand{self}
		for _, role := range slices.Sorted(maps.Keys(partner)) {
			pair = append(pair, partner[role])
		}
		p.Fit = append(p.Fit, NewFitTiers(s.scorer.Topology, s.scorer.Nodes, s.scorer.NodeTypes, pair))
	}
	if job.PodGroup.Annotations[v1alpha1.AnnotationSpreadUnits] == "true" {
		p.Avoid = map[string]bool{}
		key := job.Namespace + "/" + job.PodGroup.Labels[v1alpha1.LabelGroup]
		for _, other := range s.groups[key] {
			if other.UID == job.UID {
				continue
			}
			for _, ot := range other.Tasks {
				if ot.NodeName != "" && placed(ot.Status, true) {
					if d := s.scorer.Topology.Domain(ot.NodeName, s.args.SpreadTier); d != "" {
						p.Avoid[d] = true
					}
				}
			}
		}
	}
	return p
}
