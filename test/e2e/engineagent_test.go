package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/test/engineagent"
)

// TestEngineAgentFollowsPods: a simulated engine answers at each running
// leader pod's own address, and stops answering when the pod is deleted.
func TestEngineAgentFollowsPods(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	agent, err := engineagent.New(cluster.RESTConfig(), engineagent.Options{TimeScale: 0})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()

	c := sgClient(t)
	newNamespace(t, c, "agent")
	sg := applySample(t, c, "agent", "disaggregated-1p1d.yaml")
	waitAvailable(t, c, types.NamespacedName{Namespace: "agent", Name: sg.Name})

	var prefill corev1.Pod
	for _, p := range groupPods(t, c, "agent", sg.Name) {
		if p.Labels[v1alpha1.LabelRole] == "prefill" {
			prefill = p
		}
	}
	url := fmt.Sprintf("http://%s:%d/v1/models", prefill.Status.PodIP, sg.Spec.Engine.Port)
	poll(t, "engine answers at the pod's address", 30*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), sg.Spec.ServedModelNames[0]) {
			return fmt.Errorf("models %s lack %s", body, sg.Spec.ServedModelNames[0])
		}
		return nil
	})
	if err := c.Delete(ctx, &prefill, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	poll(t, "engine stops with its pod", 30*time.Second, func() error {
		if addr := agent.EngineFor(prefill.UID); addr != "" {
			return fmt.Errorf("engine of the deleted pod still runs at %s", addr)
		}
		return nil
	})
}
