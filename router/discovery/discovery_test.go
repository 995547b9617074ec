package discovery

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/router/endpoint"
)

func TestParseFile(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		want    []endpoint.Spec
		wantErr string
	}{
		{
			name: "defaults and the shared model list",
			file: `
models: [m]
endpoints:
- address: 10.0.0.1:8000
  role: prefill
  unit: "0"
  group: g
- address: 10.0.0.2:8000
  name: d0
  role: decode
  engine: sglang
  models: [m, m2]
`,
			want: []endpoint.Spec{
				{Name: "10.0.0.1:8000", Address: "10.0.0.1:8000", Models: []string{"m"}, Role: endpoint.RolePrefill, Unit: "0", Group: "g", Kind: endpoint.VLLM},
				{Name: "d0", Address: "10.0.0.2:8000", Models: []string{"m", "m2"}, Role: endpoint.RoleDecode, Kind: endpoint.SGLang, BootstrapPort: 8998},
			},
		},
		{
			name: "ports of an endpoint",
			file: `
endpoints:
- {address: 10.0.1.1:30000, role: prefill, engine: sglang, bootstrapPort: 9100, kvEventsPort: 6100, models: [m]}
`,
			want: []endpoint.Spec{
				{Name: "10.0.1.1:30000", Address: "10.0.1.1:30000", Models: []string{"m"}, Role: endpoint.RolePrefill, Kind: endpoint.SGLang, BootstrapPort: 9100, KVEventsPort: 6100},
			},
		},
		{name: "unknown field", file: "endpoints:\n- address: h:1\n  port: 3\n", wantErr: `unknown field "port"`},
		{name: "bad address", file: "endpoints:\n- address: nohost\n", wantErr: "endpoints[0]"},
		{name: "duplicate name", file: "endpoints:\n- address: h:1\n- address: h:1\n", wantErr: "duplicate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFile([]byte(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// The file is reread when it changes; a broken edit keeps the last good set.
func TestStaticReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "endpoints.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reg := endpoint.NewRegistry(endpoint.Options{IndexBlocks: 10, BlockBytes: 64, BytesPerToken: 4, RatePrior: 1})
	s := &Static{Path: path, Sink: reg, Log: logr.Discard(), Interval: time.Hour}
	names := func() []string {
		var out []string
		for _, e := range reg.Snapshot().All {
			out = append(out, e.Name)
		}
		return out
	}
	write("models: [m]\nendpoints:\n- {address: 'h:1', name: a}\n- {address: 'h:2', name: b}\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	a := reg.Snapshot().Endpoint("a")
	write("models: [m]\nendpoints:\n- {address: 'h:1', name: a}\n- {address: 'h:3', name: c}\n")
	if err := s.Load(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "c"}, names()); diff != "" || reg.Snapshot().Endpoint("a") != a {
		t.Errorf("after reload (-want +got):\n%s", diff)
	}
	write("endpoints: [oops")
	if err := s.Load(); err == nil {
		t.Error("a broken file loaded without error")
	}
	if diff := cmp.Diff([]string{"a", "c"}, names()); diff != "" {
		t.Errorf("after a broken edit (-want +got):\n%s", diff)
	}
}

// pod is a builder of ServingGroup pods, owned by their group as the
// controller makes them.
type pod struct{ corev1.Pod }

func groupUID(namespace, name string) types.UID { return types.UID("uid-" + namespace + "-" + name) }

func mkPod(name, group, role, unit, rank, ip string) *pod {
	p := &pod{corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{
			v1alpha1.LabelGroup: group, v1alpha1.LabelRole: role, v1alpha1.LabelUnit: unit, v1alpha1.LabelRank: rank,
		}, OwnerReferences: []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup", Name: group, UID: groupUID("ns", group),
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}}
	return p
}

// in moves the pod to namespace ns, its owner reference with it.
func (p *pod) in(ns string) *pod {
	p.Namespace = ns
	for i := range p.OwnerReferences {
		p.OwnerReferences[i].UID = groupUID(ns, p.OwnerReferences[i].Name)
	}
	return p
}

// owner changes the pod's controller reference.
func (p *pod) owner(change func(*metav1.OwnerReference)) *pod {
	change(&p.OwnerReferences[0])
	return p
}

func (p *pod) notReady() *pod {
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	return p
}

func (p *pod) deleting() *pod {
	p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	return p
}

func group(name string, kind v1alpha1.EngineKind, port int32, models ...string) v1alpha1.ServingGroup {
	return v1alpha1.ServingGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: groupUID("ns", name)},
		Spec:       v1alpha1.ServingGroupSpec{Engine: v1alpha1.EngineSpec{Kind: kind, Port: port}, ServedModelNames: models},
	}
}

