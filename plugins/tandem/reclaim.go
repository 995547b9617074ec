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
// least work). It tries every set of 1..maxVictims gangs, so candidates
// should be trimmed to a few dozen. Every pod of a chosen gang goes; a
// gang is never split. ok is false when no such set exists.
func ChooseVictims(need Need, free map[string]Resources, gangs []Gang, maxVictims int) (victims []string, ok bool) {
	if Fits(need, free, nil) {
		return nil, true
	}
	order := append([]Gang(nil), gangs...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].Created.After(order[j].Created) })
	for k := 1; k <= maxVictims && k <= len(order); k++ {
		if set, ok := firstFeasible(need, free, order, k); ok {
			for _, i := range set {
				victims = append(victims, order[i].ID)
			}
			return victims, true
		}
	}
	return nil, false
}

// firstFeasible walks the k-subsets of gangs in lexicographic order of
// their indexes (youngest first) and returns the first that frees enough.
func firstFeasible(need Need, free map[string]Resources, gangs []Gang, k int) ([]int, bool) {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	for {
		chosen := make([]Gang, k)
		for i, g := range idx {
			chosen[i] = gangs[g]
		}
		if Fits(need, free, chosen) {
			return idx, true
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
// with the least room that still fits it (best fit).
func Fits(need Need, free map[string]Resources, released []Gang) bool {
	room := map[string]Resources{}
	for node, f := range free {
		room[node] = Resources{}
		room[node].add(f, 1)
	}
	for _, g := range released {
		for _, p := range g.Pods {
			if room[p.Node] == nil {
				room[p.Node] = Resources{}
			}
			room[p.Node].add(p.Request, 1)
		}
	}
	order := make([]int, len(need.Requests))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return size(need.Requests[order[a]]) > size(need.Requests[order[b]]) })
	nodes := make([]string, 0, len(room))
	for n := range room {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, pod := range order {
		req := need.Requests[pod]
		best, bestLeft := "", 0.0
		for _, n := range nodes {
			if !need.Allowed(pod, n) || !req.fits(room[n]) {
				continue
			}
			if left := size(room[n]) - size(req); best == "" || left < bestLeft {
				best, bestLeft = n, left
			}
		}
		if best == "" {
			return false
		}
		room[best].add(req, -1)
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
