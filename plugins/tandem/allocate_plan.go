package tandem

import (
	"math"
	"slices"
	"sort"
	"strings"
)

// PlanUnit is a unit's pods still to place, as tandem-allocate's planner
// sees them: pure data, no Volcano types.
type PlanUnit struct {
	Pods      []PlanPod
	Instances []PlanInstance
	// Tier, when above 0, is the unit's hard tier: all its pods (and its
	// anchors) inside one HyperNode of that tier.
	Tier int
	// Anchors are the nodes the unit's already placed pods hold.
	Anchors []Anchor
	// Allowed, when set, says whether a pod may go to a node at all; the
	// action fills it from the session's predicates it has already asked.
	Allowed func(pod, node int) bool
}

// PlanPod is one pod still to place.
type PlanPod struct {
	Role     string
	Instance int // index into PlanUnit.Instances
	Request  Resources
	// Types are the accelerator types the pod accepts; nil: any.
	Types []string
}

// PlanInstance is one instance: its pods and its hard tier (0: none).
type PlanInstance struct {
	Role string
	Pods []int
	Tier int
}

// Anchor is a placed pod of the unit.
type Anchor struct {
	Role string
	Node int
}

// Plan is where a unit's pods go: Nodes[i] is pod i's node index.
type Plan struct {
	Nodes []int
	// Cost is KVCost of the plan; Tier the tier of the HyperNode chosen
	// first (MaxTier()+1: the whole cluster).
	Cost float64
	Tier int
}

// candidatesPerTier bounds how many HyperNodes of one tier are tried
// for a unit once one holds it: the best of a few is as good as the best
// of all in practice (they are tried fullest first), and trying all
// would cost what Volcano's allocate costs.
const candidatesPerTier = 2

// PlaceUnit chooses nodes for the unit, topology first: the lowest tier
// at which one HyperNode holds the whole unit (inside its hard tier),
// among that tier's HyperNodes those with enough free accelerators of the
// right types, partly used before whole free and fullest first, and only
// then the nodes inside (placeIn). The fleet is left as it was; the
// caller Takes the plan it keeps. ok is false when the unit fits nowhere
// by the planner's reckoning.
func (f *Fleet) PlaceUnit(u *PlanUnit) (Plan, bool) {
	order := podOrder(u)
	top := f.MaxTier() + 1
	limit := top
	if u.Tier > 0 && u.Tier < top {
		limit = u.Tier
	}
	inner, ok := f.instanceDomains(u)
	if !ok {
		return Plan{}, false // some hard-tier instance has no domain with room
	}
	for tier := 1; tier <= limit; tier++ {
		if tier == top && f.covered {
			break // the top tier's HyperNodes already held every node
		}
		var best Plan
		found := 0
		var bestKey planKey
		try := func(scope []int) {
			nodes, ok := f.placeIn(u, scope, order)
			if !ok {
				return
			}
			key := f.planKey(u, nodes)
			if found == 0 || key.less(bestKey) {
				best, bestKey = Plan{Nodes: nodes, Cost: key.cost, Tier: tier}, key
			}
			found++
		}
		if tier == top {
			all := make([]int, len(f.Nodes))
			for i := range all {
				all[i] = i
			}
			try(all)
		} else {
			cands := f.candidateDomains(u, tier, inner)
			last := tier == limit || (tier == top-1 && f.covered)
			for next := 0; next < len(cands) && found < candidatesPerTier && (last || next-found < maxMisses); next++ {
				if next%firstLook == 0 {
					sortFrom(cands, next, min(len(cands), next+firstLook))
				}
				try(f.Tiers[tier-1][cands[next].d].Nodes)
			}
		}
		if found > 0 {
			return best, true
		}
	}
	return Plan{}, false
}

