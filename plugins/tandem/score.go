package tandem

// maxNodeScore matches Volcano's and kube-scheduler's node score scale, so
// a weight of 1 here counts like a weight of 1 on nodeorder or binpack.
const maxNodeScore = 100

// Placement is what the scorers know about the pod being placed.
type Placement struct {
	Role, Instance string
	// Peers are the other pods of its unit that already have a node.
	Peers []Member
	// Avoid holds the spread-tier HyperNodes that already hold another
	// unit of the group; nil when the group does not ask to spread.
	Avoid map[string]bool
	// Accelerators the pod requests.
	Accelerators float64
	// Fit says how closely groups of the unit's pods still to place fit
	// around each node: the whole rest of the unit, and this pod with one
	// pod of every other role (the KV peer it will need). Where Proximity
	// has no peer to go by, the mean of their Proximity stands in for it.
	Fit []*FitTiers
}

// Usage counts the accelerators of one tier-1 HyperNode.
type Usage struct {
	Allocatable, Used float64
}

// Scorer weighs the three placement scores for one session.
type Scorer struct {
	Topology *Topology
	// Domains maps each tier-1 HyperNode to its accelerator usage.
	Domains map[string]*Usage
	// Nodes maps each node to its accelerator usage, NodeTypes to its
	// accelerator type (the AcceleratorLabel value), for FitTiers.
	Nodes     map[string]*Usage
	NodeTypes map[string]string
	Args      Args
}

// Score is the weighted placement score of node for p, on Volcano's scale
// (each part in [0,1] times its weight times 100).
func (s *Scorer) Score(p Placement, node string) float64 {
	total := 0.0
	if s.Args.ProximityWeight > 0 {
		prox, ok := Proximity(s.Topology, p, node)
		if !ok && len(p.Fit) > 0 {
			for _, f := range p.Fit {
				prox += f.Proximity(node) / float64(len(p.Fit))
			}
			ok = true
		}
		if ok {
			total += s.Args.ProximityWeight * prox
		}
	}
	if s.Args.PackingWeight > 0 && p.Accelerators > 0 {
		total += s.Args.PackingWeight * Packing(s.Domains[s.Topology.Domain(node, 1)], p.Accelerators)
	}
	if s.Args.SpreadWeight > 0 && p.Avoid != nil {
		total += s.Args.SpreadWeight * Spread(s.Topology, s.Args.SpreadTier, p.Avoid, node)
	}
	return total * maxNodeScore
}

// Proximity scores node by how close it is to the unit's placed pods: for
// the other ranks of the same instance (tensor-parallel traffic) and for
// the pods of the other roles (KV-cache transfer between prefill and
// decode), 1 - d/(MaxTier+1) where d is the tier distance to the nearest
// such pod; the mean of the two when both apply. ok is false when no such
// pod is placed yet, and the node gets no proximity preference.
func Proximity(t *Topology, p Placement, node string) (score float64, ok bool) {
	far := t.MaxTier() + 1
	nearestRank, nearestRole := far+1, far+1
	for _, peer := range p.Peers {
		if peer.Node == "" {
			continue
		}
		d := t.Distance(node, peer.Node)
		switch {
		case peer.Role == p.Role && peer.Instance == p.Instance:
			nearestRank = min(nearestRank, d)
		case peer.Role != p.Role:
			nearestRole = min(nearestRole, d)
		}
	}
	sum, n := 0.0, 0
	for _, d := range []int{nearestRank, nearestRole} {
		if d <= far {
			sum += 1 - float64(d)/float64(far)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// Packing scores a node by the fill of its tier-1 HyperNode after placing
// request accelerators there: fuller is better, and a domain nothing uses
// yet scores 0, so empty domains are opened last and stay whole for large
// instances. A node outside any domain scores 0.
func Packing(domain *Usage, request float64) float64 {
	if domain == nil || domain.Used <= 0 || domain.Allocatable <= 0 {
		return 0
	}
	return min(1, (domain.Used+request)/domain.Allocatable)
}

// Spread scores 1 for a node outside the HyperNodes to avoid, else 0.
func Spread(t *Topology, tier int, avoid map[string]bool, node string) float64 {
	if avoid[t.Domain(node, tier)] {
		return 0
	}
	return 1
}

// WholeFreeDomains counts the tier-1 HyperNodes with no accelerator in use:
// the fragmentation measure (more is better; large instances need them).
func WholeFreeDomains(domains map[string]*Usage) int {
	n := 0
	for _, d := range domains {
		if d.Used <= 0 && d.Allocatable > 0 {
			n++
		}
	}
	return n
}
