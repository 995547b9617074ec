package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller"
	"github.com/tandem-serving/tandem/controller/autoscale"
)

// autoscaleNamespace is the namespace the cluster's tandem-router serves
// (localcluster.Options.RouterNamespace in TestMain): the only e2e test
// that goes through the router binary uses it.
const autoscaleNamespace = "scale-from-zero"

// engineGate is a readiness gate the test's pods carry: kwok runs them but
// leaves them not Ready (localcluster's kwok stages) until markServing,
// playing the readinessProbe, sees the simulated engine listen. Otherwise
// kwok would make the pod Ready before the engine agent starts the engine
// and the router could send the held request to a closed port.
const engineGate = "tandem.dev/engine-listening"

// markServing sets the pod's engine gate and Ready conditions.
func markServing(t *testing.T, c client.Client, pod *corev1.Pod) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &corev1.Pod{}
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), cur); err != nil {
			return err
		}
		now := metav1.Now()
		var conds []corev1.PodCondition
		for _, cond := range cur.Status.Conditions {
			if cond.Type != corev1.PodReady && cond.Type != engineGate {
				conds = append(conds, cond)
			}
		}
		conds = append(conds,
			corev1.PodCondition{Type: engineGate, Status: corev1.ConditionTrue, LastTransitionTime: now},
			corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
		cur.Status.Conditions = conds
		return c.Status().Update(context.Background(), cur)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readSample parses deploy/samples/<file> without creating it.
func readSample(t *testing.T, file string) *v1alpha1.ServingGroup {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cluster.Options().RepoRoot, "deploy", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	sg := &v1alpha1.ServingGroup{}
	if err := yaml.UnmarshalStrict(data, sg); err != nil {
		t.Fatalf("sample %s: %v", file, err)
	}
	return sg
}

// routerModels is the model ids the router's GET /v1/models lists.
func routerModels(url string) ([]string, error) {
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("GET /v1/models: %d: %w", resp.StatusCode, err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

func eventReasons(t *testing.T, c client.Client, ns, object string) map[string]int {
	t.Helper()
	var list corev1.EventList
	if err := c.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == object {
			out[ev.Reason] += int(max(ev.Count, 1))
		}
	}
	return out
}

func autoscaled(sg *v1alpha1.ServingGroup, replicas int32, reason string) error {
	got, s := ptr.Deref(sg.Spec.Replicas, 1), sg.Status.Autoscaling
	if s == nil {
		return fmt.Errorf("spec.replicas %d, no status.autoscaling", got)
	}
	if got != replicas || s.Reason != reason {
		return fmt.Errorf("spec.replicas %d reason %s (%s), want %d and %s", got, s.Reason, s.Message, replicas, reason)
	}
	return nil
}

// TestScaleFromZeroThroughTheRouter runs the autoscaled-from-zero sample
// on the local cluster with the real binaries: tandem-router as a local
// process and tandem-controller scraping its /metrics
// (--autoscale-router-urls, set by localcluster). The group starts at 0
// units; the first chat request is held by the router, the autoscaler sees
// it and scales to 1, tandem-scheduler places the unit, and once the pod
// is Ready (its engine gate, see engineGate) the simulated engine at the
// pod's address answers the held request; after the down window without
// load the group goes back to 0.
func TestScaleFromZeroThroughTheRouter(t *testing.T) {
	if cluster.RouterURL == "" {
		t.Fatal("the e2e cluster runs no tandem-router")
	}
	ctx := context.Background()
	c := sgClient(t)
	newNamespace(t, c, autoscaleNamespace)
	sg := readSample(t, "autoscaled-from-zero.yaml")
	sg.Namespace = autoscaleNamespace
	sg.Spec.Replicas = ptr.To[int32](0)
	as := sg.Spec.Autoscaling
	// Seconds, not the sample's minutes. The in-flight target alone: the
	// held request's wait counts in the router's TTFT, which would ask
	// for more units than the one this test expects.
	as.ScaleDownWindowSeconds, as.ColdStartSeconds = 3, 0
	as.Targets = v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](32)}
	sg.Spec.Roles[0].Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: engineGate}}
	if err := c.Create(ctx, sg); err != nil {
		t.Fatalf("sample refused: %v", err)
	}
	key := types.NamespacedName{Namespace: sg.Namespace, Name: sg.Name}
	model := sg.Spec.ServedModelNames[0]
	get := func() *v1alpha1.ServingGroup {
		t.Helper()
		cur := &v1alpha1.ServingGroup{}
		if err := c.Get(ctx, key, cur); err != nil {
			t.Fatal(err)
		}
		return cur
	}

	poll(t, "the router lists the model of a group at zero units", 30*time.Second, func() error {
		ids, err := routerModels(cluster.RouterURL)
		if err != nil {
			return fmt.Errorf("listing models: %w", err)
		}
		if !slices.Contains(ids, model) {
			return fmt.Errorf("models %v", ids)
		}
		return nil
	})
	if got := ptr.Deref(get().Spec.Replicas, 1); got != 0 {
		t.Fatalf("spec.replicas %d before any request, want 0", got)
	}
	if pods := groupPods(t, c, key.Namespace, key.Name); len(pods) != 0 {
		t.Fatalf("%d pods before any request", len(pods))
	}

	agent := startAgent(t, 0)
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"wake up"}],"max_tokens":4}`
		resp, err := http.Post(cluster.RouterURL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(b), err}
	}()

	poll(t, "scaled from zero on the held request", 30*time.Second, func() error {
		return autoscaled(get(), 1, autoscale.ReasonScaledFromZero)
	})
	var pod corev1.Pod
	poll(t, "the unit's pod runs", 30*time.Second, func() error {
		pods := groupPods(t, c, key.Namespace, key.Name)
		if len(pods) != 1 || pods[0].Status.Phase != corev1.PodRunning {
			return fmt.Errorf("%d pods, want 1 Running (%v)", len(pods), describeGroup(t, c, key.Namespace, key.Name))
		}
		pod = pods[0]
		return nil
	})
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			t.Fatal("the unit's pod is Ready before its engine gate is set")
		}
	}
	engines := waitEngines(t, c, agent, key.Namespace, key.Name)
	if len(engines) != 1 {
		t.Fatalf("%d engines, want the unit's one", len(engines))
	}
	select {
	case a := <-answered:
		t.Fatalf("answered %d before the unit's pod was Ready: %s %v", a.status, a.body, a.err)
	default:
	}
	markServing(t, c, &pod)
	select {
	case a := <-answered:
		if a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, `"chat.completion"`) {
			t.Fatalf("held request answered %d %v: %s", a.status, a.err, a.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held request was not answered 30s after the unit's pod became Ready")
	}
	if s := engines[0].Snapshot().Stats; s.Finished != 1 {
		t.Errorf("the unit's engine finished %d requests, want the held one", s.Finished)
	}

	poll(t, "scaled back to zero when idle", 30*time.Second, func() error {
		if err := autoscaled(get(), 0, autoscale.ReasonScaledDown); err != nil {
			return err
		}
		if pods := groupPods(t, c, key.Namespace, key.Name); len(pods) != 0 {
			return fmt.Errorf("%d pods left", len(pods))
		}
		return nil
	})
	events := eventReasons(t, c, key.Namespace, key.Name)
	if events[controller.EventScaledUp] < 1 || events[controller.EventScaledDown] < 1 {
		t.Errorf("event reasons %v, want ScaledUp and ScaledDown", events)
	}
}