// instanceDomains finds, for each tier of the unit's hard-tier instances,
// the HyperNodes of that tier with room for one of them by the counts
// (free accelerators, emptiest node, types). ok is false when an instance
// has none: then no scope can hold the unit, and PlaceUnit stops before
// looking at any node.
func (f *Fleet) instanceDomains(u *PlanUnit) (map[int][]int, bool) {
	out := map[int][]int{}
	for _, inst := range u.Instances {
		if inst.Tier <= 0 || inst.Tier > f.MaxTier() || len(inst.Pods) < 2 {
			continue
		}
		var accel, largest float64
		for _, p := range inst.Pods {
			a := u.Pods[p].Request[f.Accelerator]
			accel += a
			largest = max(largest, a)
		}
		types := u.Pods[inst.Pods[0]].Types
		var ds []int
		for i, d := range f.Tiers[inst.Tier-1] {
			if d.Free < accel || d.MaxFree < largest {
				continue
			}
			if len(types) > 0 {
				have := 0.0
				for _, t := range types {
					have += d.FreeByType[t]
				}
				if have < accel {
					continue
				}
			}
			ds = append(ds, i)
		}
		if len(ds) == 0 {
			return nil, false
		}
		if old, seen := out[inst.Tier]; !seen || len(ds) < len(old) {
			out[inst.Tier] = ds
		}
	}
	return out, true
}

// maxMisses bounds the HyperNodes of one tier that may turn out not to
// hold the unit (their counts allowed it, their nodes did not) before the
// next tier is tried (at the last tier the unit may use, every one is
// tried): without it a unit that only fits a tier up would
// look at every HyperNode of the tier below first, and a session's cost
// would grow with units × HyperNodes.
const maxMisses = 2 * firstLook

// firstLook is how many candidate HyperNodes are put in order at a time:
// most units take one of the first few, so sorting them all would cost
// more than placing the unit.
const firstLook = 8

type candidate struct {
	d        int
	partly   bool
	leftover float64
	name     string
}

func (a candidate) less(b candidate) bool {
	if a.partly != b.partly {
		return a.partly
	}
	if a.leftover != b.leftover {
		return a.leftover < b.leftover
	}
	return a.name < b.name
}

// sortFrom moves the smallest of c[from:] into c[from:to], in order
// (selection: cheap for a few of many).
func sortFrom(c []candidate, from, to int) {
	for i := from; i < to; i++ {
		m := i
		for j := i + 1; j < len(c); j++ {
			if c[j].less(c[m]) {
				m = j
			}
		}
		c[i], c[m] = c[m], c[i]
	}
}

// TakePlan moves the plan's requests out of the fleet.
func (f *Fleet) TakePlan(u *PlanUnit, p Plan) {
	for i, n := range p.Nodes {
		f.Take(n, u.Pods[i].Request)
	}
}

// GivePlan is TakePlan undone.
func (f *Fleet) GivePlan(u *PlanUnit, p Plan) {
	for i, n := range p.Nodes {
		f.Give(n, u.Pods[i].Request)
	}
}

