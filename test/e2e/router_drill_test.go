package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// TestDrillEnginePodDeletedUnderLoad deletes one of two engine pods while
// clients keep sending requests through the router. Every request that had
// not started streaming must still succeed (retried on the other engine);
// a stream already under way may end with an error event, never silently.
// With recovery None the unit stays broken: the router must drop the
// endpoint and the group report Degraded. Switching the policy to
// RecreateUnit brings the unit back, and the router uses it again.
func TestDrillEnginePodDeletedUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := sgClient(t)
	newNamespace(t, c, "drill-engine")
	const model = "drill/model"
	key := types.NamespacedName{Namespace: "drill-engine", Name: "busy"}
	w := testutil.MakeServingGroup("busy").Namespace(key.Namespace).Replicas(2).ServedModelNames(model).
		Recovery(v1alpha1.RecoverNone, 0).Role(testutil.MakeRole("engine").GPU(1).Obj())
	w.Spec.Engine.Port = 8200
	createGroup(t, c, w)
	waitAvailable(t, c, key)
	agent := startAgent(t, 0.02) // requests take a few ms, so some are in flight
	waitEngines(t, c, agent, key.Namespace, key.Name)
	rt, url := startRouterOnCluster(t, key.Namespace)
	waitPool(t, rt, model, 2)

	var victim corev1.Pod
	for _, p := range groupPods(t, c, key.Namespace, key.Name) {
		if p.Labels[v1alpha1.LabelUnit] == "0" {
			victim = p
		}
	}
	victimEndpoint := key.Namespace + "/" + victim.Name

	var wholeOK, wholeFailed, streamOK, streamCut, streamFailed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				prompt := fmt.Sprintf("client %d request %d: %s", i, n, strings.Repeat("tokens ", 40))
				if i%2 == 0 {
					if err := wholeRequest(url, model, prompt); err != nil {
						wholeFailed.Add(1)
						failures.Store(err.Error(), true)
					} else {
						wholeOK.Add(1)
					}
					continue
				}
				switch outcome := streamRequest(url, model, prompt); outcome {
				case "ok":
					streamOK.Add(1)
				case "cut":
					streamCut.Add(1)
				default:
					streamFailed.Add(1)
					failures.Store(outcome, true)
				}
			}
		}(i)
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.Delete(ctx, &victim, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	dropped := time.Now()
	poll(t, "router drops the deleted pod", 30*time.Second, func() error {
		for _, name := range poolNames(rt, model) {
			if strings.HasSuffix(name, " "+victimEndpoint) {
				return fmt.Errorf("still routing to %s", victimEndpoint)
			}
		}
		return nil
	})
	t.Logf("router dropped %s %s after the delete", victimEndpoint, time.Since(dropped).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	failures.Range(func(k, _ any) bool { t.Logf("failure: %v", k); return true })
	t.Logf("whole: %d ok, %d failed; streams: %d ok, %d cut after starting, %d failed before starting",
		wholeOK.Load(), wholeFailed.Load(), streamOK.Load(), streamCut.Load(), streamFailed.Load())
	if wholeFailed.Load() > 0 || streamFailed.Load() > 0 {
		t.Errorf("requests that had not started streaming were lost: %d whole, %d streamed", wholeFailed.Load(), streamFailed.Load())
	}
	if wholeOK.Load() == 0 || streamOK.Load() == 0 {
		t.Fatalf("no load got through: whole %d, streamed %d", wholeOK.Load(), streamOK.Load())
	}

	poll(t, "Degraded with recovery disabled", 30*time.Second, func() error {
		sg := &v1alpha1.ServingGroup{}
		if err := c.Get(ctx, key, sg); err != nil {
			return err
		}
		for _, cond := range sg.Status.Conditions {
			if cond.Type == v1alpha1.ConditionDegraded && cond.Status == "True" && cond.Reason == v1alpha1.ReasonRecoveryDisabled {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", sg.Status.Conditions)
	})

	// Recovery: with RecreateUnit the unit comes back and is routed to.
	updateGroup(t, c, key, func(sg *v1alpha1.ServingGroup) { sg.Spec.Recovery.Policy = v1alpha1.RecoverRecreateUnit })
	waitEngines(t, c, agent, key.Namespace, key.Name)
	poll(t, "both units serving again", 60*time.Second, func() error {
		if n := len(groupPods(t, c, key.Namespace, key.Name)); n != 2 {
			return fmt.Errorf("%d pods", n)
		}
		waitEngines(t, c, agent, key.Namespace, key.Name)
		if got := poolNames(rt, model); len(got) != 2 {
			return fmt.Errorf("router endpoints %v", got)
		}
		return nil
	})
	if err := wholeRequest(url, model, "after recovery"); err != nil {
		t.Fatal(err)
	}
}

func wholeRequest(url, model, prompt string) error {
	body := `{"model":"` + model + `","prompt":"` + prompt + `","max_tokens":8}`
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return nil
}

// streamRequest returns "ok" for a stream ending in [DONE], "cut" for one
// that started and then ended with an error event, or a description of a
// failure before the first event.
func streamRequest(url, model, prompt string) string {
	body := `{"model":"` + model + `","prompt":"` + prompt + `","max_tokens":8,"stream":true}`
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	events := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		switch {
		case data == "[DONE]":
			return "ok"
		case strings.HasPrefix(data, `{"error"`):
			if events == 0 {
				return "error event before any output: " + data
			}
			return "cut"
		}
		events++
	}
	if events == 0 {
		return "stream ended before any event"
	}
	return "stream ended without [DONE] or an error event"
}

// TestBadInputAtEveryDoor: an invalid ServingGroup is refused by the API
// server with its rule's message (as kubectl shows it), and the router
// answers malformed, oversized and unknown-model requests with OpenAI-style
// errors.
func TestBadInputAtEveryDoor(t *testing.T) {
	bad := "apiVersion: serving.tandem.dev/v1alpha1\nkind: ServingGroup\nmetadata: {name: bad, namespace: default}\n" +
		"spec:\n  engine: {kind: vllm}\n  roles:\n  - name: decode\n    replicas: 1\n    minReplicas: 2\n" +
		"    template: {spec: {containers: [{name: e, image: x}]}}\n"
	path := t.TempDir() + "/bad.yaml"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(t, "apply", "-f", path)
	if err == nil || !strings.Contains(out, "minReplicas must not exceed replicas") {
		t.Errorf("kubectl apply of an invalid ServingGroup: %v\n%s", err, out)
	}

	_, url := startRouterOnCluster(t, "default")
	cases := []struct {
		name, body string
		want       int
		wantType   string
	}{
		{"malformed JSON", `{"model": "x", "prompt": `, http.StatusBadRequest, "BadRequestError"},
		{"unknown model", `{"model":"no-such-model","prompt":"hi"}`, http.StatusNotFound, "NotFoundError"},
		{"body over the default 32 MiB limit", `{"model":"x","prompt":"` + strings.Repeat("a", 33<<20) + `"}`, http.StatusRequestEntityTooLarge, ""},
	}
	for _, tc := range cases {
		resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var e struct {
			Error struct {
				Message, Type string
			} `json:"error"`
		}
		decodeErr := json.NewDecoder(resp.Body).Decode(&e)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want || decodeErr != nil || e.Error.Message == "" || (tc.wantType != "" && e.Error.Type != tc.wantType) {
			t.Errorf("%s: %d %+v (decode: %v), want %d with an OpenAI error %s", tc.name, resp.StatusCode, e, decodeErr, tc.want, tc.wantType)
		}
	}
}
