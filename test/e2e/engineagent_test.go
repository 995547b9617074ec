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
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/test/engineagent"
)

// TestEngineAgentFollowsPods: a simulated engine answers at each running
// leader pod's own address, and stops answering when the pod is deleted.
func TestEngineAgentFollowsPods(t *testing.T) {
	agent := startAgent(t, 0)
	ctx := context.Background()

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
		if e := agent.Engine(prefill.UID); e != nil {
			return fmt.Errorf("engine of the deleted pod still runs at %s", e.Addr())
		}
		return nil
	})
}

// startAgent runs an engine agent until the test ends.
func startAgent(t *testing.T, timeScale float64) *engineagent.Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	agent, err := engineagent.New(cluster.RESTConfig(), engineagent.Options{TimeScale: timeScale})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	return agent
}

// waitEngines waits until every leader pod of the group has an engine.
func waitEngines(t *testing.T, c client.Client, agent *engineagent.Agent, ns, group string) []*sim.Engine {
	t.Helper()
	var engines []*sim.Engine
	poll(t, "an engine behind every leader pod", 30*time.Second, func() error {
		engines = engines[:0]
		for _, p := range groupPods(t, c, ns, group) {
			if p.Labels[v1alpha1.LabelRank] != "0" {
				continue
			}
			e := agent.Engine(p.UID)
			if e == nil {
				return fmt.Errorf("no engine for %s", p.Name)
			}
			engines = append(engines, e)
		}
		return nil
	})
	return engines
}
