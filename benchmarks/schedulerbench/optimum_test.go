package schedulerbench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// bruteForce tries every assignment of every pod to every node: the
// reference the pruned, symmetry-reduced search must agree with.
func bruteForce(p *problem) (float64, bool) {
	type ref struct{ u, k int }
	var pods []ref
	for u, unit := range p.units {
		for k := range unit.pods {
			pods = append(pods, ref{u, k})
		}
	}
	assign := make([]int, len(pods))
	best, found := math.Inf(1), false
	var rec func(i int)
	rec = func(i int) {
		if i < len(pods) {
			for n := range p.names {
				assign[i] = n
				rec(i + 1)
			}
			return
		}
		free := slices.Clone(p.free)
		nodes := make([][]int, len(p.units))
		for i, r := range pods {
			n := assign[i]
			pod := p.units[r.u].pods[r.k]
			free[n] -= pod.gpus
			if free[n] < 0 || (len(pod.types) > 0 && !slices.Contains(pod.types, p.product[n])) {
				return
			}
			nodes[r.u] = append(nodes[r.u], n)
		}
		cost, pdUnits := 0.0, 0
		for u, unit := range p.units {
			for j, a := range nodes[u] {
				for k, b := range nodes[u] {
					if t := unit.unitTier; t > 0 && t <= p.maxTier && p.domainAt[t][a] != p.domainAt[t][b] {
						return
					}
					if t := unit.instanceTier; t > 0 && t <= p.maxTier && unit.pods[j].instance == unit.pods[k].instance && p.domainAt[t][a] != p.domainAt[t][b] {
						return
					}
				}
			}
			var prefill, decode []int
			for k, pod := range unit.pods {
				switch pod.role {
				case "prefill":
					prefill = append(prefill, nodes[u][k])
				case "decode":
					decode = append(decode, nodes[u][k])
				}
			}
			if d, ok := meanNearest(func(a, b int) int { return p.dist[a][b] }, prefill, decode); ok {
				cost += d
				pdUnits++
			}
		}
		if pdUnits > 0 {
			cost /= float64(pdUnits)
		}
		if cost < best {
			best, found = cost, true
		}
	}
	rec(0)
	return best, found
}

func TestOptimumAgreesWithBruteForce(t *testing.T) {
	small := []Shape{
		{Name: "1p1d", Roles: []Role{{"prefill", 1, 1, 1, 4, nil}, {"decode", 1, 1, 1, 4, nil}}},
		{Name: "2p1d", Roles: []Role{{"prefill", 2, 2, 1, 2, nil}, {"decode", 1, 1, 1, 4, nil}}},
		{Name: "1p2d-h200", Roles: []Role{{"prefill", 1, 1, 1, 4, nil}, {"decode", 2, 2, 1, 2, []string{"H200"}}}},
		{Name: "tp2-hard", InstanceTier: 1, UnitTier: 2, Mode: v1alpha1.TopologyHard,
			Roles: []Role{{"prefill", 1, 1, 2, 4, nil}, {"decode", 1, 1, 1, 4, nil}}},
		{Name: "agg", Roles: []Role{{"engine", 1, 1, 1, 2, nil}}},
	}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 1))
		f := localcluster.Fleet{Racks: 2, NodesPerRack: 2 + 2*rng.IntN(2), DomainSize: 2, GPUsPerNode: 8,
			Products: Products, CPU: "96", Memory: "1Ti"}
		used := map[string]int{}
		for _, n := range f.Nodes() {
			if rng.IntN(3) == 0 {
				used[n.Name] = 1 + rng.IntN(7)
			}
		}
		var shapes []Shape
		pods := 0
		for pods < 4 {
			s := small[rng.IntN(len(small))]
			for _, r := range s.Roles {
				pods += int(r.Replicas * r.Size)
			}
			shapes = append(shapes, s)
		}
		if pods > 6 {
			continue // keep brute force small
		}
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			p := newProblem(f, scenario.Topology(f), used, shapes)
			want, feasible := bruteForce(p)
			got := p.optimum(1_000_000)
			if got.Feasible != feasible || !got.Exact || (feasible && math.Abs(got.Lower-want) > 1e-9) {
				t.Errorf("shapes %v on %d nodes, used %v: search %+v, brute force %v (feasible %v)", names(shapes), len(p.names), used, got, want, feasible)
			}
		})
	}
}

func TestOptimumBoundWhenBudgetRunsOut(t *testing.T) {
	f := localcluster.Fleet{Racks: 2, NodesPerRack: 8, DomainSize: 2, GPUsPerNode: 8, Products: Products, CPU: "96", Memory: "1Ti"}
	var shapes []Shape
	for range 4 {
		shapes = append(shapes, Shapes[1]) // 2p1d
	}
	p := newProblem(f, scenario.Topology(f), map[string]int{"gpu-r0-n0": 7, "gpu-r0-n2": 5}, shapes)
	exact := p.optimum(10_000_000)
	cut := p.optimum(3)
	if !exact.Exact || cut.Exact || cut.Lower > exact.Lower+1e-9 || cut.Upper < exact.Upper-1e-9 {
		t.Errorf("exact %+v; with a budget of 3: %+v, want a range holding the optimum", exact, cut)
	}
}

func names(shapes []Shape) []string {
	var out []string
	for _, s := range shapes {
		out = append(out, s.Name)
	}
	return out
}
