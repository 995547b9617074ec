package tandem_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
)

// unitsPlaced counts the units (PodGroups outside the batch namespace)
// with any pod placed.
func unitsPlaced(r *scenario.Result) map[string]bool {
	out := map[string]bool{}
	for key, pg := range r.PodGroups {
		if pg.Namespace == scenario.BatchNamespace {
			continue
		}
		job := r.Jobs[pg.Name]
		out[key] = job != nil && job.ReadyTaskNum() > 0
	}
	return out
}

// TestTandemAllocateAgreesWithAllocateOnFeasibility runs randomized
// one-unit cases (the generator of TestRandomPlacementsKeepInvariants:
// fleets of 1–4 racks, roles with types, sizes, minimums, hard and soft
// tiers, busy GPUs) through Volcano's real framework twice: Volcano's
// allocate alone, and tandem-allocate alone (no allocate after it to
// mend what it leaves). The action must place every unit allocate
// places, and whatever it places must keep every invariant
// (scenario.Check: capacity, accelerator types, whole gang and
// instances, hard tiers) — so a unit it places that allocate left
// pending was placeable, not impossible. Such units do occur: allocate
// fills a unit's roles in its sub-group order and can spend the only
// nodes a typed role accepts on an untyped one (seed 36: decode and embed
// pods take the H100 rack's GPUs, then the H100-only prefill finds none),
// where tandem-allocate places the pods with the fewest nodes to go first.
// Those are counted and logged.
func TestTandemAllocateAgreesWithAllocateOnFeasibility(t *testing.T) {
	placed, total, better := 0, 0, 0
	for seed := uint64(1); seed <= 80; seed++ {
		g := &generator{r: rand.New(rand.NewPCG(seed, 0xa110c))}
		f := g.fleet()
		sg := g.group("g", f)
		one := int32(1)
		sg.Spec.Replicas = &one
		if sg.Spec.Topology != nil {
			// A group asking to spread is left to allocate (see
			// servingUnits); with one unit there is nothing to spread.
			sg.Spec.Topology.SpreadUnits = false
		}
		s := scenario.Scenario{Fleet: f, Groups: nil}
		s.Groups = append(s.Groups, sg)
		s.Pods, s.PodGroups = g.running(f)

		s.Actions = []string{"allocate"}
		stock, err := s.Run()
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		s.Actions = []string{tandem.AllocateActionName}
		got, err := s.Run()
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, v := range scenario.Check(s.Fleet, got) {
			t.Errorf("seed %d: %s", seed, v)
		}
		want, have := unitsPlaced(stock), unitsPlaced(got)
		for key, w := range want {
			total++
			if have[key] {
				placed++
			}
			if have[key] && !w {
				better++
				t.Logf("seed %d: unit %s placed by tandem-allocate, left pending by allocate", seed, key)
			}
			if w && !have[key] {
				t.Errorf("seed %d: unit %s placed by allocate %v, by tandem-allocate %v\ninput:\n%s\nallocate: %v\ntandem-allocate: %v",
					seed, key, w, have[key], describeScenario(s), stock.Placed, got.Placed)
			}
		}
	}
	// Cases that all fit, or none, would show little.
	t.Logf("%d of %d units placed by tandem-allocate, %d of them left pending by allocate", placed, total, better)
	if placed == 0 || placed == total {
		t.Errorf("%d of %d units placed: the cases do not tell feasible from infeasible", placed, total)
	}
	if better > total/10 {
		t.Errorf("tandem-allocate placed %d of %d units allocate could not: more than expected, look at them", better, total)
	}
}

// TestTandemAllocateKeepsInvariantsUnderContention runs the randomized
// multi-group cases with the shipped action order (tandem-allocate, then
// allocate for what it leaves) and with tandem-allocate alone: every
// placement keeps scenario.Check's invariants, and the shipped order
// places at least as many units as tandem-allocate alone.
func TestTandemAllocateKeepsInvariantsUnderContention(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := &generator{r: rand.New(rand.NewPCG(seed, 0x7a4d3e))}
			s := g.scenario()
			count := map[string]int{}
			for _, actions := range [][]string{{tandem.AllocateActionName}, {tandem.AllocateActionName, "allocate"}} {
				s.Actions = actions
				r, err := s.Run()
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range scenario.Check(s.Fleet, r) {
					t.Errorf("actions %v: %s\ninput:\n%s", actions, v, describeScenario(s))
				}
				for _, ok := range unitsPlaced(r) {
					if ok {
						count[fmt.Sprint(actions)]++
					}
				}
			}
			if alone, shipped := count["[tandem-allocate]"], count["[tandem-allocate allocate]"]; shipped < alone {
				t.Errorf("shipped order placed %d units, tandem-allocate alone %d", shipped, alone)
			}
		})
	}
}

// TestTandemAllocateLeavesSpreadGroupsToAllocate: units of a group that
// asks to spread keep allocate's path (the plugin's spread score), and in
// the shipped order land in different racks as before.
func TestTandemAllocateLeavesSpreadGroupsToAllocate(t *testing.T) {
	sg := testutil.MakeServingGroup("ha").Namespace("serve").Replicas(2).SpreadUnits().
		Role(testutil.MakeRole("engine").GPU(4).Obj()).Obj()
	s := scenario.Scenario{Fleet: fleet(2), Groups: []*v1alpha1.ServingGroup{sg}, Actions: []string{tandem.AllocateActionName}}
	alone, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	if n := alone.Bound(); n != 0 {
		t.Errorf("tandem-allocate alone placed %d pods of a spread group, want none: %v", n, alone.Placed)
	}
	s.Actions = []string{tandem.AllocateActionName, "allocate"}
	shipped, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	a, b := shipped.Placed["serve/ha-0-engine-0-0"], shipped.Placed["serve/ha-1-engine-0-0"]
	if a == "" || b == "" || rackOf(a) == rackOf(b) {
		t.Errorf("units on %q and %q: want different racks", a, b)
	}
}
