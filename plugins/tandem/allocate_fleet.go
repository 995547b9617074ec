package tandem

import "slices"

// Fleet is tandem-allocate's view of the cluster for one session: every
// node's free room, accelerator type and HyperNode at each tier, and per
// HyperNode the free accelerators of its nodes in total, by type and on
// its emptiest node. It is built once per session (O(nodes × tiers)) and
// kept current as units are placed (Take, Give: O(tiers + domain size)),
// so choosing a domain for a unit reads a few numbers per HyperNode
// instead of every node.
type Fleet struct {
	// Accelerator is the resource name the domain counts are kept in.
	Accelerator string
	Nodes       []FleetNode
	// Tiers[t-1] are the HyperNodes of tier t (1 = the NVLink domain).
	Tiers [][]*Domain
	index map[string]int
	// covered: the top tier's HyperNodes hold every node.
	covered bool
}

// FleetNode is a node as the planner sees it.
type FleetNode struct {
	Name string
	// Type is the node's accelerator type (the acceleratorLabel value).
	Type string
	// Free is what the node has idle, by resource name.
	Free Resources
	// Capacity is the node's allocatable accelerators, for telling whole
	// free domains from partly used ones.
	Capacity float64
	// Domains[t-1] is the index in Tiers[t-1] of the HyperNode of tier t
	// holding the node, -1 for none.
	Domains []int
}

// Domain is one HyperNode: its nodes and their free accelerators.
type Domain struct {
	Name  string
	Tier  int
	Nodes []int
	// Free and Capacity sum the nodes' accelerators; FreeByType by node
	// type; MaxFree is the most any one node has free (exact at tier 1,
	// an upper bound above: it only prunes).
	Free, Capacity float64
	FreeByType     map[string]float64
	MaxFree        float64
	// NodeFree are the nodes' free accelerators, largest first, kept for
	// HyperNodes of at most sortedNodes nodes (nil above), so that a
	// HyperNode whose free accelerators are scattered in pieces too small
	// for the unit's pods is passed over without looking at its nodes.
	NodeFree []float64
}

// sortedNodes bounds the HyperNodes whose NodeFree is kept: a rack's is
// cheap to keep in order, a spine's is not worth it (it is the last
// resort anyway).
const sortedNodes = 128

// FleetInput describes one node for NewFleet.
type FleetInput struct {
	Name, Type string
	Free       Resources
	Capacity   float64
}

// NewFleet builds the view from the nodes and the topology (nodes not in
// topo belong to no HyperNode).
func NewFleet(accelerator string, topo *Topology, nodes []FleetInput) *Fleet {
	f := &Fleet{Accelerator: accelerator, index: make(map[string]int, len(nodes))}
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b FleetInput) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	maxTier := topo.MaxTier()
	f.Tiers = make([][]*Domain, maxTier)
	byName := make([]map[string]int, maxTier)
	for t := range byName {
		byName[t] = map[string]int{}
	}
	for i, in := range sorted {
		n := FleetNode{Name: in.Name, Type: in.Type, Free: in.Free, Capacity: in.Capacity, Domains: make([]int, maxTier)}
		if n.Free == nil {
			n.Free = Resources{}
		}
		for t := 1; t <= maxTier; t++ {
			hn := topo.Domain(in.Name, t)
			if hn == "" {
				n.Domains[t-1] = -1
				continue
			}
			d, ok := byName[t-1][hn]
			if !ok {
				d = len(f.Tiers[t-1])
				byName[t-1][hn] = d
				f.Tiers[t-1] = append(f.Tiers[t-1], &Domain{Name: hn, Tier: t, FreeByType: map[string]float64{}})
			}
			n.Domains[t-1] = d
			f.Tiers[t-1][d].Nodes = append(f.Tiers[t-1][d].Nodes, i)
		}
		f.Nodes = append(f.Nodes, n)
		f.index[in.Name] = i
	}
	for _, tier := range f.Tiers {
		for _, d := range tier {
			f.recount(d)
		}
	}
	f.covered = maxTier > 0
	for _, n := range f.Nodes {
		if maxTier > 0 && n.Domains[maxTier-1] < 0 {
			f.covered = false
		}
	}
	return f
}

// MaxTier is the highest HyperNode tier.
func (f *Fleet) MaxTier() int { return len(f.Tiers) }

// Index returns the node's index, or -1.
func (f *Fleet) Index(name string) int {
	if i, ok := f.index[name]; ok {
		return i
	}
	return -1
}

