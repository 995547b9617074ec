package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router"
	"github.com/tandem-serving/tandem/router/discovery"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/schedule"
)

// startRouterOnCluster runs a router whose endpoints come from the local
// cluster's ServingGroups in namespace ns.
func startRouterOnCluster(t *testing.T, ns string) (*router.Router, string) {
	t.Helper()
	cfg := router.DefaultConfig()
	cfg.Scrape.Interval = router.Duration{Duration: 50 * time.Millisecond}
	rt, err := router.New(cfg, router.Options{Plugins: schedule.DefaultPlugins(), Logger: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); rt.Run(ctx) }()
	k := &discovery.Kubernetes{Config: cluster.RESTConfig(), Namespace: ns, Sink: rt.Registry(), Log: testr.New(t)}
	go func() {
		defer wg.Done()
		if err := k.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("kubernetes discovery: %v", err)
		}
	}()
	srv := httptest.NewServer(rt)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
	})
	return rt, srv.URL
}

func poolNames(rt *router.Router, model string) []string {
	p := rt.Registry().Snapshot().Pool(model)
	if p == nil {
		return nil
	}
	var out []string
	for _, e := range append(slices.Clone(p.Serving), p.Prefill...) {
		out = append(out, string(e.Role)+" "+e.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func waitPool(t *testing.T, rt *router.Router, model string, want int) []string {
	t.Helper()
	var got []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		got = poolNames(rt, model)
		return len(got) == want, nil
	})
	if err != nil {
		t.Fatalf("router endpoints for %s: %v, want %d", model, got, want)
	}
	return got
}

func complete(t *testing.T, url, model, prompt string) {
	t.Helper()
	body := `{"model":"` + model + `","prompt":"` + prompt + `","max_tokens":3}`
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("completion for %s: %d %s", model, resp.StatusCode, b)
	}
}

// TestRouterDiscoversDisaggregatedGroup: the router finds the 1p1d
// sample's leader pods (ready, with IPs) with their roles and units, and a
// long prompt takes the prefill/decode path through "the pods".
func TestRouterDiscoversDisaggregatedGroup(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "router-pd")
	sg := applySample(t, c, "router-pd", "disaggregated-1p1d.yaml")
	waitAvailable(t, c, types.NamespacedName{Namespace: "router-pd", Name: sg.Name})
	engines := waitEngines(t, c, startAgent(t, 0), "router-pd", sg.Name)

	rt, url := startRouterOnCluster(t, "router-pd")
	model := sg.Spec.ServedModelNames[0]
	got := waitPool(t, rt, model, 2)
	want := []string{"decode router-pd/" + sg.Name + "-0-decode-0-0", "prefill router-pd/" + sg.Name + "-0-prefill-0-0"}
	if !slices.Equal(got, want) {
		t.Errorf("endpoints %v, want %v", got, want)
	}
	complete(t, url, model, strings.Repeat("the quick brown fox ", 100))
	var prefillTokens uint64
	for _, e := range engines {
		if e.Config().Role == server.RolePrefill {
			prefillTokens += e.Snapshot().Stats.PromptTokens
		}
	}
	if prefillTokens == 0 {
		t.Error("the prefill pod computed nothing: no prefill/decode hand-off")
	}
	e := rt.Registry().Snapshot().Pool(model).Serving[0]
	if e.Unit != "0" || e.Group != "router-pd/"+sg.Name || e.Kind != endpoint.VLLM {
		t.Errorf("decode endpoint %+v", e.Spec)
	}
}

// TestRouterFollowsScaling: endpoints come and go with the group's units,
// without restarting the router.
func TestRouterFollowsScaling(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "router-scale")
	const model = "e2e/scaling-model"
	sg := &v1alpha1.ServingGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: "router-scale", Name: "scaling"},
		Spec: v1alpha1.ServingGroupSpec{
			Replicas:         ptr.To[int32](1),
			Engine:           v1alpha1.EngineSpec{Kind: v1alpha1.EngineVLLM, Port: 8100},
			ServedModelNames: []string{model},
			Roles: []v1alpha1.RoleSpec{{
				Name:        "engine",
				Accelerator: &v1alpha1.AcceleratorSpec{Count: 1},
				Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
					{Name: "vllm", Image: "vllm/vllm-openai:v0.11.0"},
				}}},
			}},
		},
	}
	if err := c.Create(context.Background(), sg); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(sg)
	waitAvailable(t, c, key)
	agent := startAgent(t, 0)
	waitEngines(t, c, agent, "router-scale", "scaling")
	rt, url := startRouterOnCluster(t, "router-scale")
	waitPool(t, rt, model, 1)
	complete(t, url, model, "one unit")

	setReplicas := func(n int32) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur := &v1alpha1.ServingGroup{}
			if err := c.Get(context.Background(), key, cur); err != nil {
				return err
			}
			cur.Spec.Replicas = ptr.To(n)
			return c.Update(context.Background(), cur)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setReplicas(2)
	got := waitPool(t, rt, model, 2)
	waitEngines(t, c, agent, "router-scale", "scaling")
	for i := range 4 {
		complete(t, url, model, "two units "+strconv.Itoa(i))
	}
	setReplicas(1)
	if left := waitPool(t, rt, model, 1); !slices.Contains(got, left[0]) {
		t.Errorf("after scaling down: %v, not one of %v", left, got)
	}
	if err := c.Delete(context.Background(), sg); err != nil {
		t.Fatal(err)
	}
	waitPool(t, rt, model, 0)
}
