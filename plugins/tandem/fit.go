package tandem

import (
	"slices"
	"sort"
)

// Demand is a pod of a unit that still needs a node: the accelerators it
// asks for and the accelerator types it accepts (nil: any).
type Demand struct {
	Accelerators float64
	Types        []string
}

// FitTiers says, for the pods of a unit that still need a node, how
// closely they could all be placed around a given node: the unit's first
// pod then goes where the rest of the unit fits next to it, instead of
// into a gap that only it fills (which would scatter the unit and open
// another domain for the rest). Each HyperNode's verdict is computed once
// and remembered, so asking for every node of a cluster costs about one
// pass over the cluster. A FitTiers belongs to one scoring call.
type FitTiers struct {
	topo  *Topology
	nodes map[string]*Usage
	types map[string]string
	rest  []Demand // largest first
	memo  map[string]bool
}

// NewFitTiers prepares the question for rest on the nodes' current
// accelerator usage and types (the node label values).
func NewFitTiers(topo *Topology, nodes map[string]*Usage, types map[string]string, rest []Demand) *FitTiers {
	sorted := slices.Clone(rest)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Accelerators > sorted[j].Accelerators })
	return &FitTiers{topo: topo, nodes: nodes, types: types, rest: sorted, memo: map[string]bool{}}
}

// Tier is the lowest tier at which every pod of rest fits around node: 0
// on the node itself, N on the nodes of its tier-N HyperNode, MaxTier()+1
// when nowhere.
func (f *FitTiers) Tier(node string) int {
	if f.fits([]string{node}) {
		return 0
	}
	for tier := 1; tier <= f.topo.MaxTier(); tier++ {
		hn := f.topo.Domain(node, tier)
		if hn == "" {
			continue
		}
		ok, seen := f.memo[hn]
		if !seen {
			ok = f.fits(f.topo.Members(hn))
			f.memo[hn] = ok
		}
		if ok {
			return tier
		}
	}
	return f.topo.MaxTier() + 1
}

// Proximity turns Tier into Proximity's scale: a unit that fits on the
// node scores as a pod next to its peer would.
func (f *FitTiers) Proximity(node string) float64 {
	return 1 - float64(f.Tier(node))/float64(f.topo.MaxTier()+1)
}

// fits places rest on nodes largest first, each pod on the accepting node
// with the least room that still holds it (best fit).
func (f *FitTiers) fits(nodes []string) bool {
	room := make([]float64, len(nodes))
	for i, n := range nodes {
		if u := f.nodes[n]; u != nil {
			room[i] = u.Allocatable - u.Used
		}
	}
	for _, d := range f.rest {
		best := -1
		for i, n := range nodes {
			if room[i] < d.Accelerators || (len(d.Types) > 0 && !slices.Contains(d.Types, f.types[n])) {
				continue
			}
			if best < 0 || room[i] < room[best] {
				best = i
			}
		}
		if best < 0 {
			return false
		}
		room[best] -= d.Accelerators
	}
	return true
}
