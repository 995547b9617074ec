package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/test/localcluster"
)

func sgClient(t *testing.T) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, schedv1beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// applySample creates deploy/samples/<file> in namespace ns.
func applySample(t *testing.T, c client.Client, ns, file string) *v1alpha1.ServingGroup {
	t.Helper()
	sg := readSample(t, file)
	sg.Namespace = ns
	if err := c.Create(context.Background(), sg); err != nil {
		t.Fatalf("sample %s refused: %v", file, err)
	}
	return sg
}

func waitAvailable(t *testing.T, c client.Client, key types.NamespacedName) *v1alpha1.ServingGroup {
	t.Helper()
	sg := &v1alpha1.ServingGroup{}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, key, sg); err != nil {
			return false, err
		}
		for _, cond := range sg.Status.Conditions {
			if cond.Type == v1alpha1.ConditionAvailable && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == sg.Generation {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("ServingGroup %s not Available: %v; status %+v", key, err, sg.Status)
	}
	return sg
}

func groupPods(t *testing.T, c client.Client, ns, group string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := c.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelGroup: group}); err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

func newNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
}

// TestSamplesBecomeAvailable applies the aggregated and the disaggregated
// samples: the controller makes the units, tandem-scheduler places them on
// kwok GPU nodes that match each role's accelerator types, and each group
// reports Available.
func TestSamplesBecomeAvailable(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "samples")
	for _, file := range []string{"aggregated.yaml", "disaggregated-1p1d.yaml"} {
		applySample(t, c, "samples", file)
	}
	agg := waitAvailable(t, c, types.NamespacedName{Namespace: "samples", Name: "llama-aggregated"})
	waitAvailable(t, c, types.NamespacedName{Namespace: "samples", Name: "llama-1p1d"})
	// Available needs replicas - maxUnavailable ready units; wait for all.
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKeyFromObject(agg), agg)
		return err == nil && agg.Status.ReadyReplicas == 2, err
	})
	if err != nil {
		t.Fatalf("llama-aggregated readyReplicas = %d, want 2: %v", agg.Status.ReadyReplicas, err)
	}
	allowed := agg.Spec.Roles[0].Accelerator.Types
	for _, pod := range groupPods(t, c, "samples", "llama-aggregated") {
		node := &corev1.Node{}
		if err := c.Get(context.Background(), types.NamespacedName{Name: pod.Spec.NodeName}, node); err != nil {
			t.Fatal(err)
		}
		if product := node.Labels[localcluster.GPUProductLabel]; !slices.Contains(allowed, product) {
			t.Errorf("pod %s on %s (%s), want one of %v", pod.Name, node.Name, product, allowed)
		}
	}
	// tandem-scheduler puts decode next to prefill: the same tier-1 domain
	// (NVLink-class), not merely the rack the unit's hard tier allows.
	domains := map[string]string{}
	for _, pod := range groupPods(t, c, "samples", "llama-1p1d") {
		node := &corev1.Node{}
		if err := c.Get(context.Background(), types.NamespacedName{Name: pod.Spec.NodeName}, node); err != nil {
			t.Fatal(err)
		}
		domains[pod.Labels[v1alpha1.LabelRole]] = node.Labels[localcluster.DomainLabel]
		t.Logf("%s on %s (%s, %s)", pod.Name, node.Name, node.Labels[localcluster.DomainLabel], node.Labels[localcluster.GPUProductLabel])
	}
	if domains["prefill"] == "" || domains["prefill"] != domains["decode"] {
		t.Errorf("prefill in domain %q, decode in %q: want the same", domains["prefill"], domains["decode"])
	}
	metrics := scrape(t, cluster.ControllerMetrics)
	for _, want := range []string{`tandem_controller_units{phase="Ready"}`, `tandem_controller_actions_total{action="create",kind="Pod",reason=""}`, `controller_runtime_reconcile_total{controller="servinggroup",result="success"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("controller metrics lack %s", want)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestDeletedPodRecoversWholeUnit deletes one pod of a disaggregated unit
// under the default RecreateUnit policy: the whole unit is recreated (new
// pods for every role), placed again as one gang, and the group is
// Available again.
func TestDeletedPodRecoversWholeUnit(t *testing.T) {
	c := sgClient(t)
	newNamespace(t, c, "recovery")
	sg := applySample(t, c, "recovery", "disaggregated-1p1d.yaml")
	key := types.NamespacedName{Namespace: "recovery", Name: sg.Name}
	waitAvailable(t, c, key)
	// Act on a loss at once rather than after the sample's 30 s grace.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur := &v1alpha1.ServingGroup{}
		if err := c.Get(context.Background(), key, cur); err != nil {
			return err
		}
		cur.Spec.Recovery.GracePeriodSeconds = new(int32)
		return c.Update(context.Background(), cur)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]types.UID{}
	for _, p := range groupPods(t, c, "recovery", sg.Name) {
		before[p.Name] = p.UID
	}
	victim := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "recovery", Name: sg.Name + "-0-decode-0-0"}}
	if err := c.Delete(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		pods := groupPods(t, c, "recovery", sg.Name)
		if len(pods) != len(before) {
			return false, nil
		}
		for _, p := range pods {
			if p.UID == before[p.Name] || p.Status.Phase != corev1.PodRunning {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("unit not recreated whole: %v; pods %v", err, describeGroup(t, c, "recovery", sg.Name))
	}
	waitAvailable(t, c, key)
}

func describeGroup(t *testing.T, c client.Client, ns, group string) []string {
	var out []string
	for _, p := range groupPods(t, c, ns, group) {
		out = append(out, fmt.Sprintf("%s uid=%s phase=%s node=%s", p.Name, p.UID, p.Status.Phase, p.Spec.NodeName))
	}
	return out
}
