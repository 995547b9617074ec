package plan

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// rolloutGroup has four single-pod units.
func rolloutGroup(image string, maxUnavailable, maxSurge, partition int32) *v1alpha1.ServingGroup {
	return testutil.MakeServingGroup("ro").Replicas(4).
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Rollout(maxUnavailable, maxSurge).Partition(partition).
		Image(image).Obj()
}

func TestRolloutStep(t *testing.T) {
	unit := func(i int) []string {
		return []string{fmt.Sprintf("Pod ro-%d-engine-0-0 (Rollout)", i), fmt.Sprintf("PodGroup ro-%d (Rollout)", i)}
	}
	cases := []struct {
		name                 string
		maxUnav, surge, part int32
		notReady             []string
		want                 actions
	}{
		{
			name: "maxUnavailable 1 replaces the highest unit", maxUnav: 1,
			want: actions{Delete: unit(3)},
		},
		{
			name: "maxUnavailable 2 replaces the two highest units", maxUnav: 2,
			want: actions{Delete: append(unit(3), unit(2)...)},
		},
		{
			name: "partition keeps lower units and bounds the rollout", maxUnav: 4, part: 2,
			want: actions{Delete: append(unit(3), unit(2)...)},
		},
		{
			name: "a not-ready outdated unit is replaced without using the budget", maxUnav: 1,
			notReady: []string{"ro-1-engine-0-0"},
			want:     actions{Delete: unit(1)},
		},
		{
			name: "no budget left while another unit is down", maxUnav: 1, part: 2,
			notReady: []string{"ro-0-engine-0-0"},
			want:     actions{},
		},
		{
			name: "maxSurge 1 with maxUnavailable 0 first adds a surge unit", maxUnav: 0, surge: 1,
			want: actions{Create: []string{"PodGroup ro-4", "Service ro-4", "Pod ro-4-engine-0-0"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.converge(t, rolloutGroup("vllm:v1", tc.maxUnav, tc.surge, tc.part), t0)
			for _, n := range tc.notReady {
				w.pods[n].Status.Conditions = nil
			}
			p := w.compute(t, rolloutGroup("vllm:v2", tc.maxUnav, tc.surge, tc.part), t0)
			if diff := cmp.Diff(tc.want, summarizePlan(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
		})
	}
}

// A whole rollout, one plan at a time, with pods that become ready only in
// the step after they were created. At every step the plan keeps at least
// replicas-maxUnavailable units ready; units are replaced highest first;
// the partition holds; surge units are gone at the end.
func TestRolloutToCompletion(t *testing.T) {
	cases := []struct {
		name                 string
		maxUnav, surge, part int32
		wantOrder            []string
		wantRevision         map[string]string // unit -> "old" or "new"
	}{
		{
			name: "maxUnavailable 1", maxUnav: 1,
			wantOrder:    []string{"3", "2", "1", "0"},
			wantRevision: map[string]string{"0": "new", "1": "new", "2": "new", "3": "new"},
		},
		{
			name: "maxUnavailable 2", maxUnav: 2,
			wantOrder:    []string{"3", "2", "1", "0"},
			wantRevision: map[string]string{"0": "new", "1": "new", "2": "new", "3": "new"},
		},
		{
			name: "partition 2", maxUnav: 1, part: 2,
			wantOrder:    []string{"3", "2"},
			wantRevision: map[string]string{"0": "old", "1": "old", "2": "new", "3": "new"},
		},
		{
			name: "maxSurge 1 without unavailability", maxUnav: 0, surge: 1,
			wantOrder:    []string{"3", "2", "1", "0", "4"},
			wantRevision: map[string]string{"0": "new", "1": "new", "2": "new", "3": "new"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			oldSG := rolloutGroup("vllm:v1", tc.maxUnav, tc.surge, tc.part)
			newSG := rolloutGroup("vllm:v2", tc.maxUnav, tc.surge, tc.part)
			w := newWorld()
			w.converge(t, oldSG, t0)
			oldRev := w.unitRevisions()["0"]

			order := driveRollout(t, w, newSG, 4-tc.maxUnav)

			if diff := cmp.Diff(tc.wantOrder, order); diff != "" {
				t.Errorf("units deleted, in order (-want +got):\n%s", diff)
			}
			got := map[string]string{}
			for unit, rev := range w.unitRevisions() {
				got[unit] = map[bool]string{true: "old", false: "new"}[rev == oldRev]
			}
			if diff := cmp.Diff(tc.wantRevision, got); diff != "" {
				t.Errorf("unit revisions (-want +got):\n%s", diff)
			}
		})
	}
}

// driveRollout plans until the plan is empty and returns the units whose
// PodGroup was deleted, in order. Pods created in one step run from the
// next step on.
func driveRollout(t *testing.T, w *world, sg *v1alpha1.ServingGroup, minReady int32) []string {
	t.Helper()
	var order []string
	for step := 0; step < 40; step++ {
		w.runAll(t0)
		p := w.compute(t, sg, t0)
		if p.Status.ReadyReplicas < minReady {
			t.Fatalf("step %d keeps %d units ready, want at least %d", step, p.Status.ReadyReplicas, minReady)
		}
		if p.Empty() {
			return order
		}
		for _, d := range p.Deletes {
			if d.Kind == KindPodGroup {
				order = append(order, fmt.Sprint(d.Unit))
			}
		}
		w.applyGraceful(p, t0)
		w.finishTermination()
	}
	t.Fatalf("rollout did not finish in 40 steps")
	return nil
}

func TestRolloutLimits(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(n int32) *intstr.IntOrString { v := intstr.FromInt32(n); return &v }
	cases := []struct {
		name              string
		replicas          int32
		unavail, surge    *intstr.IntOrString
		wantUnav, wantSrg int32
	}{
		{name: "defaults", replicas: 4, wantUnav: 1, wantSrg: 0},
		{name: "percent rounds unavailable down and surge up", replicas: 10, unavail: pct("25%"), surge: pct("25%"), wantUnav: 2, wantSrg: 3},
		{name: "both zero becomes one unavailable", replicas: 3, unavail: num(0), surge: num(0), wantUnav: 1, wantSrg: 0},
		{name: "a small percentage of few units rounds to zero", replicas: 2, unavail: pct("10%"), surge: num(1), wantUnav: 0, wantSrg: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &v1alpha1.ServingGroupSpec{Replicas: &tc.replicas}
			spec.Rollout.MaxUnavailable, spec.Rollout.MaxSurge = tc.unavail, tc.surge
			u, s, err := rolloutLimits(normalize(spec))
			if err != nil {
				t.Fatal(err)
			}
			if u != tc.wantUnav || s != tc.wantSrg {
				t.Errorf("rolloutLimits = (%d, %d), want (%d, %d)", u, s, tc.wantUnav, tc.wantSrg)
			}
		})
	}
}
