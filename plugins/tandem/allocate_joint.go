package tandem

import (
	"slices"
	"sort"
)

// Joint placement bounds: a session with at most jointMaxUnits units
// (jointMaxPods pods) pending, whose greedy plans fall in at most
// jointMaxNodes nodes' racks, is searched as a whole; larger sessions are
// placed unit by unit (the search's cost grows exponentially).
const (
	jointMaxUnits  = 8
	jointMaxPods   = 24
	jointMaxNodes  = 64
	jointMaxVisits = 5_000
)

// OrderUnits returns the order to place units in (indexes into units):
// most constrained first — a hard unit tier before none and the lower tier
// first, then units with pods that accept only some accelerator types,
// then more accelerators, then more pods — so that the units with the
// fewest places to go choose before the others take them; ties keep the
// given order (the caller's priority and age).
func OrderUnits(units []*PlanUnit, accelerator string) []int {
	type key struct {
		tier        int // hard tier, math.MaxInt-ish for none
		typed       bool
		accel, pods float64
	}
	keys := make([]key, len(units))
	for i, u := range units {
		k := key{tier: 1 << 30}
		if u.Tier > 0 {
			k.tier = u.Tier
		}
		for _, p := range u.Pods {
			k.typed = k.typed || len(p.Types) > 0
			k.accel += p.Request[accelerator]
		}
		k.pods = float64(len(u.Pods))
		keys[i] = k
	}
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := keys[order[i]], keys[order[j]]
		switch {
		case a.tier != b.tier:
			return a.tier < b.tier
		case a.typed != b.typed:
			return a.typed
		case a.accel != b.accel:
			return a.accel > b.accel
		}
		return a.pods > b.pods
	})
	return order
}

// JointScope is the nodes a joint search may use: every node of the
// tier-2 HyperNodes (racks; tier 1 when there is no tier 2) that the
// plans use, or the whole cluster when some unit has no plan (nil Nodes)
// and the cluster is small enough; nil when that is more than
// jointMaxNodes nodes.
func (f *Fleet) JointScope(plans []Plan) []int {
	tier := min(2, f.MaxTier())
	for _, p := range plans {
		if p.Nodes == nil && len(f.Nodes) <= jointMaxNodes {
			all := make([]int, len(f.Nodes))
			for i := range all {
				all[i] = i
			}
			return all
		}
	}
	if tier == 0 {
		return nil
	}
	seen := map[int]bool{}
	var out []int
	for _, p := range plans {
		for _, n := range p.Nodes {
			d := f.Nodes[n].Domains[tier-1]
			if d < 0 || seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, f.Tiers[tier-1][d].Nodes...)
		}
	}
	if len(out) > jointMaxNodes {
		return nil
	}
	slices.Sort(out)
	return out
}

// PlaceJointly searches, branch and bound, for plans of all the units
// together on the scope's nodes that beat start (the greedy's plans; a
// unit it could not place has nil Nodes): by placing every unit where
// start did not, then by total KVCost, then by whole free tier-1 domains
// opened: units in the given order, each unit's pods in podOrder, each
// pod on every node that can host it, best nodeKey first. Two nodes of
// one tier-1 domain with the same type and free accelerators that hold no
// pod of the unit yet are alike, so only the first is tried; and of two
// identical one-pod instances of a role, the later takes a node no lower
// in order than the earlier (they could swap). A branch is cut once its
// placed units already cost more than the best found. The search stops
// after jointMaxVisits placements and returns the best found (start when
// nothing beat it). The fleet is left as it was.
func (f *Fleet) PlaceJointly(units []*PlanUnit, start []Plan, scope []int) []Plan {
	s := &jointSearch{f: f, units: units, scope: scope, budget: jointMaxVisits}
	s.best = slices.Clone(start)
	s.bestCost, s.bestOpened = f.jointCost(units, start)
	for _, p := range start {
		if p.Nodes != nil {
			s.bestPlaced++
		}
	}
	s.orders = make([][]int, len(units))
	s.twins = make([][]int, len(units))
	for i, u := range units {
		s.orders[i] = podOrder(u)
		s.twins[i] = twins(u, s.orders[i])
	}
	s.assign = make([][]int, len(units))
	for i, u := range units {
		s.assign[i] = make([]int, len(u.Pods))
		for j := range s.assign[i] {
			s.assign[i][j] = -1
		}
	}
	s.wholeAtStart = map[int]bool{}
	for i, d := range f.Tiers0() {
		if d.WholeFree() {
			s.wholeAtStart[i] = true
		}
	}
	s.dfs(0, 0, 0)
	return s.best
}

// Tiers0 are the tier-1 domains (none without HyperNodes).
func (f *Fleet) Tiers0() []*Domain {
	if len(f.Tiers) == 0 {
		return nil
	}
	return f.Tiers[0]
}

