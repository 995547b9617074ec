package schedulerbench

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/test/localcluster"
)

func TestMeanNearest(t *testing.T) {
	dist := func(a, b int) int {
		if a > b {
			return a - b
		}
		return b - a
	}
	cases := []struct {
		name            string
		prefill, decode []int
		want            float64
		wantOK          bool
	}{
		{"no prefill", nil, []int{1}, 0, false},
		{"no decode", []int{1}, nil, 0, false},
		{"same place", []int{3}, []int{3}, 0, true},
		{"each decode to its nearest prefill", []int{0, 10}, []int{1, 7}, (1 + 3) / 2.0, true},
	}
	for _, tc := range cases {
		got, ok := meanNearest(dist, tc.prefill, tc.decode)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: meanNearest = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestMeasure(t *testing.T) {
	// One rack of 4 nodes in two domains; a 4 + 4 GPU P/D unit, a one-GPU
	// engine and a unit that fits nowhere.
	f := localcluster.Fleet{Racks: 1, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8, Products: []string{"H100"}, CPU: "96", Memory: "1Ti"}
	huge := Shape{Name: "huge", Roles: []Role{{"engine", 1, 1, 1, 16, nil}}}
	s := scenario.Scenario{Fleet: f, Groups: []*v1alpha1.ServingGroup{
		Shapes[0].ServingGroup("pd"), Shapes[5].ServingGroup("one"), huge.ServingGroup("huge"),
	}}
	s.Arguments = pluginArgs(true)
	r, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	m := Measure(f, scenario.Topology(f), r)
	if m.Units != 3 || m.Placed != 2 || m.Pods != 3 || m.GPUs != 9 || m.PDUnits != 1 || m.Domains != 2 || len(m.Violations) > 0 {
		t.Errorf("measurement %+v: want 2 of 3 units, 3 pods, 9 GPUs, one P/D unit, 2 domains, no violations", m)
	}
	if m.PD != 0 || m.FreeDomains != 1 {
		t.Errorf("P↔D %v and %d whole free domains; want the P/D unit and the engine packed on one node (0) in one domain (1 left whole)", m.PD, m.FreeDomains)
	}
	if m.Session <= 0 || m.Allocate <= 0 || m.Session < m.Allocate {
		t.Errorf("timing: %+v", m)
	}
}

func TestMixFollowsWeights(t *testing.T) {
	total := 0
	for _, s := range Shapes {
		total += s.Weight
	}
	mix := Mix(total*10, Shapes, rand.New(rand.NewPCG(1, 2)))
	counts := map[string]int{}
	for _, s := range mix {
		counts[s.Name]++
	}
	for _, s := range Shapes {
		if counts[s.Name] != 10*s.Weight {
			t.Errorf("%s: %d units, want %d", s.Name, counts[s.Name], 10*s.Weight)
		}
	}
	for _, s := range Elastic() {
		if s.Name == "pd-tp2-elastic" && s.Roles[1].Min != 1 {
			t.Errorf("elastic pd-tp2: decode min %d, want 1", s.Roles[1].Min)
		}
	}
	if Shapes[3].Roles[1].Min != 2 {
		t.Errorf("Elastic changed Shapes")
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, math.NaN(), 1, 2}); got != 2 {
		t.Errorf("median = %v, want 2", got)
	}
	if got := median([]float64{4, 1}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
	if got := median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("median of nothing = %v, want NaN", got)
	}
}
