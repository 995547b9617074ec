package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

var sgResource = schema.GroupVersionResource{Group: "serving.tandem.dev", Version: "v1alpha1", Resource: "servinggroups"}

// validSpec is a correct ServingGroup as a user would write it; each case
// below breaks one thing.
const validSpec = `
apiVersion: serving.tandem.dev/v1alpha1
kind: ServingGroup
metadata:
  name: llama
spec:
  replicas: 2
  engine: {kind: vllm, port: 8000}
  servedModelNames: [llama-3.1-8b]
  roles:
  - name: prefill
    replicas: 2
    minReplicas: 1
    accelerator: {count: 4, types: [NVIDIA-H100-80GB-HBM3]}
    template:
      spec:
        containers: [{name: engine, image: vllm/vllm-openai:v0.11.0}]
  - name: decode
    size: 2
    accelerator: {count: 8}
    template:
      spec:
        containers: [{name: engine, image: vllm/vllm-openai:v0.11.0}]
  topology: {instanceTier: 1, unitTier: 2, mode: hard}
  recovery: {policy: RecreateUnit, gracePeriodSeconds: 30}
  rollout: {maxUnavailable: 1, maxSurge: 0}
`

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	return obj
}

// mutate edits a parsed copy of validSpec.
func mutate(t *testing.T, name string, edit func(spec map[string]any)) *unstructured.Unstructured {
	obj := parse(t, validSpec)
	obj.SetName(name)
	edit(obj.Object["spec"].(map[string]any))
	return obj
}

func roles(spec map[string]any) []any                { return spec["roles"].([]any) }
func role(spec map[string]any, i int) map[string]any { return roles(spec)[i].(map[string]any) }

