package scenario

import (
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func TestRunStockAndTandem(t *testing.T) {
	sg := testutil.MakeServingGroup("chat").Namespace("s").
		Role(testutil.MakeRole("prefill").GPU(4).Obj()).
		Role(testutil.MakeRole("decode").GPU(4).Obj()).Obj()
	for _, stock := range []bool{true, false} {
		s := Scenario{Fleet: checkFleet, Groups: []*v1alpha1.ServingGroup{sg}, Stock: stock}
		r, err := s.Run()
		if err != nil {
			t.Fatal(err)
		}
		if r.Bound() != 2 {
			t.Errorf("stock=%v: %d pods placed, want 2: %v", stock, r.Bound(), r.Placed)
		}
		if v := Check(checkFleet, r); len(v) > 0 {
			t.Errorf("stock=%v: invariants broken: %v", stock, v)
		}
		if r.Timing.Open <= 0 || r.Timing.Actions["allocate"] <= 0 || r.Timing.Session() < r.Timing.Open {
			t.Errorf("stock=%v: session not timed: %+v", stock, r.Timing)
		}
		if _, ok := r.Jobs["chat-0"]; !ok {
			t.Errorf("stock=%v: job chat-0 missing from %v", stock, r.Jobs)
		}
	}
}

func TestRunWithEnqueue(t *testing.T) {
	sg := testutil.MakeServingGroup("chat").Namespace("s").Role(testutil.MakeRole("engine").GPU(8).Obj()).Obj()
	r, err := Scenario{Fleet: checkFleet, Groups: []*v1alpha1.ServingGroup{sg}, Enqueue: true}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if r.Bound() != 1 {
		t.Errorf("%d pods placed, want 1: %v", r.Bound(), r.Placed)
	}
	if _, ok := r.Timing.Actions["enqueue"]; !ok {
		t.Errorf("enqueue not timed: %+v", r.Timing)
	}
}

func TestRunNamedActions(t *testing.T) {
	sg := testutil.MakeServingGroup("chat").Namespace("s").Role(testutil.MakeRole("engine").GPU(8).Obj()).Obj()
	r, err := Scenario{Fleet: checkFleet, Groups: []*v1alpha1.ServingGroup{sg}, Actions: []string{"allocate", "backfill"}}.Run()
	if err != nil {
		t.Fatal(err)
	}
	if r.Bound() != 1 || len(r.Timing.Actions) != 2 {
		t.Errorf("%d pods placed (want 1), actions timed %v", r.Bound(), r.Timing.Actions)
	}
	if _, err := (Scenario{Fleet: checkFleet, Actions: []string{"no-such-action"}}).Run(); err == nil {
		t.Error("an unknown action ran")
	}
}
