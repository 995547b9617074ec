package tandem

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const gpu = "nvidia.com/gpu"

// testFleet builds racks × nodesPerRack nodes named r<rack>-n<node>,
// tier-1 domains of domainSize, one rack per tier 2, one spine, with
// gpus GPUs each of products[rack % len] and busy[name] of them in use.
func testFleet(racks, nodesPerRack, domainSize int, gpus float64, products []string, busy map[string]float64) *Fleet {
	members := map[int]map[string][]string{1: {}, 2: {}, 3: {}}
	var in []FleetInput
	for r := range racks {
		for n := range nodesPerRack {
			name := fmt.Sprintf("r%d-n%d", r, n)
			dom := fmt.Sprintf("r%d-d%d", r, n/domainSize)
			rack := fmt.Sprintf("r%d", r)
			members[1][dom] = append(members[1][dom], name)
			members[2][rack] = append(members[2][rack], name)
			members[3]["spine"] = append(members[3]["spine"], name)
			in = append(in, FleetInput{Name: name, Type: products[r%len(products)], Capacity: gpus,
				Free: Resources{gpu: gpus - busy[name]}})
		}
	}
	return NewFleet(gpu, NewTopology(members), in)
}

// unitBuilder makes PlanUnits: roles of instances of pods.
type unitBuilder struct{ u PlanUnit }

func makeUnit() *unitBuilder { return &unitBuilder{} }

// role adds instances of size pods asking gpus each, of the given types.
func (b *unitBuilder) role(name string, instances, size int, gpus float64, tier int, types ...string) *unitBuilder {
	for range instances {
		inst := PlanInstance{Role: name, Tier: tier}
		for range size {
			inst.Pods = append(inst.Pods, len(b.u.Pods))
			var ts []string
			if len(types) > 0 {
				ts = types
			}
			b.u.Pods = append(b.u.Pods, PlanPod{Role: name, Instance: len(b.u.Instances), Request: Resources{gpu: gpus}, Types: ts})
		}
		b.u.Instances = append(b.u.Instances, inst)
	}
	return b
}

func (b *unitBuilder) tier(t int) *unitBuilder { b.u.Tier = t; return b }

func (b *unitBuilder) obj() *PlanUnit { u := b.u; return &u }