// candidateDomains are the tier's HyperNodes that could hold the unit by
// their counts, unordered; PlaceUnit tries them partly used before whole
// free (a whole free domain is what a large instance needs later), then
// the fewest accelerators left over (best fit), then by name. inner holds,
// per tier of a hard-tier instance, the HyperNodes with room for it: a
// candidate above that tier must hold one.
func (f *Fleet) candidateDomains(u *PlanUnit, tier int, inner map[int][]int) []candidate {
	var accel, largest float64
	typed := map[string]float64{}
	typeSets := map[string][]string{}
	pieces := make([]float64, 0, len(u.Pods))
	for _, p := range u.Pods {
		a := p.Request[f.Accelerator]
		accel += a
		largest = max(largest, a)
		if a > 0 {
			pieces = append(pieces, a)
		}
		if len(p.Types) > 0 {
			k := strings.Join(p.Types, ",")
			typed[k] += a
			typeSets[k] = p.Types
		}
	}
	slices.SortFunc(pieces, func(a, b float64) int {
		switch {
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	anchorDomain := -1
	if u.Tier > 0 && u.Tier <= f.MaxTier() && len(u.Anchors) > 0 {
		anchorDomain = f.Nodes[u.Anchors[0].Node].Domains[u.Tier-1]
	}
	// holds[t] marks the candidates of this tier that hold a HyperNode of
	// inner[t] (t below this tier).
	var need []map[int]bool
	for t, ds := range inner {
		if t >= tier {
			continue
		}
		m := map[int]bool{}
		for _, d := range ds {
			if up := f.Nodes[f.Tiers[t-1][d].Nodes[0]].Domains[tier-1]; up >= 0 {
				m[up] = true
			}
		}
		need = append(need, m)
	}
	var cands []candidate
	for i, d := range f.Tiers[tier-1] {
		if d.Free < accel || d.MaxFree < largest || !d.Packs(pieces) {
			continue
		}
		ok := true
		for k, need := range typed {
			have := 0.0
			for _, t := range typeSets[k] {
				have += d.FreeByType[t]
			}
			if have < need {
				ok = false
				break
			}
		}
		for _, m := range need {
			ok = ok && m[i]
		}
		if !ok {
			continue
		}
		if anchorDomain >= 0 && f.Nodes[d.Nodes[0]].Domains[u.Tier-1] != anchorDomain {
			continue
		}
		cands = append(cands, candidate{d: i, partly: !d.WholeFree(), leftover: d.Free - accel, name: d.Name})
	}
	return cands
}

// podOrder is the order the greedy places a unit's pods in: instances
// with a hard tier first, then pods that accept fewer accelerator types,
// then larger pods; and the roles in turn (an instance of one role, then
// one of the next), so that each pod of a P/D unit is placed while its
// KV partner can still go next to it.
func podOrder(u *PlanUnit) []int {
	byRole := map[string][]int{} // role -> instance indexes
	var roles []string
	for i, inst := range u.Instances {
		if _, ok := byRole[inst.Role]; !ok {
			roles = append(roles, inst.Role)
		}
		byRole[inst.Role] = append(byRole[inst.Role], i)
	}
	weight := func(inst PlanInstance) (hard int, typed int, size float64) {
		hard = 0
		if inst.Tier > 0 {
			hard = 1
		}
		for _, p := range inst.Pods {
			if len(u.Pods[p].Types) > 0 {
				typed = 1
			}
			size += u.Pods[p].Request.sum()
		}
		return hard, typed, size
	}
	roleFirst := func(r string) PlanInstance { return u.Instances[byRole[r][0]] }
	sort.SliceStable(roles, func(i, j int) bool {
		hi, ti, si := weight(roleFirst(roles[i]))
		hj, tj, sj := weight(roleFirst(roles[j]))
		if hi != hj {
			return hi > hj
		}
		if ti != tj {
			return ti > tj
		}
		if si != sj {
			return si > sj
		}
		return roles[i] < roles[j]
	})
	var order []int
	for round := 0; ; round++ {
		added := false
		for _, r := range roles {
			if round < len(byRole[r]) {
				order = append(order, u.Instances[byRole[r][round]].Pods...)
				added = true
			}
		}
		if !added {
			return order
		}
	}
}

func (r Resources) sum() float64 {
	s := 0.0
	for _, q := range r {
		s += q
	}
	return s
}

// placeIn places the unit's pods on the scope's nodes: when they fit
// there at all (firstFit), one by one in order, each on the node with the
// best nodeKey whose choice still lets the rest of the unit fit
// (firstFit again); should that run out of tries, firstFit's own
// placement, which is feasible by construction. The fleet is left as it
// was.
func (f *Fleet) placeIn(u *PlanUnit, scope []int, order []int) ([]int, bool) {
	scope = f.withRoom(u, scope)
	assign := make([]int, len(u.Pods))
	for i := range assign {
		assign[i] = -1
	}
	fallback, ok := f.firstFit(u, scope, assign, order)
	if !ok {
		return nil, false
	}
	var taken []int
	defer func() {
		for _, p := range taken {
			f.Give(assign[p], u.Pods[p].Request)
		}
	}()
	for k, p := range order {
		rest := order[k+1:]
		tried := map[int]bool{}
		placed := false
		for attempt := 0; attempt < greedyTries && !placed; attempt++ {
			best, bestKey := -1, nodeKey{}
			for _, n := range scope {
				if tried[n] || !f.room(u, p, n, assign) {
					continue
				}
				key := f.nodeKey(u, p, n, assign, rest)
				if best < 0 || key.less(bestKey) {
					best, bestKey = n, key
				}
			}
			if best < 0 {
				break
			}
			tried[best] = true
			if u.Allowed != nil && !u.Allowed(p, best) {
				attempt-- // a refusal is not a try: the node was never a choice
				continue
			}
			assign[p] = best
			f.Take(best, u.Pods[p].Request)
			if _, ok := f.firstFit(u, scope, assign, rest); ok {
				taken = append(taken, p)
				placed = true
				continue
			}
			f.Give(best, u.Pods[p].Request)
			assign[p] = -1
		}
		if !placed {
			for q, n := range fallback {
				if u.Allowed != nil && !u.Allowed(q, n) {
					return nil, false
				}
			}
			return fallback, true
		}
	}
	return slices.Clone(assign), true
}

// withRoom keeps the scope's nodes with room for some pod of the unit by
// accelerators and type: late in a busy session most nodes of a large
// scope have none, and every step of placeIn scans the scope.
func (f *Fleet) withRoom(u *PlanUnit, scope []int) []int {
	smallest := math.Inf(1)
	anyType := false
	types := map[string]bool{}
	for _, p := range u.Pods {
		smallest = min(smallest, p.Request[f.Accelerator])
		if len(p.Types) == 0 {
			anyType = true
		}
		for _, t := range p.Types {
			types[t] = true
		}
	}
	out := make([]int, 0, len(scope))
	for _, n := range scope {
		node := &f.Nodes[n]
		if node.Free[f.Accelerator] >= smallest && (anyType || types[node.Type]) {
			out = append(out, n)
		}
	}
	return out
}

// greedyTries bounds the nodes the greedy tries for one pod before it
// settles for firstFit's placement.
const greedyTries = 6

// canHost reports whether pod p may go to node n now: room reports it
// and Allowed agrees.
func (f *Fleet) canHost(u *PlanUnit, p, n int, assign []int) bool {
	return f.room(u, p, n, assign) && (u.Allowed == nil || u.Allowed(p, n))
}

// room reports whether pod p could go to node n now by the planner's own
// reckoning: of an accepted type, with room, and inside its instance's
// hard tier next to the instance's pods already placed. Allowed (the
// session's predicates, which cost far more) is asked only of the nodes
// a plan ends up choosing.
func (f *Fleet) room(u *PlanUnit, p, n int, assign []int) bool {
	pod := &u.Pods[p]
	node := &f.Nodes[n]
	if len(pod.Types) > 0 && !slices.Contains(pod.Types, node.Type) {
		return false
	}
	if !pod.Request.fits(node.Free) {
		return false
	}
	if inst := u.Instances[pod.Instance]; inst.Tier > 0 && inst.Tier <= f.MaxTier() {
		for _, q := range inst.Pods {
			if m := assign[q]; q != p && m >= 0 && node.Domains[inst.Tier-1] != f.Nodes[m].Domains[inst.Tier-1] {
				return false
			}
		}
	}
	return true
}

// nodeKey ranks a node for a pod; lower is better, field by field.
type nodeKey struct {
	// kv: tier distance to the nearest placed pod of another role of the
	// unit, or, before any is placed, how closely one pod of each other
	// role still fits around the node (pairTier).
	kv int
	// rank: distance to the nearest placed pod of the same instance.
	rank int
	// near: distance to the nearest placed pod of the unit at all.
	near int
	// opens: the node's tier-1 domain is whole free (taking it costs a
	// whole domain).
	opens int
	// domainLeft, nodeLeft: accelerators left in the node's tier-1
	// domain and on the node after the pod (fuller first).
	domainLeft, nodeLeft float64
	node                 int
}

func (a nodeKey) less(b nodeKey) bool {
	switch {
	case a.kv != b.kv:
		return a.kv < b.kv
	case a.rank != b.rank:
		return a.rank < b.rank
	case a.near != b.near:
		return a.near < b.near
	case a.opens != b.opens:
		return a.opens < b.opens
	case a.domainLeft != b.domainLeft:
		return a.domainLeft < b.domainLeft
	case a.nodeLeft != b.nodeLeft:
		return a.nodeLeft < b.nodeLeft
	}
	return a.node < b.node
}

func (f *Fleet) nodeKey(u *PlanUnit, p, n int, assign []int, rest []int) nodeKey {
	pod := &u.Pods[p]
	far := f.MaxTier() + 1
	k := nodeKey{node: n, kv: far + 1, rank: 0, near: 0}
	otherPlaced, nearest := false, far+1
	visit := func(role string, inst int, m int) {
		d := f.Distance(n, m)
		nearest = min(nearest, d)
		if role != pod.Role {
			otherPlaced = true
			k.kv = min(k.kv, d)
		} else if inst == pod.Instance && d > k.rank {
			k.rank = d
		}
	}
	for q, m := range assign {
		if m >= 0 && q != p {
			visit(u.Pods[q].Role, u.Pods[q].Instance, m)
		}
	}
	for _, a := range u.Anchors {
		visit(a.Role, -1, a.Node)
	}
	if nearest <= far {
		k.near = nearest
	}
	if !otherPlaced {
		k.kv = f.pairTier(u, p, n, rest)
	}
	node := &f.Nodes[n]
	acc := pod.Request[f.Accelerator]
	k.nodeLeft = node.Free[f.Accelerator] - acc
	if len(node.Domains) > 0 && node.Domains[0] >= 0 {
		d := f.Tiers[0][node.Domains[0]]
		if d.WholeFree() {
			k.opens = 1
		}
		k.domainLeft = d.Free - acc
	}
	return k
}

// pairTier is how closely a pod of each other role still to place fits
// next to pod p on node n: 0 on n itself, 1 in n's tier-1 domain, 2
// further (or no other role is left: 0).
func (f *Fleet) pairTier(u *PlanUnit, p, n int, rest []int) int {
	pod := &u.Pods[p]
	partners := map[string]int{}
	for _, q := range rest {
		if r := u.Pods[q].Role; r != pod.Role {
			if old, ok := partners[r]; !ok || u.Pods[q].Request.sum() < u.Pods[old].Request.sum() {
				partners[r] = q
			}
		}
	}
	if len(partners) == 0 {
		return 0
	}
	worst := 0
	node := &f.Nodes[n]
	for _, q := range partners {
		qp := &u.Pods[q]
		if typeOK(qp.Types, node.Type) && qp.Request.fitsBeside(pod.Request, node.Free) {
			continue
		}
		tier := 2
		if len(node.Domains) > 0 && node.Domains[0] >= 0 {
			for _, m := range f.Tiers[0][node.Domains[0]].Nodes {
				if m != n && typeOK(qp.Types, f.Nodes[m].Type) && qp.Request.fits(f.Nodes[m].Free) {
					tier = 1
					break
				}
			}
		}
		worst = max(worst, tier)
	}
	return worst
}

// fitsBeside reports whether r fits in free once other is taken from it.
func (r Resources) fitsBeside(other, free Resources) bool {
	for name, q := range r {
		if q+other[name] > free[name] {
			return false
		}
	}
	return true
}

func typeOK(types []string, t string) bool { return len(types) == 0 || slices.Contains(types, t) }

// firstFit places the pods of rest on the scope's nodes as they are now
// (by room: it does not ask Allowed)
// and returns the whole assignment (assign with rest filled in): first
// each hard-tier instance whole into the fullest HyperNode of its tier
// that holds it, then the other pods larger first, and of equal ones
// those that accept fewer types; each pod on the node with the least room
// left (bestFit). ok is false when some pod finds no node.
func (f *Fleet) firstFit(u *PlanUnit, scope []int, assign []int, rest []int) ([]int, bool) {
	out := slices.Clone(assign)
	if len(rest) == 0 {
		return out, true
	}
	wanted := map[string]bool{} // types some typed pod of rest accepts
	for _, p := range rest {
		for _, t := range u.Pods[p].Types {
			wanted[t] = true
		}
	}
	var took []int
	defer func() {
		for _, p := range took {
			f.Give(out[p], u.Pods[p].Request)
		}
	}()
	// A hard-tier instance none of whose pods is placed yet goes whole
	// into one HyperNode of its tier: pod by pod it could start in a
	// domain its other ranks do not fit.
	groups, singles := f.instanceGroups(u, out, rest)
	for _, g := range groups {
		tier := u.Instances[u.Pods[g[0]].Instance].Tier
		byDomain := map[int][]int{}
		var domains []int
		for _, n := range scope {
			d := f.Nodes[n].Domains[tier-1]
			if _, ok := byDomain[d]; !ok && d >= 0 {
				domains = append(domains, d)
			}
			byDomain[d] = append(byDomain[d], n)
		}
		best, bestLeft := []int(nil), math.Inf(1)
		for _, d := range domains {
			nodes, ok := f.bestFit(u, byDomain[d], out, g, wanted)
			if !ok {
				continue
			}
			if left := f.Tiers[tier-1][d].Free; left < bestLeft {
				best, bestLeft = nodes, left
			}
		}
		if best == nil {
			return nil, false
		}
		for i, p := range g {
			out[p] = best[i]
			f.Take(best[i], u.Pods[p].Request)
			took = append(took, p)
		}
	}
	nodes, ok := f.bestFit(u, scope, out, singles, wanted)
	if !ok {
		return nil, false
	}
	for i, p := range singles {
		out[p] = nodes[i]
		f.Take(nodes[i], u.Pods[p].Request)
		took = append(took, p)
	}
	return out, true
}

// instanceGroups splits rest into the pods of hard-tier instances of
// several pods none of which is placed in assign (one group each, larger
// first) and the others (larger first, and of equal ones those that
// accept fewer types).
func (f *Fleet) instanceGroups(u *PlanUnit, assign []int, rest []int) (groups [][]int, singles []int) {
	inRest := map[int][]int{}
	for _, p := range rest {
		inRest[u.Pods[p].Instance] = append(inRest[u.Pods[p].Instance], p)
	}
	var keys []int
	for i := range inRest {
		keys = append(keys, i)
	}
	slices.Sort(keys)
	for _, i := range keys {
		inst := u.Instances[i]
		whole := len(inRest[i]) == len(inst.Pods) && len(inst.Pods) > 1 && inst.Tier > 0 && inst.Tier <= f.MaxTier()
		for _, p := range inst.Pods {
			whole = whole && assign[p] < 0
		}
		if whole {
			groups = append(groups, inRest[i])
		} else {
			singles = append(singles, inRest[i]...)
		}
	}
	size := func(ps []int) float64 {
		t := 0.0
		for _, p := range ps {
			t += u.Pods[p].Request[f.Accelerator]
		}
		return t
	}
	sort.SliceStable(groups, func(i, j int) bool { return size(groups[i]) > size(groups[j]) })
	sort.SliceStable(singles, func(i, j int) bool {
		a, b := &u.Pods[singles[i]], &u.Pods[singles[j]]
		if x, y := a.Request[f.Accelerator], b.Request[f.Accelerator]; x != y {
			return x > y
		}
		return len(a.Types) > 0 && len(b.Types) == 0
	})
	return groups, singles
}

// bestFit places pods in order on nodes, each on the node with the least
// accelerators left that has room, a pod that accepts any type on a node
// of a type no pod of wanted needs where it can; it returns each pod's
// node and leaves the fleet as it was.
func (f *Fleet) bestFit(u *PlanUnit, nodes []int, assign []int, pods []int, wanted map[string]bool) ([]int, bool) {
	tmp := slices.Clone(assign)
	out := make([]int, len(pods))
	var took []int
	defer func() {
		for _, p := range took {
			f.Give(tmp[p], u.Pods[p].Request)
		}
	}()
	for i, p := range pods {
		best, bestScarce := -1, false
		bestLeft := math.Inf(1)
		for _, n := range nodes {
			if !f.room(u, p, n, tmp) {
				continue
			}
			scarce := len(u.Pods[p].Types) == 0 && wanted[f.Nodes[n].Type]
			left := f.Nodes[n].Free[f.Accelerator] - u.Pods[p].Request[f.Accelerator]
			if best < 0 || (bestScarce && !scarce) || (scarce == bestScarce && left < bestLeft) {
				best, bestScarce, bestLeft = n, scarce, left
			}
		}
		if best < 0 {
			return nil, false
		}
		tmp[p], out[i] = best, best
		f.Take(best, u.Pods[p].Request)
		took = append(took, p)
	}
	return out, true
}

// planKey ranks complete plans of one unit: lower KV cost, then fewer
// whole free domains opened, then less room left in the domains used.
type planKey struct {
	cost   float64
	opened int
	left   float64
}

func (a planKey) less(b planKey) bool {
	switch {
	case a.cost != b.cost:
		return a.cost < b.cost
	case a.opened != b.opened:
		return a.opened < b.opened
	}
	return a.left < b.left
}

func (f *Fleet) planKey(u *PlanUnit, nodes []int) planKey {
	k := planKey{cost: KVCost(f, u, nodes)}
	seen := map[int]bool{}
	for i, n := range nodes {
		if len(f.Nodes[n].Domains) == 0 || f.Nodes[n].Domains[0] < 0 {
			continue
		}
		d := f.Nodes[n].Domains[0]
		if !seen[d] {
			seen[d] = true
			dom := f.Tiers[0][d]
			if dom.WholeFree() {
				k.opened++
			}
			k.left += dom.Free
		}
		k.left -= u.Pods[i].Request[f.Accelerator]
	}
	return k
}

// KVCost is the unit's KV-transfer distance under the plan: for a unit
// with prefill and decode roles, the mean over its decode pods of the
// tier distance to the nearest prefill pod (the measure the scheduler
// benchmark reports); for other units with several roles, the same over
// the pods of every role but the first to the nearest pod of another
// role; 0 for a one-role unit. Anchors count as placed pods.
func KVCost(f *Fleet, u *PlanUnit, nodes []int) float64 {
	type at struct {
		role string
		node int
	}
	var all []at
	for i, n := range nodes {
		all = append(all, at{u.Pods[i].Role, n})
	}
	for _, a := range u.Anchors {
		all = append(all, at{a.Role, a.Node})
	}
	roles := map[string]bool{}
	for _, a := range all {
		roles[a.role] = true
	}
	if len(roles) < 2 {
		return 0
	}
	from := func(a at) bool { return a.role == "decode" }
	to := func(b at) bool { return b.role == "prefill" }
	if !roles["prefill"] || !roles["decode"] {
		first := ""
		for r := range roles {
			if first == "" || r < first {
				first = r
			}
		}
		from = func(a at) bool { return a.role != first }
		to = func(b at) bool { return true }
	}
	sum, n := 0, 0
	for _, a := range all {
		if !from(a) {
			continue
		}
		best := math.MaxInt
		for _, b := range all {
			if to(b) && b.role != a.role {
				best = min(best, f.Distance(a.node, b.node))
			}
		}
		sum += best
		n++
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}
