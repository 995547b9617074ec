package discovery

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/router/endpoint"
)

// The models a router knows follow the same per-namespace rules as its
// pools, with or without ready pods: a group at zero units still names
// its models, so the router holds their requests instead of 404.
func TestKnownModelsPerNamespace(t *testing.T) {
	cases := []struct {
		name   string
		scope  Scope
		groups []v1alpha1.ServingGroup
		want   []string
	}{
		{
			name:   "a home group with no pods",
			scope:  Scope{Namespace: "ns"},
			groups: []v1alpha1.ServingGroup{group("llama", v1alpha1.EngineVLLM, 8000, "llama", "llama-chat")},
			want:   []string{"llama", "llama-chat"},
		},
		{
			name:  "two home groups naming one model",
			scope: Scope{Namespace: "ns"},
			groups: []v1alpha1.ServingGroup{
				group("a", v1alpha1.EngineVLLM, 8000, "qwen", "llama"), group("b", v1alpha1.EngineVLLM, 8000, "llama"),
			},
			want: []string{"llama", "qwen"},
		},
		{
			name:   "a group of another namespace that does not share",
			scope:  Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models")},
		},
		{
			name:  "a shared group adds only what this namespace does not serve",
			scope: Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{
				group("llama", v1alpha1.EngineVLLM, 8000, "llama"),
				shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "llama", "qwen"), "models")),
			},
			want: []string{"llama", "qwen"},
		},
		{
			name:   "a shared group needs a router that accepts shared models",
			scope:  Scope{Namespace: "ns"},
			groups: []v1alpha1.ServingGroup{shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models"))},
		},
		{
			name:  "a home group leaving its names to the engine declares none and keeps shared groups out",
			scope: Scope{Namespace: "ns", Shared: true},
			groups: []v1alpha1.ServingGroup{
				group("llama", v1alpha1.EngineVLLM, 8000),
				shared(inNamespace(group("pub", v1alpha1.EngineVLLM, 8000, "qwen"), "models")),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.scope.Models(tc.groups)); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
		})
	}
}

type sinks struct {
	specs  []endpoint.Spec
	models []string
}

func (s *sinks) Update(specs []endpoint.Spec) (added, removed []*endpoint.Endpoint) {
	s.specs = specs
	return nil, nil
}
func (s *sinks) SetKnownModels(models []string) { s.models = models }

// One sync hands the models of a group without ready pods to the model
// sink, and its endpoints (none) to the endpoint sink.
func TestSyncReportsModelsOfGroupsWithoutPods(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	idle := group("idle", v1alpha1.EngineVLLM, 8000, "qwen")
	busy := group("busy", v1alpha1.EngineVLLM, 8000, "llama")
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&idle, &busy,
		&mkPod("busy-0-engine-0-0", "busy", "engine", "0", "0", "127.2.0.1").Pod).Build()
	s := &sinks{}
	k := &Kubernetes{Namespace: "ns", Sink: s, Models: s, Log: logr.Discard()}
	if err := k.sync(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"llama", "qwen"}, s.models); diff != "" {
		t.Errorf("known models (-want +got):\n%s", diff)
	}
	var names []string
	for _, e := range s.specs {
		names = append(names, e.Name)
	}
	if diff := cmp.Diff([]string{"ns/busy-0-engine-0-0"}, names); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}
