package schedulerbench

import (
	"cmp"
	"math"
	"slices"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Optimum is the best mean P↔D distance any placement of all a small
// case's units could reach.
type Optimum struct {
	// Feasible is false when no placement holds every unit (then the
	// other fields mean nothing).
	Feasible bool
	// Exact is true when the search finished: Lower == Upper is the
	// optimum. Otherwise the search stopped at its budget and the optimum
	// lies in [Lower, Upper].
	Exact bool
	// Lower is a proven lower bound (the exact optimum when Exact): the
	// mean, over the P/D units, of each unit's best distance placed
	// alone on the initial cluster, or the search's optimum.
	Lower float64
	// Upper is the best placement found.
	Upper float64
	// Visits counts the pods placed during the search.
	Visits int
}

// searchPod is one pod to place: its role, which instance of the unit it
// belongs to, GPUs and allowed products (nil: any).
type searchPod struct {
	role     string
	instance int
	gpus     int
	types    []string
	// twin is true when the pod is interchangeable with the one before it
	// (another rank of the same instance, or another one-pod instance of
	// the same role): its node index may then not be lower, which removes
	// orderings of identical pods without losing any placement.
	twin bool
}

type searchUnit struct {
	pods []searchPod
	// unitTier and instanceTier are hard limits (0: none).
	unitTier, instanceTier int
	// prefill and decode count the unit's pods of those roles.
	prefill, decode int
}

// problem is a small placement problem: nodes with free GPUs and a
// product, their tier-N HyperNodes, and the units.
type problem struct {
	names   []string
	product []string
	free    []int
	// domainAt[tier][node] is a number for the node's tier-N HyperNode.
	domainAt map[int][]int
	maxTier  int
	dist     [][]int
	units    []searchUnit
}

// newProblem builds the search problem for placing every unit of shapes
// on f, with used GPUs already taken on some nodes.
func newProblem(f localcluster.Fleet, topo *tandem.Topology, used map[string]int, shapes []Shape) *problem {
	p := &problem{domainAt: map[int][]int{}, maxTier: topo.MaxTier()}
	nodes := f.Nodes()
	ids := map[string]int{}
	for _, n := range nodes {
		p.names = append(p.names, n.Name)
		p.product = append(p.product, n.Labels[localcluster.GPUProductLabel])
		p.free = append(p.free, f.GPUsPerNode-used[n.Name])
	}
	for tier := 1; tier <= p.maxTier; tier++ {
		for _, n := range p.names {
			d := topo.Domain(n, tier)
			if _, ok := ids[d]; !ok {
				ids[d] = len(ids)
			}
			p.domainAt[tier] = append(p.domainAt[tier], ids[d])
		}
	}
	p.dist = make([][]int, len(nodes))
	for i := range p.names {
		p.dist[i] = make([]int, len(nodes))
		for j := range p.names {
			p.dist[i][j] = topo.Distance(p.names[i], p.names[j])
		}
	}
	for _, s := range shapes {
		p.units = append(p.units, searchUnitOf(s))
	}
	return p
}

// searchUnitOf lists a unit's pods with every instance placed: prefill
// first, then decode, then the other roles, so that each decode pod's
// distance is known the moment it is placed.
func searchUnitOf(s Shape) searchUnit {
	u := searchUnit{}
	if s.Mode == v1alpha1.TopologyHard {
		u.unitTier, u.instanceTier = int(s.UnitTier), int(s.InstanceTier)
	}
	roles := slices.Clone(s.Roles)
	rank := func(r Role) int {
		switch r.Name {
		case "prefill":
			return 0
		case "decode":
			return 1
		}
		return 2
	}
	slices.SortStableFunc(roles, func(a, b Role) int { return cmp.Compare(rank(a), rank(b)) })
	instance := 0
	for _, r := range roles {
		for i := range int(r.Replicas) {
			for k := range int(r.Size) {
				twin := k > 0 || (i > 0 && r.Size == 1)
				u.pods = append(u.pods, searchPod{role: r.Name, instance: instance, gpus: int(r.GPU), types: r.Types, twin: twin})
				switch r.Name {
				case "prefill":
					u.prefill++
				case "decode":
					u.decode++
				}
			}
			instance++
		}
	}
	return u
}

// optimum searches every placement of all units (branch and bound, with
// interchangeable pods and equivalent nodes tried once) for the smallest
// mean P↔D distance, visiting at most budget pods.
func (p *problem) optimum(budget int) Optimum {
	pdUnits := 0
	for _, u := range p.units {
		if u.prefill > 0 && u.decode > 0 {
			pdUnits++
		}
	}
	// Each unit alone on the initial cluster bounds its share from below.
	lower := make([]float64, len(p.units)+1) // lower[i]: Σ bounds of units i..
	for i := len(p.units) - 1; i >= 0; i-- {
		alone := &problem{names: p.names, product: p.product, free: p.free, domainAt: p.domainAt, maxTier: p.maxTier, dist: p.dist, units: p.units[i : i+1]}
		s := newSearch(alone, nil, budget)
		s.unit(0, 0)
		if !s.found && !s.aborted {
			return Optimum{Exact: true, Visits: s.visits} // this unit fits nowhere
		}
		b := 0.0
		if s.found && !s.aborted {
			b = s.best
		}
		lower[i] = lower[i+1] + b
	}
	s := newSearch(p, lower, budget)
	s.unit(0, 0)
	out := Optimum{Feasible: s.found || s.aborted, Exact: !s.aborted, Visits: s.visits}
	mean := func(sum float64) float64 {
		if pdUnits == 0 {
			return 0
		}
		return sum / float64(pdUnits)
	}
	switch {
	case out.Exact && s.found:
		out.Lower, out.Upper = mean(s.best), mean(s.best)
	case out.Exact:
		out.Feasible = false
	default:
		out.Lower, out.Upper = mean(lower[0]), math.Inf(1)
		if s.found {
			out.Upper = mean(s.best)
		}
	}
	return out
}

type search struct {
	p      *problem
	free   []int
	assign [][]int // unit -> pod -> node
	hosts  []int   // node -> pods of the current unit on it
	lower  []float64
	best   float64
	found  bool
	visits int
	budget int
	// aborted: the budget ran out before the search finished.
	aborted bool
}

func newSearch(p *problem, lower []float64, budget int) *search {
	s := &search{p: p, free: slices.Clone(p.free), hosts: make([]int, len(p.free)), lower: lower, best: math.Inf(1), budget: budget}
	if s.lower == nil {
		s.lower = make([]float64, len(p.units)+1)
	}
	for _, u := range p.units {
		s.assign = append(s.assign, make([]int, len(u.pods)))
	}
	return s
}

const eps = 1e-9

// unit places unit u and the rest, having spent cost on the units before.
func (s *search) unit(u int, cost float64) {
	if s.aborted || cost+s.lower[u] >= s.best-eps {
		return
	}
	if u == len(s.p.units) {
		s.best, s.found = cost, true
		return
	}
	s.pod(u, 0, cost, 0)
}

// pod places pod k of unit u; partial is the sum of the nearest-prefill
// distances of the unit's decode pods placed so far.
func (s *search) pod(u, k int, cost, partial float64) {
	unit := &s.p.units[u]
	share := func(sum float64) float64 {
		if unit.prefill == 0 || unit.decode == 0 {
			return 0
		}
		return sum / float64(unit.decode)
	}
	if s.aborted || cost+share(partial)+s.lower[u+1] >= s.best-eps {
		return
	}
	if k == len(unit.pods) {
		s.unit(u+1, cost+share(partial))
		return
	}
	s.visits++
	if s.visits > s.budget {
		s.aborted = true
		return
	}
	pod := unit.pods[k]
	for _, n := range s.candidates(u, k) {
		extra := 0.0
		if pod.role == "decode" && unit.prefill > 0 {
			extra = float64(s.nearestPrefill(u, n))
		}
		s.free[n] -= pod.gpus
		s.hosts[n]++
		s.assign[u][k] = n
		s.pod(u, k+1, cost, partial+extra)
		s.hosts[n]--
		s.free[n] += pod.gpus
	}
}

// candidates are the nodes pod k of unit u may go to, nearest to the
// unit's placed pods first, one per class of equivalent nodes (same
// tier-1 domain, product and free GPUs, holding none of the unit's pods:
// swapping two such nodes in everything placed from here on changes
// nothing, so only the lowest-numbered one needs trying).
func (s *search) candidates(u, k int) []int {
	unit := &s.p.units[u]
	pod := unit.pods[k]
	lo := 0
	if pod.twin {
		lo = s.assign[u][k-1]
	}
	type cand struct{ node, dist int }
	var out []cand
	for n := lo; n < len(s.free); n++ {
		if !s.fits(u, k, n) {
			continue
		}
		dup := false
		if s.hosts[n] == 0 {
			for _, c := range out {
				m := c.node
				if s.hosts[m] == 0 && s.p.domainAt[1][m] == s.p.domainAt[1][n] && s.p.product[m] == s.p.product[n] && s.free[m] == s.free[n] {
					dup = true
					break
				}
			}
		}
		if !dup {
			out = append(out, cand{n, s.nearestPlaced(u, k, n)})
		}
	}
	slices.SortStableFunc(out, func(a, b cand) int { return cmp.Compare(a.dist, b.dist) })
	nodes := make([]int, len(out))
	for i, c := range out {
		nodes[i] = c.node
	}
	return nodes
}

func (s *search) fits(u, k, n int) bool {
	unit := &s.p.units[u]
	pod := unit.pods[k]
	if s.free[n] < pod.gpus {
		return false
	}
	if len(pod.types) > 0 && !slices.Contains(pod.types, s.p.product[n]) {
		return false
	}
	for j := range k {
		m := s.assign[u][j]
		if t := unit.unitTier; t > 0 && t <= s.p.maxTier && s.p.domainAt[t][m] != s.p.domainAt[t][n] {
			return false
		}
		if t := unit.instanceTier; t > 0 && t <= s.p.maxTier && unit.pods[j].instance == pod.instance && s.p.domainAt[t][m] != s.p.domainAt[t][n] {
			return false
		}
	}
	return true
}

// nearestPlaced is the distance from n to the nearest pod of unit u placed
// before pod k (0 when none is): the order in which candidates are tried.
func (s *search) nearestPlaced(u, k, n int) int {
	best := 0
	for j := range k {
		d := s.p.dist[n][s.assign[u][j]]
		if j == 0 || d < best {
			best = d
		}
	}
	return best
}

func (s *search) nearestPrefill(u, n int) int {
	unit := &s.p.units[u]
	best := math.MaxInt
	for j := range unit.prefill { // prefill pods come first
		best = min(best, s.p.dist[n][s.assign[u][j]])
	}
	return best
}
