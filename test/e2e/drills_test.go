package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func createGroup(t *testing.T, c client.Client, w *testutil.ServingGroupWrapper) *v1alpha1.ServingGroup {
	t.Helper()
	sg := w.Obj()
	sg.UID, sg.Generation = "", 0
	if err := c.Create(context.Background(), sg); err != nil {
		t.Fatal(err)
	}
	return sg
}

func updateGroup(t *testing.T, c client.Client, key types.NamespacedName, mutate func(*v1alpha1.ServingGroup)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sg := &v1alpha1.ServingGroup{}
		if err := c.Get(context.Background(), key, sg); err != nil {
			return err
		}
		mutate(sg)
		return c.Update(context.Background(), sg)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, last)
	}
}

// TestDrillControllerRestartDuringRollout restarts tandem-controller right
// after a template change: the new process must finish the rollout with one
// pod per slot, no duplicates and no orphans.
func TestDrillControllerRestartDuringRollout(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "drill-rollout")
	key := types.NamespacedName{Namespace: "drill-rollout", Name: "roll"}
	createGroup(t, c, testutil.MakeServingGroup("roll").Namespace(key.Namespace).Replicas(3).Rollout(1, 0).
		Role(testutil.MakeRole("engine").GPU(1).Obj()))
	waitAvailable(t, c, key)
	poll(t, "all 3 units ready", 60*time.Second, func() error {
		sg := &v1alpha1.ServingGroup{}
		if err := c.Get(context.Background(), key, sg); err != nil {
			return err
		}
		if sg.Status.ReadyReplicas != 3 {
			return fmt.Errorf("ready %d", sg.Status.ReadyReplicas)
		}
		return nil
	})
	updateGroup(t, c, key, func(sg *v1alpha1.ServingGroup) { sg.Spec.Roles[0].Template.Spec.Containers[0].Image = "vllm:v2" })
	if err := cluster.Restart("tandem-controller"); err != nil {
		t.Fatal(err)
	}
	poll(t, "rollout finished by the restarted controller", 90*time.Second, func() error {
		sg := &v1alpha1.ServingGroup{}
		if err := c.Get(context.Background(), key, sg); err != nil {
			return err
		}
		if sg.Status.ObservedGeneration != sg.Generation || sg.Status.UpdatedReplicas != 3 || sg.Status.ReadyReplicas != 3 {
			return fmt.Errorf("status: observed %d/%d updated %d ready %d", sg.Status.ObservedGeneration, sg.Generation, sg.Status.UpdatedReplicas, sg.Status.ReadyReplicas)
		}
		pods := groupPods(t, c, key.Namespace, key.Name)
		if len(pods) != 3 {
			return fmt.Errorf("%d pods, want 3: %v", len(pods), describeGroup(t, c, key.Namespace, key.Name))
		}
		for _, p := range pods {
			if p.Spec.Containers[0].Image != "vllm:v2" {
				return fmt.Errorf("pod %s still runs %s", p.Name, p.Spec.Containers[0].Image)
			}
		}
		return nil
	})
	var pgs schedv1beta1.PodGroupList
	if err := c.List(context.Background(), &pgs, client.InNamespace(key.Namespace)); err != nil {
		t.Fatal(err)
	}
	if len(pgs.Items) != 3 {
		t.Errorf("%d PodGroups after the rollout, want 3", len(pgs.Items))
	}
}

// TestDrillSchedulerRestartWhilePending keeps a two-node instance pending
// (only one node is eligible) through two scheduler restarts: no pod of it
// may ever be bound alone. Once a second node is eligible, it is placed
// whole.
func TestDrillSchedulerRestartWhilePending(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "drill-sched")
	const label = "tandem.dev/e2e-sched"
	nodes := freeNodes(t, c, 2)
	labelNode(t, c, nodes[0], label)
	key := types.NamespacedName{Namespace: "drill-sched", Name: "pair"}
	w := testutil.MakeServingGroup("pair").Namespace(key.Namespace).Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj())
	w.Spec.Roles[0].Template.Spec.NodeSelector = map[string]string{label: "yes"}
	createGroup(t, c, w)

	noneBound := func() error {
		for _, p := range groupPods(t, c, key.Namespace, key.Name) {
			if p.Spec.NodeName != "" {
				return fmt.Errorf("pod %s bound to %s while its instance cannot be placed whole", p.Name, p.Spec.NodeName)
			}
		}
		return nil
	}
	for i := 0; i < 2; i++ {
		time.Sleep(2 * time.Second) // several scheduling cycles
		if err := noneBound(); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Restart("tandem-scheduler"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if err := noneBound(); err != nil {
		t.Fatal(err)
	}
	labelNode(t, c, nodes[1], label)
	poll(t, "instance placed whole once two nodes are eligible", 60*time.Second, func() error {
		pods := groupPods(t, c, key.Namespace, key.Name)
		for _, p := range pods {
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s is %s", p.Name, p.Status.Phase)
			}
		}
		if len(pods) != 2 {
			return fmt.Errorf("%d pods", len(pods))
		}
		return nil
	})
}

// TestDrillNodeRemoved drains and deletes the node under a unit's decode
// pod: the controller recreates the unit (RecreateUnit, grace 0 here) and
// the scheduler places it on the remaining nodes.
func TestDrillNodeRemoved(t *testing.T) {
	ctx := context.Background()
	c := sgClient(t)
	newNamespace(t, c, "drill-node")
	key := types.NamespacedName{Namespace: "drill-node", Name: "moving"}
	w := testutil.MakeServingGroup("moving").Namespace(key.Namespace).Recovery(v1alpha1.RecoverRecreateUnit, 0).
		Role(testutil.MakeRole("prefill").GPU(2).Obj()).Role(testutil.MakeRole("decode").GPU(2).Obj())
	createGroup(t, c, w)
	waitAvailable(t, c, key)
	victim := ""
	for _, p := range groupPods(t, c, key.Namespace, key.Name) {
		if p.Labels[v1alpha1.LabelRole] == "decode" {
			victim = p.Spec.NodeName
		}
	}
	if victim == "" {
		t.Fatal("decode pod has no node")
	}
	// Drain (delete the node's pods) and remove the node, as a cluster
	// autoscaler or an operator would.
	if err := c.Delete(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: victim}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range groupPods(t, c, key.Namespace, key.Name) {
		if p.Spec.NodeName == victim {
			if err := c.Delete(ctx, &p, client.GracePeriodSeconds(0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	poll(t, "unit recreated away from the removed node", 90*time.Second, func() error {
		pods := groupPods(t, c, key.Namespace, key.Name)
		if len(pods) != 2 {
			return fmt.Errorf("%d pods: %v", len(pods), describeGroup(t, c, key.Namespace, key.Name))
		}
		for _, p := range pods {
			if p.Spec.NodeName == victim || p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s on %q is %s", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
		}
		return nil
	})
	waitAvailable(t, c, key)
}

func labelNode(t *testing.T, c client.Client, node, label string) {
	t.Helper()
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+label+`":"yes"}}}`))
	if err := c.Patch(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, patch); err != nil {
		t.Fatal(err)
	}
}
