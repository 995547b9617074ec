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
// and which nodes each pod may use at all (affinity, taints,
// accelerator types — everything but free capacity).
type Need struct {
	Requests []Resources
	Allowed  func(pod int, node string) bool
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
// gangs' pods are gone: largest request first, each on the allowed node
// with the least room that still fits it (best fit, ties to the first
// node by name).
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
	need  Need
	free  map[string]Resources
	order []int      // pods, largest request first
	now   [][]string // by pod: allowed nodes its request fits now, sorted
}

func newFitter(need Need, free map[string]Resources) *fitter {
	return newFitterOver(need, free, nil)
}

// newFitterOver is newFitter looking, for each request, only at the
// nodes within(request) names (nil: every node of free); within must
// name every node whose free room the request fits.
func newFitterOver(need Need, free map[string]Resources, within func(Resources) []string) *fitter {
	f := &fitter{need: need, free: free, order: make([]int, len(need.Requests)), now: make([][]string, len(need.Requests))}
	for i := range f.order {
		f.order[i] = i
	}
	sort.SliceStable(f.order, func(a, b int) bool { return size(need.Requests[f.order[a]]) > size(need.Requests[f.order[b]]) })
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

func (f *fitter) fits(released []Gang) bool {
	// room holds the nodes whose room differs from free: released onto
	// or placed on in this call.
	room := map[string]Resources{}
	touch := func(n string) Resources {
		if r, ok := room[n]; ok {
			return r
		}
		r := Resources{}
		r.add(f.free[n], 1)
		room[n] = r
		return r
	}
	for _, g := range released {
		for _, p := range g.Pods {
			touch(p.Node).add(p.Request, 1)
		}
	}
	grown := make([]string, 0, len(room))
	for n := range room {
		grown = append(grown, n)
	}
	sort.Strings(grown)
	roomOf := func(n string) Resources {
		if r, ok := room[n]; ok {
			return r
		}
		return f.free[n]
	}
	for _, pod := range f.order {
		req := f.need.Requests[pod]
		best, bestLeft := "", 0.0
		consider := func(n string) {
			r := roomOf(n)
			if !req.fits(r) || !f.need.Allowed(pod, n) {
				return
			}
			if left := size(r) - size(req); best == "" || left < bestLeft || (left == bestLeft && n < best) {
				best, bestLeft = n, left
			}
		}
		for _, n := range f.now[pod] {
			consider(n)
		}
		for _, n := range grown {
			consider(n)
		}
		if best == "" {
			return false
		}
		touch(best).add(req, -1)
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
