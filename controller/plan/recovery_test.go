package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// recoveryGroup has two units, each with two tensor-parallel decode
// instances of two pods, and a 30 s grace period.
func recoveryGroup(policy v1alpha1.RecoveryPolicy) *v1alpha1.ServingGroup {
	return testutil.MakeServingGroup("r").Replicas(2).
		Role(testutil.MakeRole("decode").Replicas(2).Size(2).GPU(4).Obj()).
		Recovery(policy, 30).Obj()
}

type recoveryOutcome struct {
	Actions      actions
	Degraded     string // reason of the Degraded condition
	Unit1        v1alpha1.UnitPhase
	RequeueAfter time.Duration
}

func TestRecovery(t *testing.T) {
	failedAt := t0.Add(10 * time.Minute)
	failPod := func(t *testing.T, w *world) { w.fail(t, "r-1-decode-0-1", failedAt) }
	deletePod := func(t *testing.T, w *world) { delete(w.pods, "r-1-decode-0-1") }
	deleteInstance := func(t *testing.T, w *world) {
		delete(w.pods, "r-1-decode-0-0")
		delete(w.pods, "r-1-decode-0-1")
	}
	unitDeleted := func(reason string) []string {
		return []string{
			"Pod r-1-decode-0-0 (" + reason + ")", "Pod r-1-decode-0-1 (" + reason + ")",
			"Pod r-1-decode-1-0 (" + reason + ")", "Pod r-1-decode-1-1 (" + reason + ")",
			"PodGroup r-1 (" + reason + ")",
		}
	}
	cases := []struct {
		name   string
		policy v1alpha1.RecoveryPolicy
		damage func(*testing.T, *world)
		at     time.Time
		want   recoveryOutcome
	}{
		{
			name: "RecreateUnit waits out the grace period", policy: v1alpha1.RecoverRecreateUnit,
			damage: failPod, at: failedAt.Add(10 * time.Second),
			want: recoveryOutcome{Degraded: v1alpha1.ReasonRecoveryPending, Unit1: v1alpha1.UnitFailed, RequeueAfter: 20 * time.Second},
		},
		{
			name: "RecreateUnit deletes the unit after the grace period", policy: v1alpha1.RecoverRecreateUnit,
			damage: failPod, at: failedAt.Add(30 * time.Second),
			want: recoveryOutcome{
				Actions:  actions{Delete: unitDeleted("RecreateUnit")},
				Degraded: v1alpha1.ReasonRecovering, Unit1: v1alpha1.UnitTerminating,
			},
		},
		{
			name: "RecreateInstance waits out the grace period", policy: v1alpha1.RecoverRecreateInstance,
			damage: failPod, at: failedAt.Add(29 * time.Second),
			want: recoveryOutcome{Degraded: v1alpha1.ReasonRecoveryPending, Unit1: v1alpha1.UnitFailed, RequeueAfter: time.Second},
		},
		{
			name: "RecreateInstance deletes only the broken instance", policy: v1alpha1.RecoverRecreateInstance,
			damage: failPod, at: failedAt.Add(time.Minute),
			want: recoveryOutcome{
				Actions: actions{Delete: []string{
					"Pod r-1-decode-0-0 (RecreateInstance)", "Pod r-1-decode-0-1 (RecreateInstance)",
				}},
				Degraded: v1alpha1.ReasonRecovering, Unit1: v1alpha1.UnitFailed,
			},
		},
		{
			name: "None leaves a failed pod and reports Degraded", policy: v1alpha1.RecoverNone,
			damage: failPod, at: failedAt.Add(time.Hour),
			want: recoveryOutcome{Degraded: v1alpha1.ReasonRecoveryDisabled, Unit1: v1alpha1.UnitFailed},
		},
		{
			name: "RecreateUnit deletes a unit that lost a pod", policy: v1alpha1.RecoverRecreateUnit,
			damage: deletePod, at: failedAt,
			want: recoveryOutcome{
				Actions: actions{Delete: []string{
					"Pod r-1-decode-0-0 (RecreateUnit)", "Pod r-1-decode-1-0 (RecreateUnit)",
					"Pod r-1-decode-1-1 (RecreateUnit)", "PodGroup r-1 (RecreateUnit)",
				}},
				Degraded: v1alpha1.ReasonRecovering, Unit1: v1alpha1.UnitTerminating,
			},
		},
		{
			name: "RecreateInstance deletes the lost pod's rank 0", policy: v1alpha1.RecoverRecreateInstance,
			damage: deletePod, at: failedAt,
			want: recoveryOutcome{
				Actions:  actions{Delete: []string{"Pod r-1-decode-0-0 (RecreateInstance)"}},
				Degraded: v1alpha1.ReasonRecovering, Unit1: v1alpha1.UnitFailed,
			},
		},
		{
			name: "None does not replace a lost pod", policy: v1alpha1.RecoverNone,
			damage: deletePod, at: failedAt,
			want: recoveryOutcome{Degraded: v1alpha1.ReasonRecoveryDisabled, Unit1: v1alpha1.UnitFailed},
		},
		{
			name: "RecreateInstance creates a wholly absent instance again", policy: v1alpha1.RecoverRecreateInstance,
			damage: deleteInstance, at: failedAt,
			want: recoveryOutcome{
				Actions:  actions{Create: []string{"Pod r-1-decode-0-0", "Pod r-1-decode-0-1"}},
				Degraded: v1alpha1.ReasonAllUnitsHealthy, Unit1: v1alpha1.UnitPending,
			},
		},
		{
			name: "RecreateUnit deletes a unit that lost a whole instance", policy: v1alpha1.RecoverRecreateUnit,
			damage: deleteInstance, at: failedAt,
			want: recoveryOutcome{
				Actions: actions{Delete: []string{
					"Pod r-1-decode-1-0 (RecreateUnit)", "Pod r-1-decode-1-1 (RecreateUnit)", "PodGroup r-1 (RecreateUnit)",
				}},
				Degraded: v1alpha1.ReasonRecovering, Unit1: v1alpha1.UnitTerminating,
			},
		},
		{
			name: "a pod missing right after creation is created, whatever the policy", policy: v1alpha1.RecoverNone,
			damage: deletePod, at: t0.Add(5 * time.Second),
			want: recoveryOutcome{
				Actions:  actions{Create: []string{"Pod r-1-decode-0-1"}},
				Degraded: v1alpha1.ReasonAllUnitsHealthy, Unit1: v1alpha1.UnitPending,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sg := recoveryGroup(tc.policy)
			w := newWorld()
			w.converge(t, sg, t0)
			tc.damage(t, w)

			p := w.compute(t, sg, tc.at)
			got := recoveryOutcome{
				Actions:      summarizePlan(p),
				Degraded:     meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionDegraded).Reason,
				Unit1:        p.Status.Units[1].Phase,
				RequeueAfter: p.RequeueAfter,
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}

// Recovery runs to the end without the planner remembering anything: each
// step sees only the objects the previous one left.
func TestRecoveryConverges(t *testing.T) {
	for _, policy := range []v1alpha1.RecoveryPolicy{v1alpha1.RecoverRecreateUnit, v1alpha1.RecoverRecreateInstance} {
		t.Run(string(policy), func(t *testing.T) {
			sg := recoveryGroup(policy)
			w := newWorld()
			w.converge(t, sg, t0)
			failedAt := t0.Add(time.Minute)
			w.fail(t, "r-1-decode-1-0", failedAt)

			now := failedAt.Add(31 * time.Second)
			w.applyGraceful(w.compute(t, sg, now), now)
			w.finishTermination()
			w.converge(t, sg, now)

			p := w.compute(t, sg, now)
			if got := p.Status.ReadyReplicas; got != 2 {
				t.Errorf("readyReplicas = %d, want 2", got)
			}
			if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionDegraded); c.Status != "False" {
				t.Errorf("still Degraded after recovery: %+v", c)
			}
			if got := len(w.pods); got != 8 {
				t.Errorf("%d pods after recovery, want 8", got)
			}
		})
	}
}

// An outdated unit (below the partition) cannot get a pod of its old
// revision back, so RecreateInstance recreates the whole unit there.
func TestRecreateInstanceEscalatesInOutdatedUnit(t *testing.T) {
	old := recoveryGroup(v1alpha1.RecoverRecreateInstance)
	w := newWorld()
	w.converge(t, old, t0)
	updated := old.DeepCopy()
	updated.Spec.Rollout.Partition = 2
	updated.Spec.Roles[0].Template.Spec.Containers[0].Image = "vllm:v2"

	failedAt := t0.Add(time.Minute)
	w.fail(t, "r-0-decode-0-0", failedAt)
	got := summarizePlan(w.compute(t, updated, failedAt.Add(time.Minute)))
	want := actions{Delete: []string{
		"Pod r-0-decode-0-0 (RecreateUnit)", "Pod r-0-decode-0-1 (RecreateUnit)",
		"Pod r-0-decode-1-0 (RecreateUnit)", "Pod r-0-decode-1-1 (RecreateUnit)",
		"PodGroup r-0 (RecreateUnit)",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
}

// Failure times come from the pod, so the verdict does not depend on when
// the controller first saw the failure.
func TestFailureTime(t *testing.T) {
	sg := recoveryGroup(v1alpha1.RecoverRecreateUnit)
	w := newWorld()
	w.converge(t, sg, t0)
	pod := w.pods["r-0-decode-0-0"]
	w.fail(t, pod.Name, t0.Add(time.Minute))
	pod.Status.ContainerStatuses = nil // only the Ready condition's time is left

	p := w.compute(t, sg, t0.Add(time.Minute+20*time.Second))
	if p.RequeueAfter != 10*time.Second {
		t.Errorf("RequeueAfter = %v, want 10s (grace counted from the Ready transition)", p.RequeueAfter)
	}
}
