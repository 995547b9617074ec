package schedulerbench

import (
	"math"
	"testing"
	"time"
)

func TestExponent(t *testing.T) {
	cases := []struct {
		name   string
		n1, n2 int
		t1, t2 time.Duration
		want   float64
	}{
		{"linear", 1000, 5000, time.Second, 5 * time.Second, 1},
		{"quadratic", 1000, 5000, time.Second, 25 * time.Second, 2},
		{"flat", 1000, 5000, time.Second, time.Second, 0},
	}
	for _, tc := range cases {
		if got := Exponent(tc.n1, tc.n2, tc.t1, tc.t2); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: Exponent = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := Exponent(1000, 1000, time.Second, time.Second); !math.IsNaN(got) {
		t.Errorf("Exponent of one size = %v, want NaN", got)
	}
}

func TestScaleCasesKeepUnitsInProportion(t *testing.T) {
	cfg := Config{Nodes: 1000, NodesPerRack: 40, DomainSize: 4, GPUsPerNode: 8, Units: 500, Busy: 0.3, ScaleNodes: []int{1000}}
	cases, err := scaleCases(cfg, newRand(1))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int{}
	for _, c := range cases {
		got[c.Name] = [2]int{len(c.Scenario.Fleet.Nodes()), len(c.Shapes)}
	}
	// 500 units per 8,000 GPUs: the NVL72 fleet (14 racks of 72 nodes × 4
	// GPUs = 4,032 GPUs) gets 252.
	want := map[string][2]int{"8-GPU-1000": {1000, 500}, "NVL72-1008": {1008, 252}}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: nodes, units = %v, want %v", k, got[k], w)
		}
	}
}
