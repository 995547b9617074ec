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

// pod is a builder of ServingGroup pods.
type pod struct{ corev1.Pod }

func mkPod(name, group, role, unit, rank, ip string) *pod {
	p := &pod{corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{
			v1alpha1.LabelGroup: group, v1alpha1.LabelRole: role, v1alpha1.LabelUnit: unit, v1alpha1.LabelRank: rank,
		}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}}
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
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
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