func TestInvalidServingGroupsAreRefused(t *testing.T) {
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ns := "validation"
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(context.Background(),
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := dyn.Resource(sgResource).Namespace(ns)

	cases := []struct {
		name string
		obj  *unstructured.Unstructured
		want string // part of the message the operator sees
	}{
		{"group name too long", mutate(t, "a-very-long-servinggroup-name-for-llama", func(map[string]any) {}),
			"ServingGroup name must be at most 30 characters"},
		{"unknown engine", mutate(t, "bad-engine", func(s map[string]any) { s["engine"] = map[string]any{"kind": "tgi"} }),
			`Unsupported value: "tgi"`},
		{"no roles", mutate(t, "no-roles", func(s map[string]any) { s["roles"] = []any{} }),
			"should have at least 1 items"},
		{"duplicate role names", mutate(t, "dup-roles", func(s map[string]any) { role(s, 1)["name"] = "prefill" }),
			"role names must be unique"},
		{"role name with capitals", mutate(t, "caps", func(s map[string]any) { role(s, 0)["name"] = "Prefill" }),
			"role name must contain only lower-case letters"},
		{"minReplicas above replicas", mutate(t, "min-above", func(s map[string]any) { role(s, 0)["minReplicas"] = 3 }),
			"minReplicas must not exceed replicas"},
		{"size zero", mutate(t, "size-zero", func(s map[string]any) { role(s, 1)["size"] = 0 }),
			"should be greater than or equal to 1"},
		{"worker template on a single-pod role", mutate(t, "stray-workers", func(s map[string]any) {
			role(s, 0)["workerTemplate"] = role(s, 0)["template"]
		}), "workerTemplate is only used when size > 1"},
		{"tier zero", mutate(t, "tier-zero", func(s map[string]any) { s["topology"].(map[string]any)["instanceTier"] = 0 }),
			"should be greater than or equal to 1"},
		{"instance tier above unit tier", mutate(t, "tiers", func(s map[string]any) { s["topology"].(map[string]any)["instanceTier"] = 3 }),
			"topology.instanceTier must not exceed topology.unitTier"},
		{"unknown recovery policy", mutate(t, "recovery", func(s map[string]any) { s["recovery"] = map[string]any{"policy": "Restart"} }),
			`Unsupported value: "Restart"`},
		{"rollout that can never progress", mutate(t, "stuck", func(s map[string]any) {
			s["rollout"] = map[string]any{"maxUnavailable": 0, "maxSurge": 0}
		}), "rollout.maxUnavailable and rollout.maxSurge cannot both be zero"},
		{"bad maxUnavailable percentage", mutate(t, "percent", func(s map[string]any) {
			s["rollout"] = map[string]any{"maxUnavailable": "150%"}
		}), "rollout.maxUnavailable must be a non-negative number of units or a percentage"},
		{"accelerator resource without a domain", mutate(t, "gpu-name", func(s map[string]any) {
			role(s, 0)["accelerator"] = map[string]any{"resource": "gpu", "count": 1}
		}), "accelerator resource must be an extended resource name"},
		{"negative replicas", mutate(t, "negative", func(s map[string]any) { s["replicas"] = -1 }),
			"should be greater than or equal to 0"},
		// spec.engine's router-only ports: the message is the whole field
		// error, so the test also proves which field the server blamed.
		{"bootstrapPort on a vllm group", mutate(t, "vllm-bootstrap", func(s map[string]any) {
			s["engine"].(map[string]any)["bootstrapPort"] = 8998
		}), `spec.engine: Invalid value: "object": engine.bootstrapPort is SGLang's disaggregation bootstrap port; remove it for kind vllm (a vLLM prefill reports its NIXL side channel in kv_transfer_params)`},
		{"bootstrapPort zero", mutate(t, "bootstrap-zero", func(s map[string]any) {
			s["engine"] = map[string]any{"kind": "sglang", "port": 8000, "bootstrapPort": 0}
		}), "spec.engine.bootstrapPort: Invalid value: 0: spec.engine.bootstrapPort in body should be greater than or equal to 1"},
		{"kvEventsPort zero", mutate(t, "kv-events-zero", func(s map[string]any) {
			s["engine"].(map[string]any)["kvEventsPort"] = 0
		}), "spec.engine.kvEventsPort: Invalid value: 0: spec.engine.kvEventsPort in body should be greater than or equal to 1"},
		{"kvEventsPort above 65535", mutate(t, "kv-events-high", func(s map[string]any) {
			s["engine"].(map[string]any)["kvEventsPort"] = 70000
		}), "spec.engine.kvEventsPort: Invalid value: 70000: spec.engine.kvEventsPort in body should be less than or equal to 65535"},
		{"queue with spaces", mutate(t, "queue", func(s map[string]any) { s["queue"] = "batch queue" }),
			"queue must be a Volcano queue name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Create(context.Background(), tc.obj, metav1.CreateOptions{})
			if err == nil {
				t.Fatalf("accepted; want refused with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("refused with\n  %v\nwant a message containing %q", err, tc.want)
			}
		})
	}

	t.Run("valid spec is accepted", func(t *testing.T) {
		if _, err := client.Create(context.Background(), parse(t, validSpec), metav1.CreateOptions{}); err != nil {
			t.Fatalf("valid ServingGroup refused: %v", err)
		}
	})
	// The CEL rule refuses bootstrapPort only for vllm, and the CRD fills
	// kvEventsPort with vLLM's default, which discovery hands the router.
	t.Run("sglang group with bootstrapPort is accepted and kvEventsPort defaulted", func(t *testing.T) {
		obj := mutate(t, "sglang-ports", func(s map[string]any) {
			s["engine"] = map[string]any{"kind": "sglang", "port": 30000, "bootstrapPort": 9000}
		})
		got, err := client.Create(context.Background(), obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		engine, _, _ := unstructured.NestedMap(got.Object, "spec", "engine")
		want := map[string]any{"kind": "sglang", "port": int64(30000), "bootstrapPort": int64(9000), "kvEventsPort": int64(5557)}
		if diff := cmp.Diff(want, engine); diff != "" {
			t.Errorf("stored spec.engine (-want +got):\n%s", diff)
		}
	})
	immutable := []struct {
		name string
		edit func(spec map[string]any)
		want string
	}{
		{"engine kind", func(s map[string]any) { s["engine"].(map[string]any)["kind"] = "sglang" }, "engine.kind is immutable"},
		{"instance size", func(s map[string]any) { role(s, 1)["size"] = 4 }, "size is immutable"},
		{"role set", func(s map[string]any) { s["roles"] = roles(s)[:1] }, "roles cannot be added, removed or renamed"},
	}
	for _, tc := range immutable {
		t.Run("immutable "+tc.name, func(t *testing.T) {
			cur, err := client.Get(context.Background(), "llama", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(cur.Object["spec"].(map[string]any))
			_, err = client.Update(context.Background(), cur, metav1.UpdateOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("update: %v; want refused with %q", err, tc.want)
			}
		})
	}
}
