package plan

import (
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

func owner(name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{
		APIVersion: "serving.tandem.dev/v1alpha1", Kind: "ServingGroup", Name: name,
		UID: types.UID("uid-" + name), Controller: &yes, BlockOwnerDeletion: &yes,
	}}
}

func findPod(t *testing.T, p *Plan, name string) *corev1.Pod {
	t.Helper()
	for _, pod := range p.Pods {
		if pod.Name == name {
			return pod
		}
	}
	t.Fatalf("plan creates no pod %s", name)
	return nil
}

// A tensor-parallel instance (size 2): the worker gets the worker template,
// its rank, the world size and the leader's DNS name through the unit's
// headless Service; accelerators and types go into the first container and
// the node affinity; template labels survive next to the controller's.
func TestWorkerPodOfTensorParallelInstance(t *testing.T) {
	sg := testutil.MakeServingGroup("llama").Namespace("serving").PriorityClass("serving-high").
		Role(testutil.MakeRole("decode").Size(2).GPU(8, "H100", "H200").Label("team", "ml").WorkerImage("vllm:worker").Obj()).
		Obj()
	cfg := Config{SchedulerName: "tandem", ClusterDomain: "cluster.local"}
	p, err := Compute(cfg, sg, Observed{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	rev := p.Status.UpdateRevision
	eight := resource.MustParse("8")

	want := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "llama-0-decode-0-1",
			Namespace: "serving",
			Labels: map[string]string{
				"team":                        "ml",
				"serving.tandem.dev/group":    "llama",
				"serving.tandem.dev/unit":     "0",
				"serving.tandem.dev/role":     "decode",
				"serving.tandem.dev/instance": "llama-0-decode-0",
				"serving.tandem.dev/rank":     "1",
				"serving.tandem.dev/revision": rev,
			},
			Annotations:     map[string]string{"scheduling.k8s.io/group-name": "llama-0"},
			OwnerReferences: owner("llama"),
		},
		Spec: corev1.PodSpec{
			Hostname:          "llama-0-decode-0-1",
			Subdomain:         "llama-0",
			SchedulerName:     "tandem",
			PriorityClassName: "serving-high",
			Containers: []corev1.Container{{
				Name:  "engine",
				Image: "vllm:worker",
				Env: []corev1.EnvVar{
					{Name: "TANDEM_LEADER_ADDRESS", Value: "llama-0-decode-0-0.llama-0.serving.svc.cluster.local"},
					{Name: "TANDEM_RANK", Value: "1"},
					{Name: "TANDEM_WORLD_SIZE", Value: "2"},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{"nvidia.com/gpu": eight},
					Limits:   corev1.ResourceList{"nvidia.com/gpu": eight},
				},
			}},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key: "nvidia.com/gpu.product", Operator: corev1.NodeSelectorOpIn, Values: []string{"H100", "H200"},
					}}}},
				},
			}},
		},
	}
	if diff := cmp.Diff(want, findPod(t, p, "llama-0-decode-0-1")); diff != "" {
		t.Errorf("worker pod (-want +got):\n%s", diff)
	}
	leader := findPod(t, p, "llama-0-decode-0-0")
	if got := leader.Spec.Containers[0].Image; got != "vllm:v1" {
		t.Errorf("leader image = %q, want the leader template's vllm:v1", got)
	}
	if got := leader.Labels[v1alpha1.LabelRank]; got != "0" {
		t.Errorf("leader rank label = %q, want 0", got)
	}
}

func TestPodKeepsTemplateSettings(t *testing.T) {
	role := testutil.MakeRole("engine").GPU(1, "L4").Obj()
	role.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "HF_HOME", Value: "/cache"}, {Name: "TANDEM_RANK", Value: "bogus"}}
	role.Template.Spec.InitContainers = []corev1.Container{{Name: "wait-for-leader", Image: "busybox"}}
	role.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}},
		}},
	}}
	sg := testutil.MakeServingGroup("k").Role(role).Obj()
	p, err := Compute(testConfig, sg, Observed{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	pod := findPod(t, p, "k-0-engine-0-0")

	wantEnv := []corev1.EnvVar{
		{Name: "HF_HOME", Value: "/cache"},
		{Name: "TANDEM_LEADER_ADDRESS", Value: "k-0-engine-0-0.k-0.default"},
		{Name: "TANDEM_RANK", Value: "0"},
		{Name: "TANDEM_WORLD_SIZE", Value: "1"},
	}
	if diff := cmp.Diff(wantEnv, pod.Spec.Containers[0].Env); diff != "" {
		t.Errorf("container env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantEnv[1:], pod.Spec.InitContainers[0].Env); diff != "" {
		t.Errorf("init container env (-want +got):\n%s", diff)
	}
	gpu := corev1.NodeSelectorRequirement{Key: "nvidia.com/gpu.product", Operator: corev1.NodeSelectorOpIn, Values: []string{"L4"}}
	wantTerms := []corev1.NodeSelectorTerm{
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}, gpu}},
		{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}, gpu}},
	}
	gotTerms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if diff := cmp.Diff(wantTerms, gotTerms); diff != "" {
		t.Errorf("node selector terms (-want +got):\n%s", diff)
	}
	if got := pod.Spec.SchedulerName; got != DefaultSchedulerName {
		t.Errorf("schedulerName = %q, want %q", got, DefaultSchedulerName)
	}
}

