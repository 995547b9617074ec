package tandem

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

// testTopology: 2 racks (tier 2) of 2 domains (tier 1) of 2 nodes, one
// spine (tier 3): n<rack><domain><node>, e.g. n000 .. n111.
func testTopology() *Topology {
	return NewTopology(map[int]map[string][]string{
		1: {"d00": {"n000", "n001"}, "d01": {"n010", "n011"}, "d10": {"n100", "n101"}, "d11": {"n110", "n111"}},
		2: {"r0": {"n000", "n001", "n010", "n011"}, "r1": {"n100", "n101", "n110", "n111"}},
		3: {"spine": {"n000", "n001", "n010", "n011", "n100", "n101", "n110", "n111"}},
	})
}

func TestTopologyDistance(t *testing.T) {
	topo := testTopology()
	cases := []struct {
		a, b string
		want int
	}{
		{"n000", "n000", 0},
		{"n000", "n001", 1},
		{"n000", "n011", 2},
		{"n000", "n111", 3},
		{"n000", "elsewhere", 4},
	}
	for _, tc := range cases {
		if got := topo.Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := topo.Domain("n101", 2); got != "r1" {
		t.Errorf("Domain(n101, 2) = %q, want r1", got)
	}
}

func TestRolesReady(t *testing.T) {
	rules := []RoleRule{{Role: "prefill", Size: 1, MinInstances: 2}, {Role: "decode", Size: 2, MinInstances: 1}}
	cases := []struct {
		name    string
		placed  []Member
		want    bool
		wantWhy string
	}{
		{"nothing placed", nil, false, "decode has 0 of 1 whole instances; prefill has 0 of 2 whole instances"},
		{"every role at its minimum", []Member{
			{Role: "prefill", Instance: "p0"}, {Role: "prefill", Instance: "p1"},
			{Role: "decode", Instance: "d0"}, {Role: "decode", Instance: "d0"},
		}, true, ""},
		{"half a tensor-parallel instance does not count", []Member{
			{Role: "prefill", Instance: "p0"}, {Role: "prefill", Instance: "p1"},
			{Role: "decode", Instance: "d0"}, {Role: "decode", Instance: "d1"},
		}, false, "decode has 0 of 1 whole instances"},
		{"one role short", []Member{
			{Role: "prefill", Instance: "p0"},
			{Role: "decode", Instance: "d0"}, {Role: "decode", Instance: "d0"},
		}, false, "prefill has 1 of 2 whole instances"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := RolesReady(rules, tc.placed)
			if got != tc.want || why != tc.wantWhy {
				t.Errorf("RolesReady = %v, %q; want %v, %q", got, why, tc.want, tc.wantWhy)
			}
		})
	}
}

