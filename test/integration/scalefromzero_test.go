package integration

import (
	"context"
	"fmt"
	"io"
	"net"
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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/controller/testutil"
	"github.com/tandem-serving/tandem/router"
	"github.com/tandem-serving/tandem/router/discovery"
	"github.com/tandem-serving/tandem/router/schedule"
)

// startRouter runs a real tandem-router in-process with Kubernetes
// discovery of the test's namespace, /metrics on its API listener, and
// registers it as a router pod for the autoscaler's collector.
func (e *env) startRouter() (*router.Router, string) {
	e.t.Helper()
	cfg := router.DefaultConfig()
	cfg.Metrics.Address = ""
	cfg.Scrape.Interval = router.Duration{Duration: 50 * time.Millisecond}
	cfg.Scrape.StaleAfter = router.Duration{Duration: time.Second}
	log := testr.NewWithOptions(e.t, testr.Options{Verbosity: 0})
	rt, err := router.New(cfg, router.Options{Plugins: schedule.DefaultPlugins(), Logger: log})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	k := &discovery.Kubernetes{Config: cluster.RESTConfig(), Namespace: e.ns, Sink: rt.Registry(), Models: rt, Log: log}
	done := make(chan struct{}, 2)
	go func() { _ = k.Run(ctx); done <- struct{}{} }()
	go func() { rt.Run(ctx); done <- struct{}{} }()
	srv := httptest.NewServer(rt)
	e.t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		<-done
	})
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	e.routerPod("router", int32(p))
	return rt, srv.URL
}

// serveAt plays kubelet for a pod whose engine listens on 127.0.0.1.
func (e *env) serveAt(name string) {
	e.t.Helper()
	pod := &corev1.Pod{}
	if err := e.c.Get(e.ctx, client.ObjectKey{Namespace: e.ns, Name: name}, pod); err != nil {
		e.t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = "127.0.0.1"
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if err := e.c.Status().Update(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
}

// TestScaleFromZeroOnAHeldRequest: a group at zero units whose model the
// router knows from servedModelNames; the first request is held by the
// real router, the autoscaler reads the held request from the router's
// /metrics and scales the group to one unit, and once the unit's engine is
// ready the held request is answered by it.
func TestScaleFromZeroOnAHeldRequest(t *testing.T) {
	e := newEnv(t)
	cfg := sim.DefaultConfig()
	cfg.Listen, cfg.TimeScale, cfg.DefaultMaxTokens = "127.0.0.1:0", 0, 4
	cfg.Engine.Model = "m"
	engine, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	_, enginePort, _ := net.SplitHostPort(engine.Addr())
	port, _ := strconv.Atoi(enginePort)

	rt, url := e.startRouter()
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("chat").Namespace(e.ns).ServedModelNames("m").Replicas(0).
		Engine(v1alpha1.EngineVLLM, int32(port)).
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 0, MaxReplicas: 2, ScaleUpWindowSeconds: 30,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](10)}}))
	e.eventually("the router knows the model", func() error {
		if !slices.Contains(rt.KnownModels(), "m") {
			return fmt.Errorf("known models %v", rt.KnownModels())
		}
		return nil
	})
	if err := wantReplicas(e.get("chat"), 0); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"wake up"}]}`))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(b), err}
	}()

	e.eventually("scaled from zero on the held request", func() error {
		sg := e.get("chat")
		if err := wantReplicas(sg, 1); err != nil {
			return err
		}
		s := sg.Status.Autoscaling
		if s.Reason != "ScaledFromZero" || s.Signals == nil || s.Signals.InFlightRequests < 1 {
			return fmt.Errorf("status.autoscaling %s %+v", s.Reason, s.Signals)
		}
		return nil
	})
	select {
	case a := <-answered:
		t.Fatalf("answered %d before any endpoint was ready: %s %v", a.status, a.body, a.err)
	default:
	}
	e.eventually("the unit's leader pod", func() error {
		for _, p := range e.pods() {
			if p.Labels[v1alpha1.LabelGroup] == "chat" {
				return nil
			}
		}
		return fmt.Errorf("pods %v", podNames(e.pods()))
	})
	for _, p := range e.pods() {
		if p.Labels[v1alpha1.LabelGroup] == "chat" {
			e.serveAt(p.Name)
		}
	}
	select {
	case a := <-answered:
		if a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, `"chat.completion"`) {
			t.Fatalf("held request answered %d %v: %s", a.status, a.err, a.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the held request was not answered after the unit became ready")
	}
}

// fakeEngineITL serves a vLLM-format inter-token latency histogram that
// gains 10 gaps between 50 and 75 ms on every scrape: an engine decoding
// steadily at ~70 ms a token.
func fakeEngineITL(t *testing.T) int32 {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		n += 10
		c := n
		mu.Unlock()
		fmt.Fprintf(w, "# TYPE vllm:inter_token_latency_seconds histogram\n")
		for _, le := range []string{"0.025", "0.05"} {
			fmt.Fprintf(w, "vllm:inter_token_latency_seconds_bucket{model_name=\"m\",le=%q} 0\n", le)
		}
		for _, le := range []string{"0.075", "0.1", "+Inf"} {
			fmt.Fprintf(w, "vllm:inter_token_latency_seconds_bucket{model_name=\"m\",le=%q} %d\n", le, c)
		}
	}))
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	return int32(port)
}

// TestAutoscalerFollowsEngineITL: with an itlP90Milliseconds target the
// autoscaler reads the engines' own ITL histograms (the routers see no
// token steps) and grows the group in proportion to p90 over the bound;
// status shows the measured p90 and how many engines answered.
func TestAutoscalerFollowsEngineITL(t *testing.T) {
	e := newEnv(t)
	r := newFakeRouterMetrics(t)
	e.routerPod("router-a", r.port(t))
	r.set(map[string]int{e.ns + "/chat-0-engine-0-0": 3}, nil)
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("chat").Namespace(e.ns).ServedModelNames("m").Replicas(1).
		Engine(v1alpha1.EngineVLLM, fakeEngineITL(t)).
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 3,
			Targets: v1alpha1.AutoscalingTargets{ITLP90Milliseconds: ptr.To[int32](25)}}))
	e.eventually("the unit's pod", func() error { return wantCount(e.pods(), 2) })
	e.serveAt("chat-0-engine-0-0")
	// p90 ≈ 72.5 ms against 25: 2.9 × 1 ready unit, capped at 3.
	e.eventually("scaled up on the engines' ITL", func() error {
		sg := e.get("chat")
		if err := wantReplicas(sg, 3); err != nil {
			return err
		}
		s := sg.Status.Autoscaling.Signals
		if s == nil || s.ITLP90Milliseconds == nil || *s.ITLP90Milliseconds < 50 || *s.ITLP90Milliseconds > 75 || s.Engines != 1 {
			return fmt.Errorf("signals %+v", s)
		}
		return nil
	})
}
