package tandem

import (
	"sort"
	"time"
)

// Resources is a request or a free amount by resource name (CPU in
// millicores, memory in bytes, extended resources in units).
type Resources map[string]float64

func (r Resources) fits(free Resources) bool {
	for name, q := range r {
		if q > free[name] {
			return false
		}
	}
	return true
}

func (r Resources) add(o Resources, sign float64) {
	for name, q := range o {
		r[name] += sign * q
	}
}

// Held is one running pod of a gang that could be reclaimed.
type Held struct {
	Node    string
	Request Resources
}

// Gang is a batch job that could give its nodes back, whole.
type Gang struct {
	ID      string
	Created time.Time
	Pods    []Held
}

// Need is what a pending serving unit must place: one request per pod,
// which nodes each pod may use at all (affinity, taints, accelerator
// types — everything but free capacity), and the unit's hard topology.
type Need struct {
	Requests []Resources
	Allowed  func(pod int, node string) bool
	// Unit, when set, names the HyperNode of the unit's hard tier holding
	// a node: every pod must go to nodes of one such HyperNode ("" holds
	// none).
	Unit func(node string) string
	// Together are groups of pods (instances under a hard tier) that must
	// each go to nodes of one HyperNode of their Domain. A pod is in at
	// most one group.
	Together []Together
}

// Together is a group of pods held inside one HyperNode of a tier.
type Together struct {
	Pods   []int
	Domain func(node string) string
}

// ChooseVictims picks the gangs to reclaim so that need fits: the fewest
// gangs, and among equally few the youngest (a young batch job loses the
// least work), of the sets that approve allows (nil allows every set).
// It tries every set of 1..maxVictims gangs, so candidates should be
// trimmed to a few dozen; approve is asked only of sets that free enough.
// Every pod of a chosen gang goes; a gang is never split. ok is false
// when no such set exists.
func ChooseVictims(need Need, free map[string]Resources, gangs []Gang, maxVictims int, approve func([]Gang) bool) (victims []string, ok bool) {
	return chooseVictims(newFitter(need, free), gangs, maxVictims, approve)
}

// chooseVictims is ChooseVictims with the need and free room in a fitter
// the caller may have asked already.
func chooseVictims(f *fitter, gangs []Gang, maxVictims int, approve func([]Gang) bool) (victims []string, ok bool) {
	if f.fits(nil) {
		return nil, true
	}
	order := append([]Gang(nil), gangs...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Created.After(order[j].Created) })
	accept := func(set []Gang) bool {
		return f.fits(set) && (approve == nil || approve(set))
	}
	for k := 1; k <= maxVictims && k <= len(order); k++ {
		if set, ok := firstAccepted(order, k, accept); ok {
			for _, g := range set {
				victims = append(victims, g.ID)
			}
			return victims, true
		}
	}
	return nil, false
}