func TestProximity(t *testing.T) {
	topo := testTopology()
	prefillOn := func(node string) Member { return Member{Role: "prefill", Instance: "p0", Node: node} }
	cases := []struct {
		name   string
		p      Placement
		node   string
		want   float64
		wantOK bool
	}{
		{"no peers placed: no preference", Placement{Role: "decode", Instance: "d0"}, "n000", 0, false},
		{"decode on the prefill's node", Placement{Role: "decode", Instance: "d0", Peers: []Member{prefillOn("n000")}}, "n000", 1, true},
		{"decode in the prefill's domain", Placement{Role: "decode", Instance: "d0", Peers: []Member{prefillOn("n000")}}, "n001", 0.75, true},
		{"decode in the prefill's rack", Placement{Role: "decode", Instance: "d0", Peers: []Member{prefillOn("n000")}}, "n010", 0.5, true},
		{"decode across the spine", Placement{Role: "decode", Instance: "d0", Peers: []Member{prefillOn("n000")}}, "n100", 0.25, true},
		{"nearest of several prefill pods counts", Placement{Role: "decode", Instance: "d0", Peers: []Member{prefillOn("n100"), prefillOn("n011")}}, "n010", 0.75, true},
		{"same-role other instance is not a peer", Placement{Role: "prefill", Instance: "p1", Peers: []Member{prefillOn("n000")}}, "n100", 0, false},
		{"worker rank near its leader and far from prefill: mean", Placement{Role: "decode", Instance: "d0",
			Peers: []Member{{Role: "decode", Instance: "d0", Node: "n101"}, prefillOn("n000")}}, "n100", (0.75 + 0.25) / 2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Proximity(topo, tc.p, tc.node)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("Proximity = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestPacking(t *testing.T) {
	cases := []struct {
		name    string
		domain  *Usage
		request float64
		want    float64
	}{
		{"empty domain is opened last", &Usage{Allocatable: 16, Used: 0}, 8, 0},
		{"half-used domain filled", &Usage{Allocatable: 16, Used: 8}, 8, 1},
		{"partly used domain", &Usage{Allocatable: 16, Used: 4}, 4, 0.5},
		{"node in no domain", nil, 8, 0},
	}
	for _, tc := range cases {
		if got := Packing(tc.domain, tc.request); got != tc.want {
			t.Errorf("%s: Packing = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestScorerCombinesWeightedParts(t *testing.T) {
	topo := testTopology()
	s := &Scorer{
		Topology: topo,
		Domains:  map[string]*Usage{"d00": {Allocatable: 16, Used: 8}, "d10": {Allocatable: 16}},
		Args:     Args{ProximityWeight: 10, PackingWeight: 5, SpreadWeight: 5, SpreadTier: 2},
	}
	p := Placement{Role: "decode", Instance: "d0", Accelerators: 8,
		Peers: []Member{{Role: "prefill", Instance: "p0", Node: "n000"}},
		Avoid: map[string]bool{"r0": true}}
	got := map[string]float64{"n001": s.Score(p, "n001"), "n100": s.Score(p, "n100")}
	want := map[string]float64{
		"n001": (10*0.75 + 5*1 + 5*0) * 100, // near prefill, fills d00, but in the avoided rack
		"n100": (10*0.25 + 5*0 + 5*1) * 100, // far, opens d10, other rack
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
}

func TestFitTiers(t *testing.T) {
	topo := testTopology()
	// n000 has 8 GPUs free, n001 4, d01 (n010, n011) 8 in all (4 + 4),
	// rack 1 is full but for n111 (8, H200).
	nodes := map[string]*Usage{
		"n000": {Allocatable: 8}, "n001": {Allocatable: 8, Used: 4},
		"n010": {Allocatable: 8, Used: 4}, "n011": {Allocatable: 8, Used: 4},
		"n100": {Allocatable: 8, Used: 8}, "n101": {Allocatable: 8, Used: 8},
		"n110": {Allocatable: 8, Used: 8}, "n111": {Allocatable: 8},
	}
	types := map[string]string{"n111": "H200"}
	cases := []struct {
		name string
		rest []Demand
		want map[string]int
	}{
		{"8 GPUs in 4 + 4: on an empty node, else a domain with room", []Demand{{Accelerators: 4}, {Accelerators: 4}},
			map[string]int{"n000": 0, "n001": 1, "n010": 1, "n111": 0, "n100": 2}},
		{"two 8-GPU pods: only across the spine", []Demand{{Accelerators: 8}, {Accelerators: 8}},
			map[string]int{"n000": 3, "n111": 3}},
		{"types count: an H200 pod fits only by n111", []Demand{{Accelerators: 2}, {Accelerators: 2, Types: []string{"H200"}}},
			map[string]int{"n000": 3, "n111": 0, "n110": 1}},
		{"too big for any node", []Demand{{Accelerators: 16}}, map[string]int{"n000": 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFitTiers(topo, nodes, types, tc.rest)
			got := map[string]int{}
			for n := range tc.want {
				got[n] = f.Tier(n)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Tier (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFitStandsInForProximityOfAFirstPod(t *testing.T) {
	topo := testTopology()
	// d00 is a quarter used: n000 has a 4-GPU gap, n001 is empty.
	nodes := map[string]*Usage{"n000": {Allocatable: 8, Used: 4}, "n001": {Allocatable: 8}}
	s := &Scorer{
		Topology: topo,
		Domains:  map[string]*Usage{"d00": {Allocatable: 16, Used: 4}},
		Nodes:    nodes,
		Args:     Args{ProximityWeight: 10, PackingWeight: 5, SpreadTier: 2},
	}
	// A 4 + 4 GPU unit: the gap on n000 takes the first pod but not the
	// unit (which would then span the domain); n001 takes both.
	rest := []Demand{{Accelerators: 4}, {Accelerators: 4}}
	p := Placement{Role: "prefill", Instance: "p0", Accelerators: 4, Fit: []*FitTiers{NewFitTiers(topo, nodes, nil, rest)}}
	got := map[string]float64{"n000": s.Score(p, "n000"), "n001": s.Score(p, "n001")}
	want := map[string]float64{
		"n000": (10*0.75 + 5*0.5) * 100, // the unit fits only across d00
		"n001": (10*1 + 5*0.5) * 100,    // the unit fits on the node
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	// Without a fit view there is no proximity preference at all.
	p.Fit = nil
	if a, b := s.Score(p, "n000"), s.Score(p, "n001"); a != b {
		t.Errorf("without Fit: n000 %v, n001 %v; want equal", a, b)
	}
}

func TestWholeFreeDomains(t *testing.T) {
	got := WholeFreeDomains(map[string]*Usage{"a": {Allocatable: 16}, "b": {Allocatable: 16, Used: 1}, "c": {Allocatable: 16}})
	if got != 2 {
		t.Errorf("WholeFreeDomains = %d, want 2", got)
	}
}

func TestAccelerators(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
				{Key: "nvidia.com/gpu.product", Operator: corev1.NodeSelectorOpIn, Values: []string{"H100", "H200"}},
			},
		}}},
	}}}}
	types := AcceleratorTypes(pod, "nvidia.com/gpu.product")
	if diff := cmp.Diff([]string{"H100", "H200"}, types); diff != "" {
		t.Fatalf("AcceleratorTypes (-want +got):\n%s", diff)
	}
	if AcceleratorTypes(&corev1.Pod{}, "nvidia.com/gpu.product") != nil {
		t.Error("a pod without affinity asks for no types")
	}
	cases := []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"nvidia.com/gpu.product": "H200"}, ""},
		{map[string]string{"nvidia.com/gpu.product": "A100"}, "role decode needs accelerator H100 or H200 (nvidia.com/gpu.product), node has A100"},
		{map[string]string{}, "role decode needs accelerator H100 or H200 (nvidia.com/gpu.product), node has none"},
	}
	for _, tc := range cases {
		if got := AcceleratorMismatch("decode", types, "nvidia.com/gpu.product", tc.labels); got != tc.want {
			t.Errorf("AcceleratorMismatch(%v) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}

func TestServingFirst(t *testing.T) {
	serving, batch := JobKind{Serving: true, Priority: 10}, JobKind{Priority: 10}
	cases := []struct {
		name string
		l, r JobKind
		want int
	}{
		{"serving before batch of equal priority", serving, batch, -1},
		{"batch after serving", batch, serving, 1},
		{"higher-priority batch is left to priority", serving, JobKind{Priority: 100}, 0},
		{"two serving units", serving, serving, 0},
		{"two batch jobs", batch, batch, 0},
	}
	for _, tc := range cases {
		if got := ServingFirst(tc.l, tc.r); got != tc.want {
			t.Errorf("%s: ServingFirst = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	got, err := ParseArgs(map[string]interface{}{"proximityWeight": 3, "spreadTier": 3, "servingFirst": false})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultArgs()
	want.ProximityWeight, want.SpreadTier, want.ServingFirst = 3, 3, false
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseArgs (-want +got):\n%s", diff)
	}
	bad := []struct {
		args map[string]interface{}
		want string
	}{
		{map[string]interface{}{"proximityWeigth": 3}, `unknown field "proximityWeigth"`},
		{map[string]interface{}{"packingWeight": "high"}, "cannot unmarshal string"},
		{map[string]interface{}{"spreadWeight": -1}, "spreadWeight must be between 0 and 100, got -1"},
		{map[string]interface{}{"spreadTier": 0}, "spreadTier must be at least 1"},
		{map[string]interface{}{"acceleratorLabel": ""}, "acceleratorLabel must not be empty"},
	}
	for _, tc := range bad {
		if _, err := ParseArgs(tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseArgs(%v) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestCheckConfigFile(t *testing.T) {
	if err := CheckConfigFile("../../deploy/scheduler/tandem-scheduler.conf"); err != nil {
		t.Errorf("shipped config: %v", err)
	}
	path := t.TempDir() + "/bad.conf"
	conf := "actions: \"allocate\"\ntiers:\n- plugins:\n  - name: gang\n  - name: tandem\n    arguments:\n      packingWeight: 500\n"
	if err := writeFile(path, conf); err != nil {
		t.Fatal(err)
	}
	if err := CheckConfigFile(path); err == nil || !strings.Contains(err.Error(), "packingWeight must be between 0 and 100, got 500") {
		t.Errorf("CheckConfigFile(bad) = %v", err)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