// jointCost is the total KVCost of the plans and the whole free tier-1
// domains they open, on the fleet as it is (none of them taken).
func (f *Fleet) jointCost(units []*PlanUnit, plans []Plan) (float64, int) {
	cost := 0.0
	opened := map[int]bool{}
	for i, p := range plans {
		if p.Nodes == nil {
			continue
		}
		cost += KVCost(f, units[i], p.Nodes)
		for _, n := range p.Nodes {
			if d := f.domain1(n); d >= 0 && f.Tiers[0][d].WholeFree() {
				opened[d] = true
			}
		}
	}
	return cost, len(opened)
}

func (f *Fleet) domain1(n int) int {
	if len(f.Nodes[n].Domains) == 0 {
		return -1
	}
	return f.Nodes[n].Domains[0]
}

type jointSearch struct {
	f            *Fleet
	units        []*PlanUnit
	scope        []int
	orders       [][]int
	twins        [][]int // per unit, per pod: an earlier identical pod, or -1
	assign       [][]int
	wholeAtStart map[int]bool
	best         []Plan
	bestCost     float64
	bestOpened   int
	bestPlaced   int
	visits       int
	budget       int
}

// twins maps each pod to the latest earlier pod in order that it could
// swap with (same role, request and types, both one-pod instances without
// a hard tier), or -1.
func twins(u *PlanUnit, order []int) []int {
	out := make([]int, len(u.Pods))
	for i := range out {
		out[i] = -1
	}
	single := func(p int) bool {
		inst := u.Instances[u.Pods[p].Instance]
		return len(inst.Pods) == 1 && inst.Tier == 0
	}
	for k, p := range order {
		if !single(p) {
			continue
		}
		for j := k - 1; j >= 0; j-- {
			q := order[j]
			a, b := &u.Pods[p], &u.Pods[q]
			if single(q) && a.Role == b.Role && slices.Equal(a.Types, b.Types) && sameResources(a.Request, b.Request) {
				out[p] = q
				break
			}
		}
	}
	return out
}

func sameResources(a, b Resources) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (s *jointSearch) opened() int {
	n := 0
	for d := range s.wholeAtStart {
		if !s.f.Tiers[0][d].WholeFree() {
			n++
		}
	}
	return n
}

// dfs places pod k of unit ui; cost is the KVCost of units before ui.
func (s *jointSearch) dfs(ui, k int, cost float64) {
	if s.visits >= s.budget {
		return
	}
	if ui == len(s.units) {
		opened := s.opened()
		if s.bestPlaced < len(s.units) || cost < s.bestCost-1e-9 || (cost < s.bestCost+1e-9 && opened < s.bestOpened) {
			s.bestCost, s.bestOpened, s.bestPlaced = cost, opened, len(s.units)
			for i := range s.units {
				s.best[i] = Plan{Nodes: slices.Clone(s.assign[i]), Cost: KVCost(s.f, s.units[i], s.assign[i])}
			}
		}
		return
	}
	u, order, assign := s.units[ui], s.orders[ui], s.assign[ui]
	if k == len(order) {
		c := cost + KVCost(s.f, u, assign)
		if s.bestPlaced == len(s.units) && (c > s.bestCost+1e-9 || (c > s.bestCost-1e-9 && s.opened() >= s.bestOpened)) {
			return
		}
		s.dfs(ui+1, 0, c)
		return
	}
	p := order[k]
	rest := order[k+1:]
	lowest := -1
	if t := s.twins[ui][p]; t >= 0 {
		lowest = assign[t]
	}
	type cand struct {
		n   int
		key nodeKey
	}
	var cands []cand
	// Alike nodes: same domain, type and free accelerators, CPU and
	// memory. Other resources are not compared: a wrong match can only
	// cost the search a better plan, never a wrong one (canHost checks
	// every node tried).
	type alikeKey struct {
		domain        int
		typ           string
		acc, cpu, mem float64
	}
	alike := map[alikeKey]bool{}
	for _, n := range s.scope {
		if n < lowest || !s.f.canHost(u, p, n, assign) {
			continue
		}
		if !s.holdsUnit(assign, n) {
			node := &s.f.Nodes[n]
			sig := alikeKey{s.f.domain1(n), node.Type, node.Free[s.f.Accelerator], node.Free["cpu"], node.Free["memory"]}
			if alike[sig] {
				continue
			}
			alike[sig] = true
		}
		cands = append(cands, cand{n, s.f.nodeKey(u, p, n, assign, rest)})
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].key.less(cands[j].key) })
	for _, c := range cands {
		s.visits++
		assign[p] = c.n
		s.f.Take(c.n, u.Pods[p].Request)
		s.dfs(ui, k+1, cost)
		s.f.Give(c.n, u.Pods[p].Request)
		assign[p] = -1
		if s.visits >= s.budget {
			return
		}
	}
}

func (s *jointSearch) holdsUnit(assign []int, n int) bool {
	return slices.Contains(assign, n)
}
