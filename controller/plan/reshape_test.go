package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// pd is a disaggregated group whose roles keep a gang minimum of one
// instance whatever their count: the shape the autoscaler changes.
func pd(prefill, decode int32) *v1alpha1.ServingGroup {
	return testutil.MakeServingGroup("r").Replicas(2).
		Role(testutil.MakeRole("prefill").Replicas(prefill).MinReplicas(1).GPU(1).Obj()).
		Role(testutil.MakeRole("decode").Replicas(decode).MinReplicas(1).Size(2).GPU(8).Obj()).
		Obj()
}

func TestRoleReplicasLeaveTheRevision(t *testing.T) {
	if a, b := mustRevision(t, pd(1, 1)), mustRevision(t, pd(3, 2)); a != b {
		t.Errorf("prefill 1 -> 3, decode 1 -> 2 with minReplicas set: revision %s -> %s, want unchanged", a, b)
	}
	noMin := func(n int32) *v1alpha1.ServingGroup {
		return testutil.MakeServingGroup("r").Role(testutil.MakeRole("engine").Replicas(n).Obj()).Obj()
	}
	if a, b := mustRevision(t, noMin(1)), mustRevision(t, noMin(2)); a == b {
		t.Errorf("replicas 1 -> 2 without minReplicas moves the gang minimum: revision %s unchanged, want new", a)
	}
}

