package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/test/localcluster"
)

const reclaimLabel = "tandem.dev/e2e-reclaim"

// TestServingUnitReclaimsWholeBatchGang fills two nodes with two batch
// gangs of two pods each (one gang per node, the second one younger), in
// the queue the serving unit uses too (the common case: one team's queue
// for its serving and its batch work), then asks for a serving unit that
// needs a whole node. tandem-reclaim must evict the younger gang entirely,
// leave the older one alone, and the unit must run on the freed node.
// (Across queues Volcano's proportion plugin only lets a queue over its
// deserved share lose gangs; the scenario tests in plugins/tandem cover
// that and its refusal.)
func TestServingUnitReclaimsWholeBatchGang(t *testing.T) {
	ctx := context.Background()
	c := sgClient(t)
	newNamespace(t, c, "reclaim")
	nodes := freeNodes(t, c, 2)
	for _, n := range nodes {
		labelNode(t, c, n, reclaimLabel)
	}
	for name, value := range map[string]int32{"batch-low": 100, "serving-high": 10000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if err := c.Create(ctx, pc); err != nil {
			t.Fatal(err)
		}
	}
	runBatchGang(t, c, "old-gang", nodes[0])
	time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
	runBatchGang(t, c, "young-gang", nodes[1])

	sg := testutil.MakeServingGroup("urgent").Namespace("reclaim").PriorityClass("serving-high").
		Role(testutil.MakeRole("engine").GPU(8).Obj()).Obj()
	sg.Spec.Roles[0].Template.Spec.NodeSelector = map[string]string{reclaimLabel: "yes"}
	sg.UID, sg.Generation = "", 0
	if err := c.Create(ctx, sg); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, c, types.NamespacedName{Namespace: "reclaim", Name: "urgent"})

	pods := groupPods(t, c, "reclaim", "urgent")
	if len(pods) != 1 || pods[0].Spec.NodeName != nodes[1] {
		t.Errorf("serving pod placed on %v, want the young gang's node %s", describeGroup(t, c, "reclaim", "urgent"), nodes[1])
	}
	for _, name := range []string{"old-gang-0", "old-gang-1"} {
		pod := &corev1.Pod{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "reclaim", Name: name}, pod); err != nil || pod.DeletionTimestamp != nil {
			t.Errorf("older gang pod %s was touched: %v", name, err)
		}
	}
	for _, name := range []string{"young-gang-0", "young-gang-1"} {
		err := c.Get(ctx, types.NamespacedName{Namespace: "reclaim", Name: name}, &corev1.Pod{})
		if err == nil {
			t.Errorf("younger gang pod %s survived: the gang was not reclaimed whole", name)
		}
	}
}

// freeNodes finds n fake GPU nodes with no pods on them.
func freeNodes(t *testing.T, c client.Client, n int) []string {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods); err != nil {
		t.Fatal(err)
	}
	busy := map[string]bool{}
	for _, p := range pods.Items {
		busy[p.Spec.NodeName] = true
	}
	var nodes corev1.NodeList
	if err := c.List(context.Background(), &nodes); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, node := range nodes.Items {
		if !busy[node.Name] && len(out) < n {
			out = append(out, node.Name)
		}
	}
	if len(out) < n {
		t.Fatalf("only %d free nodes, want %d", len(out), n)
	}
	return out
}

// runBatchGang creates a Volcano batch gang of two 4-GPU pods bound to
// node, in the default queue (the serving unit's) at low priority, and
// waits until it runs.
func runBatchGang(t *testing.T, c client.Client, name, node string) {
	t.Helper()
	ctx := context.Background()
	pg := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "reclaim", Name: name},
		Spec:       schedv1beta1.PodGroupSpec{MinMember: 2, Queue: "default", PriorityClassName: "batch-low"},
	}
	if err := c.Create(ctx, pg); err != nil {
		t.Fatal(err)
	}
	gpus := *resource.NewQuantity(4, resource.DecimalSI)
	for i := 0; i < 2; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "reclaim", Name: fmt.Sprintf("%s-%d", name, i),
				Annotations: map[string]string{schedv1beta1.KubeGroupNameAnnotationKey: name}},
			Spec: corev1.PodSpec{
				NodeName:          node,
				SchedulerName:     "volcano",
				PriorityClassName: "batch-low",
				Containers: []corev1.Container{{Name: "train", Image: "trainer:fake", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{localcluster.GPUResource: gpus}, Limits: corev1.ResourceList{localcluster.GPUResource: gpus},
				}}},
			},
		}
		if err := c.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		got := &schedv1beta1.PodGroup{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(pg), got); err != nil {
			return false, err
		}
		return got.Status.Phase == schedv1beta1.PodGroupRunning, nil
	})
	if err != nil {
		t.Fatalf("batch gang %s never ran: %v", name, err)
	}
}
