package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// TestDeletedPodDrainsOpenStreams: a stream open on an engine whose pod is
// deleted completes when the engine container has a preStop sleep (the
// kubelet keeps the container serving for the sleep), and is cut without
// one or when the pod is force-deleted. The drain ends when the stream
// does, long before the 600 s sleep.
func TestDeletedPodDrainsOpenStreams(t *testing.T) {
	const ns, maxTokens = "drain", 40
	c := sgClient(t)
	newNamespace(t, c, ns)
	sleep := &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 600}}
	execSleep := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sleep", "600"}}}
	cases := []struct {
		name    string
		group   string
		preStop *corev1.LifecycleHandler
		grace   *int64 // the delete's grace period; nil: the pod's own
		want    string
	}{
		{"preStop sleep, deleted: the stream completes", "sleeps", sleep, nil, "ok"},
		{"preStop exec sleep, deleted: the stream completes", "execs", execSleep, nil, "ok"},
		{"preStop sleep, force-deleted: the stream is cut", "forced", sleep, ptr.To[int64](0), "cut"},
		{"no preStop, deleted: the stream is cut", "abrupt", nil, nil, "cut"},
	}
	for _, tc := range cases {
		w := testutil.MakeServingGroup(tc.group).Namespace(ns).Replicas(1).ServedModelNames("drain/"+tc.group).
			Recovery(v1alpha1.RecoverNone, 0).Role(testutil.MakeRole("engine").GPU(1).Obj())
		w.Spec.Engine.Port = 8300
		spec := &w.Spec.Roles[0].Template.Spec
		if tc.preStop != nil {
			spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: tc.preStop}
			spec.TerminationGracePeriodSeconds = ptr.To[int64](660)
		}
		createGroup(t, c, w)
	}
	for _, tc := range cases {
		waitAvailable(t, c, types.NamespacedName{Namespace: ns, Name: tc.group})
	}
	agent := startAgent(t, 10) // about 75 ms a token: a 40-token stream lasts seconds
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			waitEngines(t, c, agent, ns, tc.group)
			pod := groupPods(t, c, ns, tc.group)[0]
			model := "drain/" + tc.group
			s := openStream(t, fmt.Sprintf("http://%s:8300", pod.Status.PodIP), model, maxTokens)
			var opts []client.DeleteOption
			if tc.grace != nil {
				opts = append(opts, client.GracePeriodSeconds(*tc.grace))
			}
			if err := c.Delete(context.Background(), &pod, opts...); err != nil {
				t.Fatal(err)
			}
			got, tokens := s.finish()
			if got != tc.want {
				t.Fatalf("stream after the delete: %s (%d tokens), want %s", got, tokens, tc.want)
			}
			if got == "ok" && tokens != maxTokens {
				t.Errorf("completed stream carried %d tokens, want %d", tokens, maxTokens)
			}
			poll(t, "the engine stops once its stream has ended", 30*time.Second, func() error {
				if e := agent.Engine(pod.UID); e != nil {
					return fmt.Errorf("engine of the deleted pod still runs at %s", e.Addr())
				}
				return nil
			})
		})
	}
}

// stream is a completion stream that has delivered its first event.
type stream struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
}

func openStream(t *testing.T, base, model string, maxTokens int) *stream {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"prompt":"tell a long story","max_tokens":%d,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}`,
		model, maxTokens)
	resp, err := http.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: HTTP %d", resp.StatusCode)
	}
	s := &stream{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
	for s.sc.Scan() {
		if strings.HasPrefix(s.sc.Text(), "data: ") {
			return s
		}
	}
	t.Fatalf("stream ended before its first event: %v", s.sc.Err())
	return nil
}

// finish reads the stream to its end: "ok" when it ends with [DONE], with
// the usage chunk's completion tokens, else "cut".
func (s *stream) finish() (string, int) {
	tokens := 0
	for s.sc.Scan() {
		data, ok := strings.CutPrefix(s.sc.Text(), "data: ")
		switch {
		case !ok:
		case data == "[DONE]":
			return "ok", tokens
		case strings.HasPrefix(data, `{"error"`):
			return "cut", tokens
		default:
			var chunk struct {
				Usage *struct {
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(data), &chunk); err != nil {
				s.t.Errorf("stream chunk %q: %v", data, err)
			}
			if chunk.Usage != nil {
				tokens = chunk.Usage.CompletionTokens
			}
		}
	}
	return "cut", tokens
}

// TestRouterStreamOutlivesScaleDown: a stream proxied by tandem-router to
// a unit that is scaled away completes: the router drops the terminating
// pod at once while the engine, draining for its preStop sleep, finishes
// the stream it has.
func TestRouterStreamOutlivesScaleDown(t *testing.T) {
	const ns, model, maxTokens = "drain-router", "drain/routed", 40
	c := sgClient(t)
	newNamespace(t, c, ns)
	key := types.NamespacedName{Namespace: ns, Name: "routed"}
	w := testutil.MakeServingGroup(key.Name).Namespace(ns).Replicas(1).ServedModelNames(model).
		Role(testutil.MakeRole("engine").GPU(1).Obj())
	w.Spec.Engine.Port = 8301
	spec := &w.Spec.Roles[0].Template.Spec
	spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 600}}}
	spec.TerminationGracePeriodSeconds = ptr.To[int64](660)
	createGroup(t, c, w)
	waitAvailable(t, c, key)
	agent := startAgent(t, 10)
	waitEngines(t, c, agent, ns, key.Name)
	rt, url := startRouterOnCluster(t, ns)
	waitPool(t, rt, model, 1)
	pod := groupPods(t, c, ns, key.Name)[0]

	s := openStream(t, url, model, maxTokens)
	updateGroup(t, c, key, func(sg *v1alpha1.ServingGroup) { sg.Spec.Replicas = ptr.To[int32](0) })
	poll(t, "the router drops the scaled-away pod", 30*time.Second, func() error {
		if names := poolNames(rt, model); len(names) > 0 {
			return fmt.Errorf("still routing to %v", names)
		}
		return nil
	})
	if got, tokens := s.finish(); got != "ok" || tokens != maxTokens {
		t.Fatalf("stream through the router after the scale-down: %s with %d tokens, want ok with %d", got, tokens, maxTokens)
	}
	poll(t, "the engine stops once its stream has ended", 30*time.Second, func() error {
		if e := agent.Engine(pod.UID); e != nil {
			return fmt.Errorf("engine of the scaled-away pod still runs at %s", e.Addr())
		}
		return nil
	})
}
