package integration

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// uids maps live pod names to UIDs, to tell recreated pods from kept ones.
func (e *env) uids() map[string]types.UID {
	out := map[string]types.UID{}
	for _, p := range e.pods() {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.UID
		}
	}
	return out
}

// replaced lists the pods whose UID changed (or that vanished) since before.
func replaced(before, after map[string]types.UID) []string {
	var out []string
	for name, uid := range before {
		if after[name] != uid {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func TestRecoveryPolicies(t *testing.T) {
	cases := []struct {
		policy       v1alpha1.RecoveryPolicy
		wantReplaced []string
	}{
		{v1alpha1.RecoverRecreateUnit, []string{"tp-1-decode-0-0", "tp-1-decode-0-1", "tp-1-prefill-0-0"}},
		{v1alpha1.RecoverRecreateInstance, []string{"tp-1-decode-0-0", "tp-1-decode-0-1"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.create(disaggregated("tp", e.ns, 2).Recovery(tc.policy, 0))
			e.eventually("pods created", func() error { return wantCount(e.pods(), 6) })
			e.readyAll()
			e.eventually("Available", func() error { return wantCondition(e.get("tp"), v1alpha1.ConditionAvailable, true) })
			before := e.uids()

			e.setPodStatus("tp-1-decode-0-1", corev1.PodFailed, false)
			e.eventually("failed pods replaced per policy", func() error {
				after := e.uids()
				if err := wantCount(e.pods(), 6); err != nil {
					return err
				}
				if diff := cmp.Diff(tc.wantReplaced, replaced(before, after)); diff != "" {
					return fmt.Errorf("replaced pods (-want +got):\n%s", diff)
				}
				return nil
			})
			e.readyAll()
			e.eventually("healthy again", func() error { return wantCondition(e.get("tp"), v1alpha1.ConditionDegraded, false) })
		})
	}

	t.Run("None", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.create(disaggregated("keep", e.ns, 1).Recovery(v1alpha1.RecoverNone, 0))
		e.eventually("pods created", func() error { return wantCount(e.pods(), 3) })
		e.readyAll()
		before := e.uids()
		e.setPodStatus("keep-0-prefill-0-0", corev1.PodFailed, false)
		e.eventually("Degraded with recovery disabled", func() error {
			sg := e.get("keep")
			c := condition(sg, v1alpha1.ConditionDegraded)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonRecoveryDisabled {
				return fmt.Errorf("want Degraded=True/%s: %s", v1alpha1.ReasonRecoveryDisabled, describe(sg))
			}
			return nil
		})
		if got := replaced(before, e.uids()); len(got) != 0 {
			t.Errorf("policy None replaced pods %v", got)
		}
	})
}

func TestDeletedPodIsRecreated(t *testing.T) {
	e := newEnv(t)
	e.create(disaggregated("gone", e.ns, 1).Recovery(v1alpha1.RecoverRecreateInstance, 0))
	e.eventually("pods created", func() error { return wantCount(e.pods(), 3) })
	before := e.uids()
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = e.ns, "gone-0-prefill-0-0"
	if err := e.c.Delete(e.ctx, pod); err != nil {
		t.Fatal(err)
	}
	e.eventually("deleted pod recreated, others kept", func() error {
		after := e.uids()
		if diff := cmp.Diff([]string{"gone-0-prefill-0-0"}, replaced(before, after)); diff != "" || len(after) != 3 {
			return fmt.Errorf("%d pods; replaced (-want +got):\n%s", len(after), diff)
		}
		return nil
	})
}

func TestScaleUpAndDown(t *testing.T) {
	e := newEnv(t)
	e.create(testutil.MakeServingGroup("agg").Namespace(e.ns).Replicas(3).Role(testutil.MakeRole("engine").GPU(1).Obj()))
	e.eventually("3 units", func() error { return wantCount(e.pods(), 3) })
	// Units keep their numbers 0..replicas-1, so scaling down removes the
	// highest units, ready or not.
	e.setPodStatus("agg-0-engine-0-0", corev1.PodRunning, true)
	e.setPodStatus("agg-2-engine-0-0", corev1.PodRunning, true)

	// Scale through the scale subresource, as an HPA would.
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 1}}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		return e.c.SubResource("scale").Update(e.ctx, e.get("agg"), client.WithSubResourceBody(scale))
	})
	if err != nil {
		t.Fatalf("scale subresource: %v", err)
	}
	e.eventually("scaled down to unit 0", func() error {
		if diff := cmp.Diff([]string{"agg-0-engine-0-0"}, podNames(e.pods())); diff != "" {
			return fmt.Errorf("pods (-want +got):\n%s", diff)
		}
		if n := len(e.podGroups()); n != 1 {
			return fmt.Errorf("%d PodGroups, want 1", n)
		}
		return nil
	})
	e.update("agg", func(sg *v1alpha1.ServingGroup) { sg.Spec.Replicas = ptrInt32(2) })
	e.eventually("scaled up to 2", func() error {
		if diff := cmp.Diff([]string{"agg-0-engine-0-0", "agg-1-engine-0-0"}, podNames(e.pods())); diff != "" {
			return fmt.Errorf("pods (-want +got):\n%s", diff)
		}
		return nil
	})
	e.eventually("status replicas", func() error {
		sg := e.get("agg")
		if sg.Status.Replicas != 2 || sg.Status.ReadyReplicas != 1 {
			return fmt.Errorf("%s", describe(sg))
		}
		return nil
	})
}

func wantCount(pods []corev1.Pod, n int) error {
	if got := len(podNames(pods)); got != n {
		return fmt.Errorf("%d live pods, want %d", got, n)
	}
	return nil
}

func wantCondition(sg *v1alpha1.ServingGroup, typ string, status bool) error {
	want := metav1.ConditionFalse
	if status {
		want = metav1.ConditionTrue
	}
	c := condition(sg, typ)
	if c == nil || c.Status != want || c.ObservedGeneration != sg.Generation {
		return fmt.Errorf("want %s=%s at generation %d: %s", typ, want, sg.Generation, describe(sg))
	}
	return nil
}

func ptrInt32(v int32) *int32 { return &v }

// TestDeletingGroupRemovesItsObjects relies on owner references: the
// garbage collector (kube-controller-manager) removes pods, PodGroups and
// Services of a deleted ServingGroup.
func TestDeletingGroupRemovesItsObjects(t *testing.T) {
	e := newEnv(t)
	e.create(disaggregated("bye", e.ns, 2))
	e.eventually("pods created", func() error { return wantCount(e.pods(), 6) })
	if err := e.c.Delete(e.ctx, e.get("bye")); err != nil {
		t.Fatal(err)
	}
	e.eventually("owned objects collected", func() error {
		var svcs corev1.ServiceList
		if err := e.c.List(e.ctx, &svcs, client.InNamespace(e.ns)); err != nil {
			return err
		}
		if n, m, k := len(e.pods()), len(e.podGroups()), len(svcs.Items); n+m+k > 0 {
			return fmt.Errorf("%d pods, %d PodGroups, %d Services left", n, m, k)
		}
		return nil
	})
}