// The engine's ports come from spec.engine; what a group leaves out is
// the engines' default (the CRD writes kvEventsPort; SGLang's bootstrap
// port is defaulted by the router, since it means nothing to vLLM).
func TestEndpointPortsFromTheGroup(t *testing.T) {
	withPorts := func(kind v1alpha1.EngineKind, bootstrap, kvEvents int32) v1alpha1.ServingGroup {
		g := group("g", kind, 8000, "m")
		g.Spec.Engine.BootstrapPort, g.Spec.Engine.KVEventsPort = bootstrap, kvEvents
		return g
	}
	type ports struct{ Address, Bootstrap, KVEvents string }
	cases := []struct {
		name  string
		group v1alpha1.ServingGroup
		want  ports
	}{
		{"sglang, ports set", withPorts(v1alpha1.EngineSGLang, 9100, 6100), ports{"127.2.0.1:8000", "9100", "6100"}},
		{"sglang, CRD defaults", withPorts(v1alpha1.EngineSGLang, 0, v1alpha1.DefaultKVEventsPort), ports{"127.2.0.1:8000", "8998", "5557"}},
		{"sglang, built without defaults", withPorts(v1alpha1.EngineSGLang, 0, 0), ports{"127.2.0.1:8000", "8998", "0"}},
		{"vllm, kv events port set", withPorts(v1alpha1.EngineVLLM, 0, 6200), ports{"127.2.0.1:8000", "0", "6200"}},
		{"vllm ignores a bootstrap port", withPorts(v1alpha1.EngineVLLM, 9100, 0), ports{"127.2.0.1:8000", "0", "0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Endpoints([]v1alpha1.ServingGroup{tc.group}, []corev1.Pod{mkPod("g-0-prefill-0-0", "g", "prefill", "0", "0", "127.2.0.1").Pod})
			if len(got) != 1 {
				t.Fatalf("%d endpoints, want 1: %+v", len(got), got)
			}
			s := got[0]
			gotPorts := ports{s.Address, strconv.Itoa(s.BootstrapPort), strconv.Itoa(s.KVEventsPort)}
			if diff := cmp.Diff(tc.want, gotPorts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEndpointsFromPods(t *testing.T) {
	groups := []v1alpha1.ServingGroup{group("pd", v1alpha1.EngineVLLM, 8000, "m"), group("sg", v1alpha1.EngineSGLang, 0)}
	pods := []corev1.Pod{
		mkPod("pd-0-prefill-0-0", "pd", "prefill", "0", "0", "127.2.0.1").Pod,
		mkPod("pd-0-decode-0-0", "pd", "decode", "0", "0", "127.2.0.2").Pod,
		mkPod("pd-0-decode-0-1", "pd", "decode", "0", "1", "127.2.0.3").Pod, // a worker
		mkPod("pd-1-decode-0-0", "pd", "decode", "1", "0", "127.2.0.4").notReady().Pod,
		mkPod("pd-1-prefill-0-0", "pd", "prefill", "1", "0", "127.2.0.5").deleting().Pod,
		mkPod("pd-2-prefill-0-0", "pd", "prefill", "2", "0", "").Pod, // no IP yet
		mkPod("sg-0-engine-0-0", "sg", "engine", "0", "0", "127.2.0.6").Pod,
		mkPod("gone-0-engine-0-0", "gone", "engine", "0", "0", "127.2.0.7").Pod, // its group was deleted
	}
	want := []endpoint.Spec{
		{Name: "ns/pd-0-decode-0-0", Address: "127.2.0.2:8000", Models: []string{"m"}, Role: endpoint.RoleDecode, Group: "ns/pd", Unit: "0", Kind: endpoint.VLLM},
		{Name: "ns/pd-0-prefill-0-0", Address: "127.2.0.1:8000", Models: []string{"m"}, Role: endpoint.RolePrefill, Group: "ns/pd", Unit: "0", Kind: endpoint.VLLM},
		{Name: "ns/sg-0-engine-0-0", Address: "127.2.0.6:8000", Role: endpoint.RoleBoth, Group: "ns/sg", Unit: "0", Kind: endpoint.SGLang, BootstrapPort: 8998},
	}
	if diff := cmp.Diff(want, Endpoints(groups, pods)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Only a pod whose controller is its ServingGroup is an endpoint: the
// group label alone is something anyone who can create a pod can write.
func TestOnlyPodsOwnedByTheirGroup(t *testing.T) {
	groups := []v1alpha1.ServingGroup{group("g", v1alpha1.EngineVLLM, 8000, "m"), group("other", v1alpha1.EngineVLLM, 8000, "m2")}
	cases := []struct {
		name string
		pod  *pod
		want bool
	}{
		{"owned by its group", mkPod("g-0-engine-0-0", "g", "engine", "0", "0", "127.2.0.1"), true},
		{"the group label but no owner reference", mkPod("impostor", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) {
			*r = metav1.OwnerReference{}
		}), false},
		{"owner reference not the controller", mkPod("impostor", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) { r.Controller = nil }), false},
		{"owned by another kind", mkPod("impostor", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) { r.Kind = "Deployment" }), false},
		{"owned by another API group", mkPod("impostor", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) { r.APIVersion = "example.com/v1alpha1" }), false},
		{"owned by another group than its label", mkPod("impostor", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) {
			r.Name, r.UID = "other", groupUID("ns", "other")
		}), false},
		{"owned by a deleted group of the same name", mkPod("stale", "g", "engine", "0", "0", "127.2.0.1").owner(func(r *metav1.OwnerReference) { r.UID = "uid-old" }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Endpoints(groups, []corev1.Pod{tc.pod.Pod})
			if (len(got) == 1) != tc.want {
				t.Errorf("endpoints %+v, want an endpoint: %v", got, tc.want)
			}
		})
	}
}

func inNamespace(g v1alpha1.ServingGroup, ns string) v1alpha1.ServingGroup {
	g.Namespace, g.UID = ns, groupUID(ns, g.Name)
	return g
}

func shared(g v1alpha1.ServingGroup) v1alpha1.ServingGroup {
	g.Annotations = map[string]string{AnnotationShareModel: "true"}
	return g
}

// Model pools are per namespace: a group of another namespace naming the
// same model never gets this namespace's traffic; one that shares its
// model serves only models this namespace does not, and only for a router
// that accepts shared models.
func TestModelPoolsPerNamespace(t *testing.T) {
	mine := group("llama", v1alpha1.EngineVLLM, 8000, "llama")
	pods := []corev1.Pod{
		mkPod("llama-0-engine-0-0", "llama", "engine", "0", "0", "127.2.0.1").Pod,
		mkPod("llama-0-engine-0-0", "llama", "engine", "0", "0", "127.3.0.1").in("other").Pod,
		mkPod("pub-0-engine-0-0", "pub", "engine", "0", "0", "127.4.0.1").in("models").Pod,
	}
	type ep struct {
		Name   string
		Models []string
	}
	cases := []struct {
		name   string
		scope  Scope
		groups []v1alpha1.ServingGroup
		want   []ep
	}{
		{
			name:   "same model in another namespace",
			scope:  Scope{Namespace: "ns"},
			groups: []v1alpha1.ServingGroup{mine, inNamespace(group("llama", v1alpha1.EngineVLLM, 8000, "llama"), "other")},
			want:   []ep{{"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "same model shared from another namespace",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{mine, shared(inNamespace(group("llama", v1alpha1.EngineVLLM, 8000, "llama"), "other"))},
			want:   []ep{{"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "a shared group serves only what this namespace does not",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{mine, shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "llama", "qwen"), "models"))},
			want:   []ep{{"models/pub-0-engine-0-0", []string{"qwen"}}, {"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "a shared group needs a router that accepts shared models",
			scope:  Scope{Namespace: "ns"},
			groups: []v1alpha1.ServingGroup{mine, shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models"))},
			want:   []ep{{"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "a group that does not share is not taken",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{mine, inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models")},
			want:   []ep{{"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "a shared group without servedModelNames is not taken",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{mine, shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000), "models"))},
			want:   []ep{{"ns/llama-0-engine-0-0", []string{"llama"}}},
		},
		{
			name:   "no shared group while a home group's models are its engine's",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{group("llama", v1alpha1.EngineVLLM, 8000), shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models"))},
			want:   []ep{{"ns/llama-0-engine-0-0", nil}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []ep
			for _, s := range tc.scope.Endpoints(tc.groups, pods) {
				got = append(got, ep{s.Name, s.Models})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

// Through the registry: a same-model group in another namespace gets none
// of this namespace's requests, because it is not in the model's pool.
func TestOtherNamespaceGetsNoTraffic(t *testing.T) {
	reg := endpoint.NewRegistry(endpoint.Options{IndexBlocks: 10, BlockBytes: 64, BytesPerToken: 4, RatePrior: 1})
	groups := []v1alpha1.ServingGroup{
		group("llama", v1alpha1.EngineVLLM, 8000, "llama"),
		shared(inNamespace(group("llama", v1alpha1.EngineVLLM, 8000, "llama"), "other")),
	}
	pods := []corev1.Pod{
		mkPod("llama-0-engine-0-0", "llama", "engine", "0", "0", "127.2.0.1").Pod,
		mkPod("llama-0-engine-0-0", "llama", "engine", "0", "0", "127.3.0.1").in("other").Pod,
	}
	reg.Update(Scope{Namespace: "ns", Shared: true}.Endpoints(groups, pods))
	pool := reg.Snapshot().Pool("llama")
	if pool == nil {
		t.Fatal("no pool for llama")
	}
	var names []string
	for _, e := range pool.Serving {
		names = append(names, e.Name)
	}
	if diff := cmp.Diff([]string{"ns/llama-0-engine-0-0"}, names); diff != "" {
		t.Errorf("llama's pool (-want +got):\n%s", diff)
	}
}

func TestOwnNamespace(t *testing.T) {
	t.Setenv("POD_NAMESPACE", "serving")
	if ns, err := OwnNamespace(); ns != "serving" || err != nil {
		t.Errorf("OwnNamespace = %q, %v; want serving", ns, err)
	}
}

func TestRunNeedsANamespace(t *testing.T) {
	k := &Kubernetes{Log: logr.Discard()}
	if err := k.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "no namespace") {
		t.Errorf("Run without a namespace: %v, want a no-namespace error", err)
	}
}