// names gives a plan's nodes by name, per role in pod order.
func names(f *Fleet, u *PlanUnit, p Plan) map[string][]string {
	out := map[string][]string{}
	for i, n := range p.Nodes {
		out[u.Pods[i].Role] = append(out[u.Pods[i].Role], f.Nodes[n].Name)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func TestPlaceUnitChoosesDomainsFirst(t *testing.T) {
	h100 := []string{"H100", "H200"}
	cases := []struct {
		name  string
		fleet *Fleet
		unit  *PlanUnit
		want  map[string][]string
		tier  int
	}{
		{
			name:  "a P/D pair shares a node when one has room for both",
			fleet: testFleet(2, 4, 2, 8, h100, nil),
			unit:  makeUnit().role("prefill", 1, 1, 4, 0).role("decode", 1, 1, 4, 0).obj(),
			want:  map[string][]string{"prefill": {"r0-n0"}, "decode": {"r0-n0"}},
			tier:  1,
		},
		{
			name:  "a partly used domain is filled before a whole free one is opened",
			fleet: testFleet(2, 4, 2, 8, h100, map[string]float64{"r1-n2": 4}),
			unit:  makeUnit().role("engine", 1, 1, 4, 0).obj(),
			want:  map[string][]string{"engine": {"r1-n2"}},
			tier:  1,
		},
		{
			name:  "the fullest partly used domain that holds the unit wins",
			fleet: testFleet(1, 8, 2, 8, h100, map[string]float64{"r0-n0": 2, "r0-n2": 6, "r0-n4": 7}),
			unit:  makeUnit().role("engine", 1, 1, 4, 0).obj(),
			// Leftover after the pod: d0 10, d1 6, d2 5 (r0-n4's one GPU
			// free is too little, so the pod takes r0-n5).
			want: map[string][]string{"engine": {"r0-n5"}},
			tier: 1,
		},
		{
			name:  "accelerator types rule out domains: decode only on H200",
			fleet: testFleet(2, 4, 2, 8, h100, nil),
			unit:  makeUnit().role("prefill", 1, 1, 4, 0).role("decode", 1, 1, 4, 0, "H200").obj(),
			want:  map[string][]string{"prefill": {"r1-n0"}, "decode": {"r1-n0"}},
			tier:  1,
		},
		{
			name:  "a unit too large for any domain goes to the lowest tier that holds it",
			fleet: testFleet(2, 4, 2, 8, h100, nil),
			unit:  makeUnit().role("prefill", 2, 1, 8, 0).role("decode", 2, 1, 8, 0).obj(),
			want:  map[string][]string{"decode": {"r0-n0", "r0-n2"}, "prefill": {"r0-n1", "r0-n3"}},
			tier:  2,
		},
		{
			name:  "a hard instance tier keeps a TP instance in one domain",
			fleet: testFleet(1, 4, 2, 8, h100, map[string]float64{"r0-n1": 4, "r0-n2": 4}),
			unit:  makeUnit().role("engine", 1, 2, 4, 1).obj(),
			// r0-n1 and r0-n2 have room for a rank each but lie in two domains.
			want: map[string][]string{"engine": {"r0-n0", "r0-n1"}},
			tier: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := tc.fleet.PlaceUnit(tc.unit)
			if !ok {
				t.Fatal("PlaceUnit found no place")
			}
			if diff := cmp.Diff(tc.want, names(tc.fleet, tc.unit, p)); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			if p.Tier != tc.tier {
				t.Errorf("tier = %d, want %d", p.Tier, tc.tier)
			}
		})
	}
}

func TestPlaceUnitRefusesWhatCannotFit(t *testing.T) {
	both := []string{"H100", "H200"}
	cases := []struct {
		name  string
		fleet *Fleet
		unit  *PlanUnit
	}{
		{"no node has the type", testFleet(2, 4, 2, 8, both, nil), makeUnit().role("decode", 1, 1, 1, 0, "B200").obj()},
		{"a pod larger than any node", testFleet(2, 4, 2, 8, both, nil), makeUnit().role("engine", 1, 1, 16, 0).obj()},
		{"a hard unit tier no domain can hold", testFleet(2, 4, 2, 8, both, nil), makeUnit().role("engine", 3, 1, 8, 0).tier(1).obj()},
		{"a hard instance tier split by busy nodes", testFleet(1, 4, 2, 8, both, map[string]float64{"r0-n0": 8, "r0-n2": 8}),
			makeUnit().role("engine", 1, 2, 8, 1).obj()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if p, ok := tc.fleet.PlaceUnit(tc.unit); ok {
				t.Errorf("PlaceUnit placed %v, want no place", names(tc.fleet, tc.unit, p))
			}
		})
	}
}

func TestPlaceUnitRespectsAllowed(t *testing.T) {
	f := testFleet(1, 4, 2, 8, []string{"H100"}, nil)
	u := makeUnit().role("engine", 1, 1, 8, 0).obj()
	refused := f.Index("r0-n0")
	u.Allowed = func(_, node int) bool { return node != refused }
	p, ok := f.PlaceUnit(u)
	if !ok {
		t.Fatal("no place")
	}
	if diff := cmp.Diff(map[string][]string{"engine": {"r0-n1"}}, names(f, u, p)); diff != "" {
		t.Errorf("nodes (-want +got):\n%s", diff)
	}
}