// The PodGroup of a disaggregated unit: 1 of 2 prefill instances and the
// one two-pod decode instance make minMember 3; minResources counts the
// same pods; each role gets a sub-group policy keyed by the instance label.
func TestPodGroup(t *testing.T) {
	sg := testutil.MakeServingGroup("pd").Queue("serving").PriorityClass("high").
		Role(testutil.MakeRole("prefill").Replicas(2).MinReplicas(1).GPU(1).Requests("4", "16Gi").Obj()).
		Role(testutil.MakeRole("decode").Size(2).GPU(8).Requests("8", "64Gi").Obj()).
		Topology(1, 2, v1alpha1.TopologySoft).SpreadUnits().
		Obj()
	p, err := Compute(testConfig, sg, Observed{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.PodGroups) != 1 {
		t.Fatalf("got %d PodGroups, want 1", len(p.PodGroups))
	}
	one, tier1, tier2 := int32(1), 1, 2
	policy := func(role string, size int32, min *int32) schedv1beta1.SubGroupPolicySpec {
		return schedv1beta1.SubGroupPolicySpec{
			Name:            role,
			SubGroupSize:    &size,
			MinSubGroups:    min,
			LabelSelector:   &metav1.LabelSelector{MatchLabels: map[string]string{"serving.tandem.dev/role": role}},
			MatchLabelKeys:  []string{"serving.tandem.dev/instance"},
			NetworkTopology: &schedv1beta1.NetworkTopologySpec{Mode: "soft", HighestTierAllowed: &tier1},
		}
	}
	want := &schedv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{
			Name:      "pd-0",
			Namespace: "default",
			Labels: map[string]string{
				"serving.tandem.dev/group":    "pd",
				"serving.tandem.dev/unit":     "0",
				"serving.tandem.dev/revision": p.Status.UpdateRevision,
			},
			Annotations: map[string]string{
				"serving.tandem.dev/role-replicas": "prefill=2,decode=1",
				"serving.tandem.dev/spread-units":  "true",
			},
			OwnerReferences: owner("pd"),
		},
		Spec: schedv1beta1.PodGroupSpec{
			MinMember: 3,
			MinResources: &corev1.ResourceList{
				// 1 prefill pod (4 CPU, 16Gi, 1 GPU) + 2 decode pods (8 CPU, 64Gi, 8 GPU each).
				corev1.ResourceCPU:    resource.MustParse("20"),
				corev1.ResourceMemory: resource.MustParse("144Gi"),
				"nvidia.com/gpu":      resource.MustParse("17"),
			},
			Queue:             "serving",
			PriorityClassName: "high",
			NetworkTopology:   &schedv1beta1.NetworkTopologySpec{Mode: "soft", HighestTierAllowed: &tier2},
			SubGroupPolicy:    []schedv1beta1.SubGroupPolicySpec{policy("prefill", 1, &one), policy("decode", 2, &one)},
		},
	}
	if diff := cmp.Diff(want, p.PodGroups[0], cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); diff != "" {
		t.Errorf("PodGroup (-want +got):\n%s", diff)
	}
}

func TestPodGroupWithoutTopology(t *testing.T) {
	p, err := Compute(testConfig, aggregated("plain").Obj(), Observed{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	pg := p.PodGroups[0]
	if pg.Spec.NetworkTopology != nil || pg.Spec.SubGroupPolicy[0].NetworkTopology != nil {
		t.Errorf("network topology set without spec.topology: %+v", pg.Spec)
	}
	if pg.Spec.Queue != "default" {
		t.Errorf("queue = %q, want default", pg.Spec.Queue)
	}
	if _, ok := pg.Annotations[v1alpha1.AnnotationSpreadUnits]; ok {
		t.Errorf("spread-units annotation set without spreadUnits")
	}
}

func TestService(t *testing.T) {
	p, err := Compute(testConfig, aggregated("svc").Obj(), Observed{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]string{"serving.tandem.dev/group": "svc", "serving.tandem.dev/unit": "0"}
	want := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "svc-0", Namespace: "default", Labels: unit, OwnerReferences: owner("svc")},
		Spec:       corev1.ServiceSpec{ClusterIP: "None", Selector: unit, PublishNotReadyAddresses: true},
	}
	if diff := cmp.Diff(want, p.Services[0]); diff != "" {
		t.Errorf("Service (-want +got):\n%s", diff)
	}
}
