package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func aggregated(name string) *testutil.ServingGroupWrapper {
	return testutil.MakeServingGroup(name).Role(testutil.MakeRole("engine").GPU(1).Obj())
}

func disaggregated(name string) *testutil.ServingGroupWrapper {
	return testutil.MakeServingGroup(name).
		Role(testutil.MakeRole("prefill").Replicas(2).MinReplicas(1).GPU(1).Obj()).
		Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj())
}

func TestCreateFromEmpty(t *testing.T) {
	cases := []struct {
		name string
		sg   *v1alpha1.ServingGroup
		want actions
	}{
		{
			name: "aggregated group with two units",
			sg:   aggregated("chat").Replicas(2).Obj(),
			want: actions{Create: []string{
				"PodGroup chat-0", "PodGroup chat-1",
				"Service chat-0", "Service chat-1",
				"Pod chat-0-engine-0-0", "Pod chat-1-engine-0-0",
			}},
		},
		{
			name: "prefill and two-pod decode in one unit",
			sg:   disaggregated("pd").Obj(),
			want: actions{Create: []string{
				"PodGroup pd-0", "Service pd-0",
				"Pod pd-0-prefill-0-0", "Pod pd-0-prefill-1-0",
				"Pod pd-0-decode-0-0", "Pod pd-0-decode-0-1",
			}},
		},
		{
			name: "replicas defaults to one unit",
			sg:   aggregated("one").Obj(),
			want: actions{Create: []string{"PodGroup one-0", "Service one-0", "Pod one-0-engine-0-0"}},
		},
		{
			name: "zero replicas creates nothing",
			sg:   aggregated("none").Replicas(0).Obj(),
			want: actions{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newWorld().compute(t, tc.sg, t0)
			if diff := cmp.Diff(tc.want, summarizePlan(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// Applying a plan and planning again must change nothing, whether the pods
// are still pending, running, or the controller restarted in between (the
// planner has no memory, so a new call is a restart).
func TestIdempotent(t *testing.T) {
	groups := map[string]*v1alpha1.ServingGroup{
		"aggregated":            aggregated("a").Replicas(3).Obj(),
		"disaggregated with TP": disaggregated("b").Replicas(2).Obj(),
		"with topology":         disaggregated("c").Topology(1, 2, v1alpha1.TopologyHard).SpreadUnits().Obj(),
		"with surge":            aggregated("d").Replicas(2).Rollout(0, 1).Obj(),
	}
	for name, sg := range groups {
		t.Run(name, func(t *testing.T) {
			w := newWorld()
			w.apply(w.compute(t, sg, t0), t0)
			if p := w.compute(t, sg, t0); !p.Empty() {
				t.Errorf("second plan with pending pods is not empty: %+v", summarizePlan(p))
			}
			later := t0.Add(time.Hour)
			w.runAll(later)
			if p := w.compute(t, sg, later); !p.Empty() {
				t.Errorf("plan with running pods is not empty: %+v", summarizePlan(p))
			}
		})
	}
}

func TestScale(t *testing.T) {
	cases := []struct {
		name     string
		from, to int32
		notReady []string // pods made not ready before scaling
		want     actions
	}{
		{
			name: "up adds the next units",
			from: 2, to: 4,
			want: actions{Create: []string{
				"PodGroup s-2", "PodGroup s-3", "Service s-2", "Service s-3",
				"Pod s-2-engine-0-0", "Pod s-3-engine-0-0",
			}},
		},
		{
			name: "down removes the highest units with their services",
			from: 4, to: 2,
			want: actions{Delete: []string{
				"Pod s-3-engine-0-0 (ScaleDown)", "PodGroup s-3 (ScaleDown)", "Service s-3 (ScaleDown)",
				"Pod s-2-engine-0-0 (ScaleDown)", "PodGroup s-2 (ScaleDown)", "Service s-2 (ScaleDown)",
			}},
		},
		{
			name: "down removes a not-ready unit before a ready one",
			from: 4, to: 2,
			notReady: []string{"s-2-engine-0-0"},
			want: actions{Delete: []string{
				"Pod s-2-engine-0-0 (ScaleDown)", "PodGroup s-2 (ScaleDown)", "Service s-2 (ScaleDown)",
				"Pod s-3-engine-0-0 (ScaleDown)", "PodGroup s-3 (ScaleDown)", "Service s-3 (ScaleDown)",
			}},
		},
		{
			name: "down to zero removes everything",
			from: 1, to: 0,
			want: actions{Delete: []string{
				"Pod s-0-engine-0-0 (ScaleDown)", "PodGroup s-0 (ScaleDown)", "Service s-0 (ScaleDown)",
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.converge(t, aggregated("s").Replicas(tc.from).Obj(), t0)
			for _, n := range tc.notReady {
				w.pods[n].Status.Conditions = nil
			}
			p := w.compute(t, aggregated("s").Replicas(tc.to).Obj(), t0)
			if diff := cmp.Diff(tc.want, summarizePlan(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitsForTerminatingPods(t *testing.T) {
	sg := aggregated("w").Recovery(v1alpha1.RecoverRecreateUnit, 0).Obj()
	w := newWorld()
	w.converge(t, sg, t0)
	w.fail(t, "w-0-engine-0-0", t0)

	p := w.compute(t, sg, t0)
	w.applyGraceful(p, t0)
	if p := w.compute(t, sg, t0); !p.Empty() {
		t.Fatalf("planned while the old pod terminates: %+v", summarizePlan(p))
	}
	w.finishTermination()
	got := summarizePlan(w.compute(t, sg, t0))
	want := actions{Create: []string{"PodGroup w-0", "Pod w-0-engine-0-0"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan after termination (-want +got):\n%s", diff)
	}
}

func TestRemovesStrayPods(t *testing.T) {
	sg := aggregated("x").Obj()
	w := newWorld()
	w.converge(t, sg, t0)
	stray := w.pods["x-0-engine-0-0"].DeepCopy()
	stray.Name = "x-0-engine-1-0"
	w.pods[stray.Name] = stray

	got := summarizePlan(w.compute(t, sg, t0))
	want := actions{Delete: []string{"Pod x-0-engine-1-0 (NotInSpec)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

func TestIgnoresOtherGroupsObjects(t *testing.T) {
	w := newWorld()
	w.converge(t, aggregated("other").Obj(), t0)
	p := w.compute(t, aggregated("mine").Replicas(0).Obj(), t0)
	if !p.Empty() {
		t.Errorf("touched another group's objects: %+v", summarizePlan(p))
	}
}

func TestComputeDoesNotMutateInputs(t *testing.T) {
	sg := disaggregated("m").Topology(1, 2, v1alpha1.TopologySoft).Obj()
	before := sg.DeepCopy()
	w := newWorld()
	w.converge(t, sg, t0)
	obs := w.observed()
	snapshot := obs.Pods[0].DeepCopy()
	w.fail(t, obs.Pods[1].Name, t0)
	if _, err := Compute(testConfig, sg, w.observed(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, sg); diff != "" {
		t.Errorf("ServingGroup changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(snapshot, obs.Pods[0]); diff != "" {
		t.Errorf("observed pod changed (-before +after):\n%s", diff)
	}
}
