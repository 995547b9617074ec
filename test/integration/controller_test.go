package integration

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// disaggregated is 1 prefill instance and 1 decode instance of two pods
// (tensor parallel across nodes) per unit.
func disaggregated(name, ns string, units int32) *testutil.ServingGroupWrapper {
	return testutil.MakeServingGroup(name).Namespace(ns).Replicas(units).
		Role(testutil.MakeRole("prefill").GPU(4, "NVIDIA-H100-80GB-HBM3").Obj()).
		Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj())
}

// create submits a built ServingGroup as a user would: no UID, no
// generation, no status.
func (e *env) create(w *testutil.ServingGroupWrapper) *v1alpha1.ServingGroup {
	e.t.Helper()
	sg := w.Obj()
	sg.UID, sg.Generation, sg.ResourceVersion = "", 0, ""
	if err := e.c.Create(e.ctx, sg); err != nil {
		e.t.Fatal(err)
	}
	return sg
}

func TestCreateBuildsUnits(t *testing.T) {
	e := newEnv(t)
	e.create(disaggregated("chat", e.ns, 2))

	wantPods := []string{
		"chat-0-decode-0-0", "chat-0-decode-0-1", "chat-0-prefill-0-0",
		"chat-1-decode-0-0", "chat-1-decode-0-1", "chat-1-prefill-0-0",
	}
	e.eventually("pods created", func() error {
		if diff := cmp.Diff(wantPods, podNames(e.pods())); diff != "" {
			return fmt.Errorf("pods (-want +got):\n%s", diff)
		}
		return nil
	})
	pgs := e.podGroups()
	if len(pgs) != 2 {
		t.Fatalf("got %d PodGroups, want 2", len(pgs))
	}
	pg := pgs[0]
	if pg.Name != "chat-0" || pg.Spec.MinMember != 3 || pg.Spec.Queue != "default" {
		t.Errorf("PodGroup %s: minMember %d queue %q, want chat-0, 3, default", pg.Name, pg.Spec.MinMember, pg.Spec.Queue)
	}
	if gpus := (*pg.Spec.MinResources)["nvidia.com/gpu"]; !gpus.Equal(resource.MustParse("20")) {
		t.Errorf("PodGroup minResources GPUs = %s, want 20 (4 prefill + 2x8 decode)", gpus.String())
	}
	var sizes []int32
	for _, sub := range pg.Spec.SubGroupPolicy {
		sizes = append(sizes, *sub.SubGroupSize)
		if diff := cmp.Diff([]string{v1alpha1.LabelInstance}, sub.MatchLabelKeys); diff != "" {
			t.Errorf("subGroupPolicy %s matchLabelKeys (-want +got):\n%s", sub.Name, diff)
		}
	}
	slices.Sort(sizes)
	if diff := cmp.Diff([]int32{1, 2}, sizes); diff != "" {
		t.Errorf("subGroupPolicy sizes (-want +got):\n%s", diff)
	}

	worker := &corev1.Pod{}
	if err := e.c.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: "chat-1-decode-0-1"}, worker); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, v := range worker.Spec.Containers[0].Env {
		env[v.Name] = v.Value
	}
	wantEnv := map[string]string{
		v1alpha1.EnvLeaderAddress: "chat-1-decode-0-0.chat-1." + e.ns,
		v1alpha1.EnvRank:          "1",
		v1alpha1.EnvWorldSize:     "2",
	}
	for k, v := range wantEnv {
		if env[k] != v {
			t.Errorf("worker env %s = %q, want %q", k, env[k], v)
		}
	}
	if got := worker.Annotations[schedv1beta1.KubeGroupNameAnnotationKey]; got != "chat-1" {
		t.Errorf("worker group-name annotation = %q, want chat-1", got)
	}
	if worker.Spec.Hostname != "chat-1-decode-0-1" || worker.Spec.Subdomain != "chat-1" {
		t.Errorf("worker hostname/subdomain = %s/%s, want chat-1-decode-0-1/chat-1", worker.Spec.Hostname, worker.Spec.Subdomain)
	}
	svc := &corev1.Service{}
	if err := e.c.Get(e.ctx, types.NamespacedName{Namespace: e.ns, Name: "chat-1"}, svc); err != nil {
		t.Fatalf("headless Service of unit 1: %v", err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service clusterIP = %q, want None", svc.Spec.ClusterIP)
	}

	e.eventually("status reports units not ready", func() error {
		sg := e.get("chat")
		if c := condition(sg, v1alpha1.ConditionAvailable); c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != sg.Generation {
			return fmt.Errorf("want Available=False at the current generation: %s", describe(sg))
		}
		return nil
	})
	e.readyAll()
	e.eventually("Available once every pod is ready", func() error {
		sg := e.get("chat")
		c := condition(sg, v1alpha1.ConditionAvailable)
		if sg.Status.ReadyReplicas != 2 || c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("%s", describe(sg))
		}
		if sg.Status.ObservedGeneration != sg.Generation || sg.Status.Selector == "" {
			return fmt.Errorf("observedGeneration %d selector %q", sg.Status.ObservedGeneration, sg.Status.Selector)
		}
		return nil
	})
	sg := e.get("chat")
	var roles []string
	for _, r := range sg.Status.Roles {
		roles = append(roles, fmt.Sprintf("%s=%d", r.Name, r.ReadyInstances))
	}
	if diff := cmp.Diff([]string{"prefill=2", "decode=2"}, roles); diff != "" {
		t.Errorf("ready instances per role (-want +got):\n%s", diff)
	}
}
