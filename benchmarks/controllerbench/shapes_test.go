package controllerbench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/plan"
)

func TestAssign(t *testing.T) {
	shapes := Assign(500, 1)
	counts := map[string]int{}
	for _, s := range shapes {
		counts[s.Name]++
	}
	want := map[string]int{"pd": 125, "tp2": 125, "pd-tp2": 125, "pd-2u": 125}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("shapes of 500 groups (-want +got):\n%s", diff)
	}
	if got := TotalPods(shapes); got != 2000 {
		t.Errorf("TotalPods() = %d, want 2000 (four a group)", got)
	}
	if got := TotalUnits(shapes); got != 750 {
		t.Errorf("TotalUnits() = %d, want 750", got)
	}
	names := func(s []Shape) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.Name)
		}
		return out
	}
	if diff := cmp.Diff(names(shapes), names(Assign(500, 1))); diff != "" {
		t.Errorf("same seed, different order (-first +second):\n%s", diff)
	}
	if cmp.Equal(names(shapes), names(Assign(500, 2))) {
		t.Errorf("seeds 1 and 2 gave the same order")
	}
}

// Every shape must be a group the planner accepts and turns into exactly
// the pods the benchmark waits for, one GPU each.
func TestShapesPlan(t *testing.T) {
	for i, s := range Shapes {
		t.Run(s.Name, func(t *testing.T) {
			sg := ServingGroup(Namespace, 9999, s)
			if len(sg.Name) > v1alpha1.MaxGroupNameLength {
				t.Errorf("name %q longer than %d", sg.Name, v1alpha1.MaxGroupNameLength)
			}
			sg.UID = "uid"
			p, err := plan.Compute(plan.Config{}, sg, plan.Observed{}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Pods) != s.Pods() || len(p.PodGroups) != int(s.Units) {
				t.Errorf("shape %d: planned %d pods in %d PodGroups, want %d in %d", i, len(p.Pods), len(p.PodGroups), s.Pods(), s.Units)
			}
			for _, pod := range p.Pods {
				gpu := pod.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]
				if gpu.Value() != 1 {
					t.Errorf("pod %s asks for %s GPUs, want 1", pod.Name, gpu.String())
				}
			}
		})
	}
}

func TestFleetFor(t *testing.T) {
	cases := []struct {
		name                          string
		gpus, racks, perRack, perNode int
		want                          [4]int // racks, nodes per rack, GPUs per node, domain size
	}{
		{"2,000 GPUs with 10% headroom: 275 nodes in 18 racks of 16", 2000, 0, 0, 0, [4]int{18, 16, 8, 4}},
		{"a few GPUs still get a rack", 8, 0, 0, 0, [4]int{1, 16, 8, 4}},
		{"racks given", 2000, 4, 0, 0, [4]int{4, 16, 8, 4}},
		{"rack size not a multiple of the domain", 100, 0, 6, 4, [4]int{5, 6, 4, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := FleetFor(tc.gpus, tc.racks, tc.perRack, tc.perNode)
			got := [4]int{f.Racks, f.NodesPerRack, f.GPUsPerNode, f.DomainSize}
			if got != tc.want {
				t.Errorf("FleetFor() = %v, want %v", got, tc.want)
			}
			if err := f.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}
