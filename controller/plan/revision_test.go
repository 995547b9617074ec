package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func TestRevision(t *testing.T) {
	base := func() *testutil.ServingGroupWrapper { return disaggregated("rev").Replicas(2) }
	explicitDefaults := base().Obj()
	for i := range explicitDefaults.Spec.Roles {
		r := &explicitDefaults.Spec.Roles[i]
		r.Accelerator.Resource = "nvidia.com/gpu"
		if r.Replicas == 0 {
			r.Replicas = 1
		}
		if r.Size == 0 {
			r.Size = 1
		}
		if r.MinReplicas == nil {
			r.MinReplicas = &r.Replicas
		}
	}
	explicitDefaults.Spec.Queue = "default"
	explicitDefaults.Spec.Engine.Port = 8000
	explicitDefaults.Spec.Engine.KVEventsPort = v1alpha1.DefaultKVEventsPort
	routerPorts := base().Obj()
	routerPorts.Spec.Engine.KVEventsPort = 6000
	routerPorts.Spec.Engine.BootstrapPort = 9000 // refused for vllm by CEL; the hash ignores it anyway

	cases := []struct {
		name string
		sg   *v1alpha1.ServingGroup
		same bool
	}{
		{name: "same spec", sg: base().Obj(), same: true},
		{name: "defaults written out", sg: explicitDefaults, same: true},
		{name: "more units", sg: base().Replicas(5).Obj(), same: true},
		{name: "recovery policy", sg: base().Recovery(v1alpha1.RecoverNone, 5).Obj(), same: true},
		{name: "rollout settings", sg: base().Rollout(3, 1).Partition(1).Obj(), same: true},
		{name: "served model names", sg: base().ServedModelNames("llama").Obj(), same: true},
		{name: "image", sg: base().Image("vllm:v2").Obj(), same: false},
		{name: "engine port", sg: base().Engine(v1alpha1.EngineVLLM, 9000).Obj(), same: false},
		{name: "engine kind", sg: base().Engine(v1alpha1.EngineSGLang, 8000).Obj(), same: false},
		{name: "ports only the router reads", sg: routerPorts, same: true},
		{name: "topology", sg: base().Topology(1, 2, v1alpha1.TopologyHard).Obj(), same: false},
		{name: "queue", sg: base().Queue("other").Obj(), same: false},
		{name: "priority class", sg: base().PriorityClass("high").Obj(), same: false},
	}
	want := mustRevision(t, base().Obj())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustRevision(t, tc.sg)
			if (got == want) != tc.same {
				t.Errorf("revision %s vs base %s: same = %v, want %v", got, want, got == want, tc.same)
			}
		})
	}
}

// Changing the instance count of a role without minReplicas moves its gang
// minimum with it, so it is a new revision. Units made with the old count
// are judged by the count recorded on their PodGroup, so the instance the
// new spec adds is neither "lost" (no recovery) nor created into the old
// unit; the rollout replaces the units instead. (With minReplicas set the
// units are resized in place: reshape_test.go.)
func TestOutdatedUnitsKeepTheirShape(t *testing.T) {
	shape := func(decodes int32) *v1alpha1.ServingGroup {
		return testutil.MakeServingGroup("sh").Replicas(2).
			Role(testutil.MakeRole("decode").Replicas(decodes).GPU(1).Obj()).
			Recovery(v1alpha1.RecoverRecreateUnit, 30).Obj()
	}
	w := newWorld()
	w.converge(t, shape(2), t0)

	for _, decodes := range []int32{3, 1} {
		got := summarizePlan(w.compute(t, shape(decodes), t0.Add(time.Hour)))
		want := actions{Delete: []string{
			"Pod sh-1-decode-0-0 (Rollout)", "Pod sh-1-decode-1-0 (Rollout)", "PodGroup sh-1 (Rollout)",
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decode replicas 2 -> %d: plan (-want +got):\n%s", decodes, diff)
		}
	}
}

func TestParseShape(t *testing.T) {
	spec := normalize(&disaggregated("p").Obj().Spec) // prefill=2, decode=1
	cases := map[string]map[string]int32{
		"":                        {"prefill": 2, "decode": 1},
		"prefill=4,decode=3":      {"prefill": 4, "decode": 3},
		"decode=2":                {"prefill": 2, "decode": 2},
		"prefill=x,unknown=3,=,,": {"prefill": 2, "decode": 1},
		"prefill=-1,decode=999":   {"prefill": 2, "decode": 1},
	}
	for value, want := range cases {
		if diff := cmp.Diff(want, parseShape(value, spec)); diff != "" {
			t.Errorf("parseShape(%q) (-want +got):\n%s", value, diff)
		}
	}
	if got := formatShape(spec); got != "prefill=2,decode=1" {
		t.Errorf("formatShape = %q", got)
	}
}

// minResources follows Kubernetes: a limit without a request counts as the
// request, init containers count by their maximum.
func TestPodRequests(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "fetch", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("6")},
		}}},
		Containers: []corev1.Container{
			{Name: "engine", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: mustQ("4"), "nvidia.com/gpu": mustQ("1")}}},
			{Name: "sidecar", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: mustQ("500m")}}},
		},
	}}
	got := podRequests(pod)
	want := corev1.ResourceList{corev1.ResourceCPU: mustQ("6"), "nvidia.com/gpu": mustQ("1")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("podRequests (-want +got):\n%s", diff)
	}
}

func mustQ(s string) resource.Quantity { return resource.MustParse(s) }