// A role's new instance count reshapes current units in place: added
// instances are created in the same PodGroup, removed ones are the highest,
// not-ready first; the PodGroup records the new shape; no pod that keeps
// serving is touched.
func TestReshape(t *testing.T) {
	cases := []struct {
		name     string
		from, to *v1alpha1.ServingGroup
		notReady []string // pods made not ready before the change
		want     actions
		waits    string // a PodGroup that keeps its shape
	}{
		{
			name: "prefill grows",
			from: pd(1, 1), to: pd(3, 1),
			want: actions{
				Create: []string{"Pod r-0-prefill-1-0", "Pod r-0-prefill-2-0", "Pod r-1-prefill-1-0", "Pod r-1-prefill-2-0"},
				Update: []string{"PodGroup r-0 (ResizedUnit): prefill 1 to 3", "PodGroup r-1 (ResizedUnit): prefill 1 to 3"},
			},
		},
		{
			name: "a multi-pod decode instance grows whole",
			from: pd(1, 1), to: pd(1, 2),
			want: actions{
				Create: []string{"Pod r-0-decode-1-0", "Pod r-0-decode-1-1", "Pod r-1-decode-1-0", "Pod r-1-decode-1-1"},
				Update: []string{"PodGroup r-0 (ResizedUnit): decode 1 to 2", "PodGroup r-1 (ResizedUnit): decode 1 to 2"},
			},
		},
		{
			name: "prefill shrinks from the highest instance",
			from: pd(3, 1), to: pd(1, 1),
			want: actions{
				Update: []string{"PodGroup r-0 (ResizedUnit): prefill 3 to 1", "PodGroup r-1 (ResizedUnit): prefill 3 to 1"},
				Delete: []string{
					"Pod r-0-prefill-2-0 (RoleScaleDown)", "Pod r-0-prefill-1-0 (RoleScaleDown)",
					"Pod r-1-prefill-2-0 (RoleScaleDown)", "Pod r-1-prefill-1-0 (RoleScaleDown)",
				},
			},
		},
		{
			name: "a not-ready instance goes first",
			from: pd(3, 1), to: pd(1, 1),
			notReady: []string{"r-0-prefill-1-0"},
			want: actions{
				Update: []string{"PodGroup r-0 (ResizedUnit): prefill 3 to 1", "PodGroup r-1 (ResizedUnit): prefill 3 to 1"},
				Delete: []string{
					"Pod r-0-prefill-1-0 (RoleScaleDown)", "Pod r-0-prefill-2-0 (RoleScaleDown)",
					"Pod r-1-prefill-2-0 (RoleScaleDown)", "Pod r-1-prefill-1-0 (RoleScaleDown)",
				},
			},
		},
		{
			// Unit 0 is ready on prefill-1 alone (minReplicas 1); removing
			// it would leave no ready prefill below the new count, so unit
			// 0 waits for prefill-0 while unit 1 shrinks.
			name: "a ready unit keeps its gang minimum",
			from: pd(2, 1), to: pd(1, 1),
			notReady: []string{"r-0-prefill-0-0"},
			want: actions{
				Update: []string{"PodGroup r-1 (ResizedUnit): prefill 2 to 1"},
				Delete: []string{"Pod r-1-prefill-1-0 (RoleScaleDown)"},
			},
			waits: "r-0",
		},
		{
			name: "both roles at once",
			from: pd(1, 2), to: pd(2, 1),
			want: actions{
				Create: []string{"Pod r-0-prefill-1-0", "Pod r-1-prefill-1-0"},
				Update: []string{"PodGroup r-0 (ResizedUnit): prefill 1 to 2, decode 2 to 1", "PodGroup r-1 (ResizedUnit): prefill 1 to 2, decode 2 to 1"},
				Delete: []string{
					"Pod r-0-decode-1-0 (RoleScaleDown)", "Pod r-0-decode-1-1 (RoleScaleDown)",
					"Pod r-1-decode-1-0 (RoleScaleDown)", "Pod r-1-decode-1-1 (RoleScaleDown)",
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.converge(t, tc.from, t0)
			for _, n := range tc.notReady {
				w.pods[n].Status.Conditions = nil
			}
			before := w.uidsByName()
			now := t0.Add(time.Hour)
			p := w.compute(t, tc.to, now)
			if diff := cmp.Diff(tc.want, summarizePlan(p)); diff != "" {
				t.Fatalf("plan (-want +got):\n%s", diff)
			}
			w.apply(p, now)
			w.runAll(now)
			if p := w.compute(t, tc.to, now); !p.Empty() {
				t.Errorf("plan after the resize is not empty: %+v", summarizePlan(p))
			}
			for name, uid := range w.uidsByName() {
				if old, ok := before[name]; ok && old != uid {
					t.Errorf("%s was recreated (uid %s -> %s)", name, old, uid)
				}
			}
			for _, pg := range w.pgs {
				if got, want := pg.Annotations[v1alpha1.AnnotationRoleReplicas], formatShape(normalize(&tc.to.Spec)); got != want && pg.Name != tc.waits {
					t.Errorf("PodGroup %s shape %q, want %q", pg.Name, got, want)
				}
			}
		})
	}
}

// The executor creates a grown role's pods before the PodGroup update and
// updates the PodGroup of a shrunk role before deleting its pods. Cut short
// between the two, the next plan finishes the resize: new pods are taken
// in, not deleted as strays; removed instances are not judged lost.
func TestInterruptedResize(t *testing.T) {
	t.Run("grown pods exist, PodGroup not updated", func(t *testing.T) {
		w := newWorld()
		w.converge(t, pd(1, 1), t0)
		p := w.compute(t, pd(2, 1), t0)
		p.Updates = nil
		w.apply(p, t0)
		w.runAll(t0)
		got := summarizePlan(w.compute(t, pd(2, 1), t0.Add(time.Hour)))
		want := actions{Update: []string{"PodGroup r-0 (ResizedUnit): prefill 1 to 2", "PodGroup r-1 (ResizedUnit): prefill 1 to 2"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
	})
	t.Run("removed pods gone, PodGroup not updated", func(t *testing.T) {
		w := newWorld()
		w.converge(t, pd(2, 1), t0)
		p := w.compute(t, pd(1, 1), t0)
		p.Updates = nil
		w.apply(p, t0)
		// An hour on, a missing instance of the recorded shape would be
		// lost and its unit recreated; the spec no longer asks for it.
		got := summarizePlan(w.compute(t, pd(1, 1), t0.Add(time.Hour)))
		want := actions{Update: []string{"PodGroup r-0 (ResizedUnit): prefill 2 to 1", "PodGroup r-1 (ResizedUnit): prefill 2 to 1"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("plan (-want +got):\n%s", diff)
		}
	})
}

// Units made by a controller that still hashed roles[].replicas carry the
// legacy revision of the same spec: they are current, and only their label
// moves, in place. A legacy unit of another spec is still rolled.
func TestLegacyRevisionRollsNoUnit(t *testing.T) {
	sg := pd(2, 1)
	legacyWorld := func(t *testing.T) *world {
		w := newWorld()
		w.converge(t, sg, t0)
		legacy, err := legacyRevision(&sg.Spec, specShape(normalize(&sg.Spec)))
		if err != nil {
			t.Fatal(err)
		}
		if legacy == mustRevision(t, sg) {
			t.Fatalf("legacy and current revision are both %s", legacy)
		}
		for _, pg := range w.pgs {
			pg.Labels[v1alpha1.LabelRevision] = legacy
		}
		for _, pod := range w.pods {
			pod.Labels[v1alpha1.LabelRevision] = legacy
		}
		return w
	}

	t.Run("same spec", func(t *testing.T) {
		w := legacyWorld(t)
		p := w.compute(t, sg, t0.Add(time.Hour))
		got := summarizePlan(p)
		if len(got.Create) > 0 || len(got.Delete) > 0 {
			t.Fatalf("an upgrade alone changed units: %+v", got)
		}
		if n := len(got.Update); n != 2+2*(2+2) { // 2 PodGroups, 2 units × (2 prefill + 2 decode pods)
			t.Errorf("%d updates, want every PodGroup and pod relabelled: %v", n, got.Update)
		}
		if p.Status.UpdatedReplicas != 2 {
			t.Errorf("updatedReplicas %d, want 2", p.Status.UpdatedReplicas)
		}
		w.apply(p, t0.Add(time.Hour))
		if p := w.compute(t, sg, t0.Add(time.Hour)); !p.Empty() {
			t.Errorf("plan after relabelling is not empty: %+v", summarizePlan(p))
		}
		for unit, rev := range w.unitRevisions() {
			if rev != mustRevision(t, sg) {
				t.Errorf("unit %s on %s, want %s", unit, rev, mustRevision(t, sg))
			}
		}
	})
	t.Run("same spec, new prefill count", func(t *testing.T) {
		w := legacyWorld(t)
		got := summarizePlan(w.compute(t, pd(3, 1), t0.Add(time.Hour)))
		if len(got.Delete) > 0 {
			t.Errorf("deleted %v, want the legacy units resized in place", got.Delete)
		}
		if diff := cmp.Diff([]string{"Pod r-0-prefill-2-0", "Pod r-1-prefill-2-0"}, got.Create); diff != "" {
			t.Errorf("creates (-want +got):\n%s", diff)
		}
	})
	t.Run("new image", func(t *testing.T) {
		w := legacyWorld(t)
		newImage := testutil.MakeServingGroup("r").Replicas(2).
			Role(testutil.MakeRole("prefill").Replicas(2).MinReplicas(1).GPU(1).Obj()).
			Role(testutil.MakeRole("decode").Replicas(1).MinReplicas(1).Size(2).GPU(8).Obj()).
			Image("vllm:v2").Obj()
		got := summarizePlan(w.compute(t, newImage, t0.Add(time.Hour)))
		if len(got.Update) > 0 || len(got.Delete) == 0 {
			t.Errorf("plan %+v; want the legacy units rolled, not relabelled", got)
		}
	})
}

func (w *world) uidsByName() map[string]string {
	out := map[string]string{}
	for name, pod := range w.pods {
		out[name] = string(pod.UID)
	}
	return out
}
