package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	volcanoclient "volcano.sh/apis/pkg/client/clientset/versioned"

	"github.com/tandem-serving/tandem/test/localcluster"
)

func clients(t *testing.T) (kubernetes.Interface, volcanoclient.Interface) {
	t.Helper()
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	vc, err := volcanoclient.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return kube, vc
}

// TestGangIsBoundWhole: a PodGroup whose two pods meet minMember 2 is bound
// by tandem-scheduler and both pods reach Running on kwok GPU nodes.
func TestGangIsBoundWhole(t *testing.T) {
	ctx := context.Background()
	gang := localcluster.Gang{Namespace: "default", Name: "whole", MinMember: 2, Pods: 2, GPUs: 4}
	if err := gang.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	placed, err := gang.WaitRunning(ctx, cluster, 60*time.Second)
	if err != nil {
		t.Fatalf("gang pods not all Running: %v", err)
	}
	for _, p := range placed {
		if !strings.HasPrefix(p.Node, "gpu-") || p.Product == "" {
			t.Errorf("pod %s on %q (%q), want a fake GPU node", p.Pod, p.Node, p.Product)
		}
	}
}

// TestGangBelowMinMemberStaysPending: minMember 3 with only two pods must
// bind nothing, and the PodGroup must say why.
func TestGangBelowMinMemberStaysPending(t *testing.T) {
	ctx := context.Background()
	kube, vc := clients(t)
	gang := localcluster.Gang{Namespace: "default", Name: "short", MinMember: 3, Pods: 2, GPUs: 1}
	if err := gang.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	var reason string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		pg, err := vc.SchedulingV1beta1().PodGroups("default").Get(ctx, gang.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range pg.Status.Conditions {
			if c.Type == schedulingv1beta1.PodGroupUnschedulableType && c.Status == corev1.ConditionTrue {
				reason = c.Reason + ": " + c.Message
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("PodGroup never reported why it is unschedulable: %v", err)
	}
	if !strings.Contains(reason, "3 minAvailable") {
		t.Errorf("unschedulable message %q does not mention the minimum of 3", reason)
	}
	// The scheduler has looked at the gang (it wrote the condition); give it
	// several more cycles to prove it never binds part of it.
	time.Sleep(3 * time.Second)
	for i := 0; i < gang.Pods; i++ {
		pod, err := kube.CoreV1().Pods("default").Get(ctx, gang.PodName(i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pod.Spec.NodeName != "" || pod.Status.Phase != corev1.PodPending {
			t.Errorf("pod %s of an incomplete gang: node %q phase %s, want unbound and Pending", pod.Name, pod.Spec.NodeName, pod.Status.Phase)
		}
	}
	pg, _ := vc.SchedulingV1beta1().PodGroups("default").Get(ctx, gang.Name, metav1.GetOptions{})
	if pg.Status.Phase == schedulingv1beta1.PodGroupRunning {
		t.Errorf("PodGroup phase %s, want not Running", pg.Status.Phase)
	}
	t.Logf("PodGroup %s: phase %s, %s", gang.Name, pg.Status.Phase, reason)
}