func TestFleetKeepsDomainCountsAsUnitsArePlaced(t *testing.T) {
	f := testFleet(1, 4, 2, 8, []string{"H100"}, map[string]float64{"r0-n1": 3})
	u := makeUnit().role("engine", 2, 1, 4, 0).obj()
	p, ok := f.PlaceUnit(u)
	if !ok {
		t.Fatal("no place")
	}
	f.TakePlan(u, p)
	type counts struct {
		Free, MaxFree float64
		Whole         bool
	}
	got := map[string]counts{}
	for _, d := range f.Tiers[0] {
		got[d.Name] = counts{d.Free, d.MaxFree, d.WholeFree()}
	}
	// The unit fits the partly used r0-d0 (13 free), one pod on each node
	// (the second pod's best fit is r0-n1's 5): 4 and 1 left.
	want := map[string]counts{"r0-d0": {5, 4, false}, "r0-d1": {16, 8, true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("domains (-want +got):\n%s", diff)
	}
	f.GivePlan(u, p)
	if d := f.Tiers[0][0]; d.Free != 13 || d.MaxFree != 8 {
		t.Errorf("after GivePlan r0-d0 free %v max %v, want 13 and 8", d.Free, d.MaxFree)
	}
}

func TestKVCost(t *testing.T) {
	f := testFleet(2, 4, 2, 8, []string{"H100"}, nil)
	u := makeUnit().role("prefill", 1, 1, 4, 0).role("decode", 2, 1, 4, 0).obj()
	at := func(names ...string) []int {
		var out []int
		for _, n := range names {
			out = append(out, f.Index(n))
		}
		return out
	}
	cases := []struct {
		name  string
		nodes []int
		want  float64
	}{
		{"all on one node", at("r0-n0", "r0-n0", "r0-n0"), 0},
		{"one decode a domain away", at("r0-n0", "r0-n0", "r0-n1"), 0.5},
		{"one decode across the spine", at("r0-n0", "r0-n0", "r1-n0"), 1.5},
	}
	for _, tc := range cases {
		if got := KVCost(f, u, tc.nodes); got != tc.want {
			t.Errorf("%s: KVCost = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOrderUnitsMostConstrainedFirst(t *testing.T) {
	units := []*PlanUnit{
		makeUnit().role("engine", 1, 1, 1, 0).obj(),
		makeUnit().role("engine", 1, 1, 8, 0).obj(),
		makeUnit().role("decode", 1, 1, 4, 0, "H200").obj(),
		makeUnit().role("engine", 1, 2, 8, 1).tier(2).obj(),
		makeUnit().role("engine", 1, 1, 1, 0).obj(),
	}
	got := OrderUnits(units, gpu)
	want := []int{3, 2, 1, 0, 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// small2 is small case 2 of benchmarks/results/scheduler.md: an H100 and
// an H200 rack of 8 nodes, domains of 2, four H200 nodes partly busy;
// three units of 2 prefill + 2 H200-only decode pods of 4 GPUs and two
// one-GPU engines. Its optimum mean P↔D distance is 1/3 (total 1).
func small2() (*Fleet, []*PlanUnit) {
	f := testFleet(2, 8, 2, 8, []string{"H100", "H200"}, map[string]float64{"r1-n1": 7, "r1-n2": 4, "r1-n4": 3, "r1-n6": 7})
	pd := func() *PlanUnit {
		return makeUnit().role("prefill", 2, 1, 4, 0).role("decode", 2, 1, 4, 0, "H200").obj()
	}
	agg := func() *PlanUnit { return makeUnit().role("engine", 1, 1, 1, 0).obj() }
	return f, []*PlanUnit{pd(), pd(), pd(), agg(), agg()}
}

func TestPlaceJointlyReachesSmallCase2Optimum(t *testing.T) {
	f, units := small2()
	order := OrderUnits(units, gpu)
	var us []*PlanUnit
	for _, i := range order {
		us = append(us, units[i])
	}
	trial := f.Clone()
	greedy := make([]Plan, len(us))
	greedyCost := 0.0
	placed := 0
	for i, u := range us {
		if p, ok := trial.PlaceUnit(u); ok {
			trial.TakePlan(u, p)
			greedy[i] = p
			greedyCost += p.Cost
			placed++
		}
	}
	scope := f.JointScope(greedy)
	if len(scope) != 16 {
		t.Fatalf("joint scope has %d nodes, want the 16 of both racks", len(scope))
	}
	best := f.PlaceJointly(us, greedy, scope)
	total := 0.0
	check := f.Clone()
	for i, u := range us {
		if best[i].Nodes == nil {
			t.Fatalf("joint: unit %d not placed", i)
		}
		total += KVCost(f, u, best[i].Nodes)
		for j, n := range best[i].Nodes {
			if !u.Pods[j].Request.fits(check.Nodes[n].Free) || !typeOK(u.Pods[j].Types, check.Nodes[n].Type) {
				t.Fatalf("unit %d pod %d does not fit on %s", i, j, check.Nodes[n].Name)
			}
			check.Take(n, u.Pods[j].Request)
		}
	}
	t.Logf("greedy: %d of %d units, total KV cost %v; joint: total %v", placed, len(us), greedyCost, total)
	if total > 1+1e-9 {
		t.Errorf("joint total KV cost = %v, want the optimum 1 (mean 1/3 over 3 P/D units)", total)
	}
}
