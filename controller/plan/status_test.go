package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func TestStatusOfARunningGroup(t *testing.T) {
	sg := disaggregated("st").Replicas(2).Generation(3).Obj()
	w := newWorld()
	w.converge(t, sg, t0)
	w.pgs["st-1"].Annotations[HyperNodeAnnotation] = "rack-7"
	now := t0.Add(time.Minute)
	p := w.compute(t, sg, now)
	rev := p.Status.UpdateRevision

	cond := func(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, ObservedGeneration: 3, LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: msg}
	}
	want := v1alpha1.ServingGroupStatus{
		ObservedGeneration: 3,
		Replicas:           2,
		ReadyReplicas:      2,
		UpdatedReplicas:    2,
		UpdateRevision:     rev,
		Selector:           "serving.tandem.dev/group=st",
		Roles:              []v1alpha1.RoleStatus{{Name: "prefill", ReadyInstances: 4}, {Name: "decode", ReadyInstances: 2}},
		Units: []v1alpha1.UnitStatus{
			{Index: 0, Phase: v1alpha1.UnitReady, Revision: rev},
			{Index: 1, Phase: v1alpha1.UnitReady, Revision: rev, HyperNode: "rack-7"},
		},
		Conditions: []metav1.Condition{
			cond("Available", "True", "MinimumUnitsReady", "2 of 2 units ready, 1 needed"),
			cond("Progressing", "False", "Complete", "all 2 units are ready"),
			cond("Degraded", "False", "AllUnitsHealthy", "no failed or lost pods"),
		},
	}
	if diff := cmp.Diff(want, p.Status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}

type condSummary struct {
	Available, Progressing, Degraded string // "<status> <reason>: <message>"
}

func summarizeConditions(st v1alpha1.ServingGroupStatus) condSummary {
	get := func(typ string) string {
		for _, c := range st.Conditions {
			if c.Type == typ {
				return string(c.Status) + " " + c.Reason + ": " + c.Message
			}
		}
		return ""
	}
	return condSummary{get("Available"), get("Progressing"), get("Degraded")}
}

func TestConditions(t *testing.T) {
	group := func(replicas int32) *testutil.ServingGroupWrapper {
		return aggregated("c").Replicas(replicas).Recovery(v1alpha1.RecoverNone, 30)
	}
	cases := []struct {
		name   string
		before *v1alpha1.ServingGroup // converged first, if set
		sg     *v1alpha1.ServingGroup
		mutate func(*testing.T, *world)
		want   condSummary
	}{
		{
			name: "new group",
			sg:   group(2).Obj(),
			want: condSummary{
				Available:   "False NotEnoughUnitsReady: 0 of 2 units ready, 1 needed",
				Progressing: "True UnitsStarting: units [0 1] are not ready yet",
				Degraded:    "False AllUnitsHealthy: no failed or lost pods",
			},
		},
		{
			name:   "rolling out",
			before: group(3).Image("vllm:v1").Obj(),
			sg:     group(3).Image("vllm:v2").Obj(),
			want: condSummary{
				Available:   "True MinimumUnitsReady: 2 of 3 units ready, 2 needed",
				Progressing: "True RollingOut: units [0 1 2] are not on revision " + mustRevision(t, group(3).Image("vllm:v2").Obj()) + " yet",
				Degraded:    "False AllUnitsHealthy: no failed or lost pods",
			},
		},
		{
			name:   "rollout held by the partition is complete",
			before: group(3).Image("vllm:v1").Obj(),
			sg:     group(3).Image("vllm:v2").Partition(3).Obj(),
			want: condSummary{
				Available:   "True MinimumUnitsReady: 3 of 3 units ready, 2 needed",
				Progressing: "False Complete: all 3 units are ready; units [0 1 2] below partition 3 keep their revision",
				Degraded:    "False AllUnitsHealthy: no failed or lost pods",
			},
		},
		{
			name:   "scaling down",
			before: group(3).Obj(),
			sg:     group(1).Obj(),
			want: condSummary{
				Available:   "True MinimumUnitsReady: 1 of 1 units ready, 1 needed",
				Progressing: "True ScalingDown: removing units [1 2]",
				Degraded:    "False AllUnitsHealthy: no failed or lost pods",
			},
		},
		{
			name:   "failed unit under policy None",
			before: group(2).Obj(),
			sg:     group(2).Obj(),
			mutate: func(t *testing.T, w *world) { w.fail(t, "c-1-engine-0-0", t0) },
			want: condSummary{
				Available:   "True MinimumUnitsReady: 1 of 2 units ready, 1 needed",
				Progressing: "False BlockedByFailure: units [1] failed; see the Degraded condition",
				Degraded: "True RecoveryDisabled: unit 1: pod c-1-engine-0-0 Failed; " +
					"recovery policy None: delete the unit's pods and PodGroup to recreate it",
			},
		},
		{
			name:   "failed unit waiting for recovery",
			before: group(1).Obj(),
			sg:     group(1).Recovery(v1alpha1.RecoverRecreateUnit, 30).Obj(),
			mutate: func(t *testing.T, w *world) { w.fail(t, "c-0-engine-0-0", t0) },
			want: condSummary{
				Available:   "False NotEnoughUnitsReady: 0 of 1 units ready, 1 needed",
				Progressing: "False BlockedByFailure: units [0] failed; see the Degraded condition",
				Degraded:    "True RecoveryPending: unit 0: pod c-0-engine-0-0 Failed; RecreateUnit after the 30s grace period",
			},
		},
		{
			name: "scaled to zero",
			sg:   group(0).Obj(),
			want: condSummary{
				Available:   "True ScaledToZero: spec.replicas is 0",
				Progressing: "False Complete: all 0 units are ready",
				Degraded:    "False AllUnitsHealthy: no failed or lost pods",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.before != nil {
				w.converge(t, tc.before, t0)
			}
			if tc.mutate != nil {
				tc.mutate(t, w)
			}
			p := w.compute(t, tc.sg, t0.Add(time.Second))
			if diff := cmp.Diff(tc.want, summarizeConditions(p.Status)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

// A condition whose status holds keeps its lastTransitionTime; one that
// flips gets the current time.
func TestConditionTransitionTime(t *testing.T) {
	sg := aggregated("tt").Obj()
	w := newWorld()
	w.converge(t, sg, t0)
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	sg.Status.Conditions = []metav1.Condition{
		{Type: "Available", Status: "True", Reason: "MinimumUnitsReady", LastTransitionTime: earlier},
		{Type: "Progressing", Status: "True", Reason: "UnitsStarting", LastTransitionTime: earlier},
	}
	now := t0.Add(time.Minute)
	p := w.compute(t, sg, now)
	got := map[string]time.Time{}
	for _, c := range p.Status.Conditions {
		got[c.Type] = c.LastTransitionTime.Time
	}
	want := map[string]time.Time{"Available": earlier.Time, "Progressing": now, "Degraded": now}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lastTransitionTime (-want +got):\n%s", diff)
	}
}

func mustRevision(t *testing.T, sg *v1alpha1.ServingGroup) string {
	t.Helper()
	rev, err := Revision(normalize(&sg.Spec))
	if err != nil {
		t.Fatal(err)
	}
	return rev
}