// Distance is Topology.Distance on node indexes: 0 for the same node, the
// lowest tier whose HyperNode holds both, MaxTier()+1 when none does.
func (f *Fleet) Distance(a, b int) int {
	if a == b {
		return 0
	}
	da, db := f.Nodes[a].Domains, f.Nodes[b].Domains
	for t := range da {
		if da[t] >= 0 && da[t] == db[t] {
			return t + 1
		}
	}
	return len(f.Tiers) + 1
}

// Take moves req out of node's free room; Give puts it back.
func (f *Fleet) Take(node int, req Resources) { f.move(node, req, -1) }

// Give is Take undone.
func (f *Fleet) Give(node int, req Resources) { f.move(node, req, 1) }

func (f *Fleet) move(node int, req Resources, sign float64) {
	n := &f.Nodes[node]
	n.Free.add(req, sign)
	acc := req[f.Accelerator]
	if acc == 0 {
		return
	}
	for t, d := range n.Domains {
		if d < 0 {
			continue
		}
		dom := f.Tiers[t][d]
		dom.Free += sign * acc
		dom.FreeByType[n.Type] += sign * acc
		if t == 0 || dom.NodeFree != nil {
			f.recountMax(dom)
		} else if sign > 0 {
			dom.MaxFree = max(dom.MaxFree, n.Free[f.Accelerator])
		}
		// Above tier 1, MaxFree may stay above the truth after a Take: it
		// only prunes, so an overestimate costs a look, never a unit, and
		// recounting a rack on every pod would cost more than it saves.
	}
}

func (f *Fleet) recount(d *Domain) {
	d.Free, d.Capacity = 0, 0
	clear(d.FreeByType)
	for _, i := range d.Nodes {
		n := &f.Nodes[i]
		free := n.Free[f.Accelerator]
		d.Free += free
		d.Capacity += n.Capacity
		d.FreeByType[n.Type] += free
	}
	f.recountMax(d)
}

func (f *Fleet) recountMax(d *Domain) {
	d.MaxFree = 0
	keep := len(d.Nodes) <= sortedNodes
	if keep {
		d.NodeFree = d.NodeFree[:0]
	}
	for _, i := range d.Nodes {
		free := f.Nodes[i].Free[f.Accelerator]
		d.MaxFree = max(d.MaxFree, free)
		if keep {
			d.NodeFree = append(d.NodeFree, free)
		}
	}
	if keep {
		slices.SortFunc(d.NodeFree, func(a, b float64) int {
			switch {
			case a > b:
				return -1
			case a < b:
				return 1
			}
			return 0
		})
	}
}

// Packs reports whether pieces (largest first) fit in the domain's
// nodes' free accelerators by best fit — by accelerator count alone, so
// a necessary check only in spirit: best fit can miss a packing that
// exists, which costs a unit this HyperNode, never a wrong placement. A
// domain without NodeFree always packs.
func (d *Domain) Packs(pieces []float64) bool {
	if d.NodeFree == nil || len(pieces) == 0 {
		return true
	}
	var buf [sortedNodes]float64
	room := buf[:len(d.NodeFree)]
	copy(room, d.NodeFree)
	for _, p := range pieces {
		best := -1
		for i, r := range room {
			if r >= p && (best < 0 || r < room[best]) {
				best = i
			}
		}
		if best < 0 {
			return false
		}
		room[best] -= p
	}
	return true
}

// WholeFree reports whether none of the domain's accelerators is in use.
func (d *Domain) WholeFree() bool { return d.Capacity > 0 && d.Free >= d.Capacity }

// WholeFreeDomains counts the tier-1 domains none of whose accelerators
// is in use.
func (f *Fleet) WholeFreeDomains() int {
	n := 0
	if len(f.Tiers) == 0 {
		return 0
	}
	for _, d := range f.Tiers[0] {
		if d.WholeFree() {
			n++
		}
	}
	return n
}

// Clone copies the fleet so that a plan can be tried and thrown away.
func (f *Fleet) Clone() *Fleet {
	out := &Fleet{Accelerator: f.Accelerator, Nodes: make([]FleetNode, len(f.Nodes)), Tiers: make([][]*Domain, len(f.Tiers)), index: f.index, covered: f.covered}
	for i, n := range f.Nodes {
		n.Free = Resources(copyMap(n.Free))
		out.Nodes[i] = n
	}
	for t, tier := range f.Tiers {
		out.Tiers[t] = make([]*Domain, len(tier))
		for i, d := range tier {
			c := *d
			c.FreeByType = copyMap(d.FreeByType)
			c.NodeFree = slices.Clone(d.NodeFree)
			out.Tiers[t][i] = &c
		}
	}
	return out
}

func copyMap(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