// firstAccepted walks the k-subsets of gangs in lexicographic order of
// their indexes (youngest first) and returns the first that accept takes.
func firstAccepted(gangs []Gang, k int, accept func([]Gang) bool) ([]Gang, bool) {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	chosen := make([]Gang, k)
	for {
		for i, g := range idx {
			chosen[i] = gangs[g]
		}
		if accept(chosen) {
			return chosen, true
		}
		// Next combination.
		i := k - 1
		for i >= 0 && idx[i] == len(gangs)-k+i {
			i--
		}
		if i < 0 {
			return nil, false
		}
		idx[i]++
		for j := i + 1; j < k; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

// Fits reports whether the need's pods can all be placed once the released
// gangs' pods are gone, within the need's hard tiers: for each HyperNode
// of the unit's tier in turn (by name), the groups largest first, each
// group in the first HyperNode of its tier where all its pods fit, each
// pod on the allowed node with the least room that still fits it (best
// fit, largest request first, ties to the first node by name). It is a
// greedy placement, so it may miss a placement that exists; what it
// finds is a placement allocate could make.
func Fits(need Need, free map[string]Resources, released []Gang) bool {
	return newFitter(need, free).fits(released)
}

// fitter answers Fits for one need and one free map, many times: the
// victim search asks it of every candidate set. It keeps, per pod, the
// allowed nodes where the pod fits the free room as it is; only those and
// the nodes a release adds room to can take the pod, so a call costs the
// pods times those nodes, not times the cluster. Allowed is asked only
// where the request fits (it may be costly: the session's predicates).
type fitter struct {
	need Need
	free map[string]Resources
	// blocks are the pods to place together, largest first: each
	// Together group (domain set), every other pod alone (domain nil).
	blocks []block
	now    [][]string // by pod: allowed nodes its request fits now, sorted
}

type block struct {
	pods   []int // largest request first
	domain func(node string) string
}

func newFitter(need Need, free map[string]Resources) *fitter {
	return newFitterOver(need, free, nil)
}

// newFitterOver is newFitter looking, for each request, only at the
// nodes within(request) names (nil: every node of free); within must
// name every node whose free room the request fits.
func newFitterOver(need Need, free map[string]Resources, within func(Resources) []string) *fitter {
	f := &fitter{need: need, free: free, now: make([][]string, len(need.Requests))}
	bigger := func(a, b int) bool { return size(need.Requests[a]) > size(need.Requests[b]) }
	grouped := map[int]bool{}
	for _, g := range need.Together {
		pods := append([]int(nil), g.Pods...)
		sort.SliceStable(pods, func(i, j int) bool { return bigger(pods[i], pods[j]) })
		f.blocks = append(f.blocks, block{pods: pods, domain: g.Domain})
		for _, p := range pods {
			grouped[p] = true
		}
	}
	for pod := range need.Requests {
		if !grouped[pod] {
			f.blocks = append(f.blocks, block{pods: []int{pod}})
		}
	}
	total := func(b block) float64 {
		t := 0.0
		for _, p := range b.pods {
			t += size(need.Requests[p])
		}
		return t
	}
	sort.SliceStable(f.blocks, func(i, j int) bool { return total(f.blocks[i]) > total(f.blocks[j]) })
	for pod, req := range need.Requests {
		consider := func(n string) {
			if req.fits(free[n]) && need.Allowed(pod, n) {
				f.now[pod] = append(f.now[pod], n)
			}
		}
		if within == nil {
			for n := range free {
				consider(n)
			}
		} else {
			for _, n := range within(req) {
				consider(n)
			}
		}
		sort.Strings(f.now[pod])
	}
	return f
}

// try is one placement attempt: the rooms that differ from free.
type try struct {
	f     *fitter
	room  map[string]Resources
	grown []string // nodes released onto, sorted
}

func (t *try) roomOf(n string) Resources {
	if r, ok := t.room[n]; ok {
		return r
	}
	return t.f.free[n]
}

func (t *try) touch(n string) Resources {
	if r, ok := t.room[n]; ok {
		return r
	}
	r := Resources{}
	r.add(t.f.free[n], 1)
	t.room[n] = r
	return r
}

func (t *try) clone() *try {
	c := &try{f: t.f, room: make(map[string]Resources, len(t.room)), grown: t.grown}
	for n, r := range t.room {
		c.room[n] = Resources{}
		c.room[n].add(r, 1)
	}
	return c
}

func (f *fitter) fits(released []Gang) bool {
	t := &try{f: f, room: map[string]Resources{}}
	for _, g := range released {
		for _, p := range g.Pods {
			t.touch(p.Node).add(p.Request, 1)
		}
	}
	for n := range t.room {
		t.grown = append(t.grown, n)
	}
	sort.Strings(t.grown)
	if f.need.Unit == nil {
		return t.placeAll(func(string) bool { return true })
	}
	for _, d := range t.domains(allPods(len(f.need.Requests)), f.need.Unit, func(string) bool { return true }) {
		if t.clone().placeAll(func(n string) bool { return f.need.Unit(n) == d }) {
			return true
		}
	}
	return false
}

func allPods(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// placeAll places every block on nodes in accepts; false when one does
// not fit (t is then spent).
func (t *try) placeAll(in func(string) bool) bool {
	for _, b := range t.f.blocks {
		if b.domain == nil {
			if !t.placePods(b.pods, in) {
				return false
			}
			continue
		}
		placed := false
		for _, d := range t.domains(b.pods, b.domain, in) {
			trial := t.clone()
			if trial.placePods(b.pods, func(n string) bool { return in(n) && b.domain(n) == d }) {
				t.room = trial.room
				placed = true
				break
			}
		}
		if !placed {
			return false
		}
	}
	return true
}

// domains are the HyperNodes of domain, sorted, holding a node that in
// accepts and that some of pods could use.
func (t *try) domains(pods []int, domain func(string) string, in func(string) bool) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if d := domain(n); d != "" && !seen[d] && in(n) {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, p := range pods {
		for _, n := range t.f.now[p] {
			add(n)
		}
	}
	for _, n := range t.grown {
		add(n)
	}
	sort.Strings(out)
	return out
}

// placePods places each pod best fit on a node in accepts.
func (t *try) placePods(pods []int, in func(string) bool) bool {
	for _, pod := range pods {
		req := t.f.need.Requests[pod]
		best, bestLeft := "", 0.0
		consider := func(n string) {
			if !in(n) {
				return
			}
			r := t.roomOf(n)
			if !req.fits(r) || !t.f.need.Allowed(pod, n) {
				return
			}
			if left := size(r) - size(req); best == "" || left < bestLeft || (left == bestLeft && n < best) {
				best, bestLeft = n, left
			}
		}
		for _, n := range t.f.now[pod] {
			consider(n)
		}
		for _, n := range t.grown {
			consider(n)
		}
		if best == "" {
			return false
		}
		t.touch(best).add(req, -1)
	}
	return true
}

// size orders requests and leftovers: accelerators dominate, then CPU.
func size(r Resources) float64 {
	total := 0.0
	for name, q := range r {
		switch name {
		case "cpu":
			total += q / 1000
		case "memory":
			total += q / (1 << 30) / 8
		default:
			total += q * 1000
		}
	}
	return total
}
