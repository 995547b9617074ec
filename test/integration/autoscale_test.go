package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller"
	"github.com/tandem-serving/tandem/controller/autoscale/collect"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// fakeRouterMetrics serves a tandem-router-format /metrics page whose
// figures the test sets: per-endpoint in-flight requests and per-model
// held requests (series names from router/metrics.go).
type fakeRouterMetrics struct {
	mu       sync.Mutex
	inFlight map[string]int // endpoint -> open requests
	held     map[string]int // model -> requests in the router's queue
	srv      *httptest.Server
}

func newFakeRouterMetrics(t *testing.T) *fakeRouterMetrics {
	f := &fakeRouterMetrics{inFlight: map[string]int{}, held: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var b strings.Builder
		b.WriteString("# TYPE tandem_router_endpoint_in_flight_requests gauge\n")
		for e, n := range f.inFlight {
			fmt.Fprintf(&b, "tandem_router_endpoint_in_flight_requests{endpoint=%q} %d\n", e, n)
		}
		b.WriteString("# TYPE tandem_router_flow_queue_length gauge\n")
		for m, n := range f.held {
			fmt.Fprintf(&b, "tandem_router_flow_queue_length{model=%q} %d\n", m, n)
		}
		_, _ = w.Write([]byte(b.String()))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRouterMetrics) set(inFlight, held map[string]int) {
	f.mu.Lock()
	f.inFlight, f.held = inFlight, held
	f.mu.Unlock()
}

func (f *fakeRouterMetrics) port(t *testing.T) int32 {
	_, p, err := net.SplitHostPort(f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// routerPod is a router replica as the autoscaler finds it: a running pod
// with the router label, its metrics port named, at the fake's address.
func (e *env) routerPod(name string, port int32) {
	e.t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name, Labels: map[string]string{"app.kubernetes.io/name": "tandem-router"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "router", Image: "tandem-router",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: collect.MetricsPortName, ContainerPort: port}}}}},
	}
	if err := e.c.Create(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "127.0.0.1"}
	if err := e.c.Status().Update(e.ctx, pod); err != nil {
		e.t.Fatal(err)
	}
}

// startAutoscaler runs the collector and the Autoscaler as tandem-controller
// wires them, in a second manager limited to the test's namespace.
func (e *env) startAutoscaler() {
	e.t.Helper()
	mgr, err := ctrl.NewManager(cluster.RESTConfig(), ctrl.Options{
		Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:      cache.Options{DefaultNamespaces: map[string]cache.Config{e.ns: {}}},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	c := &collect.Collector{
		Targets: collect.PodTargets{Client: mgr.GetClient(), Namespace: e.ns,
			Selector: labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": "tandem-router"}), Port: 1}.Targets,
		Client: &http.Client{}, Interval: time.Second, Window: 3 * time.Second, MaxBytes: 1 << 20,
	}
	if err := mgr.Add(c); err != nil {
		e.t.Fatal(err)
	}
	a := &controller.Autoscaler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorderFor("tandem-autoscaler"), Signals: c.Signals, Interval: time.Second,
		EngineITL: (&collect.Engines{Client: &http.Client{}, Window: 3 * time.Second, Timeout: time.Second, MaxBytes: 1 << 20}).Group}
	if err := a.SetupWithManager(mgr); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("autoscaler stopped with error: %v", err)
		}
	})
}

func (e *env) eventReasons(object string) map[string]int {
	e.t.Helper()
	var list corev1.EventList
	if err := e.c.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, ev := range list.Items {
		if ev.InvolvedObject.Name == object {
			out[ev.Reason] += int(max(ev.Count, 1))
		}
	}
	return out
}

func wantReplicas(sg *v1alpha1.ServingGroup, n int32) error {
	if got := ptr.Deref(sg.Spec.Replicas, 1); got != n {
		a := sg.Status.Autoscaling
		if a == nil {
			return fmt.Errorf("spec.replicas %d, want %d; no status.autoscaling", got, n)
		}
		return fmt.Errorf("spec.replicas %d, want %d; autoscaling %s: %s", got, n, a.Reason, a.Message)
	}
	return nil
}

// TestAutoscalerFollowsRouterLoad: an idle group scales to zero after the
// down window, comes back when a router holds a request for its model, and
// grows to what the in-flight requests summed over two router replicas
// ask for; status and events record each step.
func TestAutoscalerFollowsRouterLoad(t *testing.T) {
	e := newEnv(t)
	a, b := newFakeRouterMetrics(t), newFakeRouterMetrics(t)
	e.routerPod("router-a", a.port(t))
	e.routerPod("router-b", b.port(t))
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("chat").Namespace(e.ns).ServedModelNames("m").
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 0, MaxReplicas: 4, ScaleDownWindowSeconds: 2,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](10)}}))

	e.eventually("idle group scaled to zero", func() error { return wantReplicas(e.get("chat"), 0) })
	e.eventually("no pods left", func() error { return wantCount(e.pods(), 2) }) // the two router pods

	a.set(nil, map[string]int{"m": 2, "other-model": 50})
	e.eventually("scaled from zero on a held request", func() error {
		sg := e.get("chat")
		if err := wantReplicas(sg, 1); err != nil {
			return err
		}
		if r := sg.Status.Autoscaling.Reason; r != "ScaledFromZero" {
			return fmt.Errorf("reason %s, want ScaledFromZero", r)
		}
		return nil
	})

	// 20 + 15 open requests at unit 0's engine, through two routers: 4 units.
	engine := e.ns + "/chat-0-engine-0-0"
	a.set(map[string]int{engine: 20}, nil)
	b.set(map[string]int{engine: 15, "elsewhere/x-0-engine-0-0": 100}, nil)
	e.eventually("scaled up to the in-flight load", func() error {
		sg := e.get("chat")
		if err := wantReplicas(sg, 4); err != nil {
			return err
		}
		s := sg.Status.Autoscaling
		if s.DesiredReplicas != 4 || s.Signals == nil || s.Signals.Routers != 2 || s.Signals.InFlightRequests != 35 || s.LastScaleTime == nil {
			return fmt.Errorf("status.autoscaling %+v signals %+v", s, s.Signals)
		}
		return nil
	})
	e.eventually("4 unit pods", func() error { return wantCount(e.pods(), 6) })

	e.eventually("events for every change", func() error {
		got := e.eventReasons("chat")
		if got[controller.EventScaledDown] < 1 || got[controller.EventScaledUp] < 2 {
			return fmt.Errorf("event reasons %v, want ScaledDown once and ScaledUp twice", got)
		}
		return nil
	})
	// The 1 → 4 step names the GPUs it asks the queue for.
	var events corev1.EventList
	if err := e.c.List(e.ctx, &events, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range events.Items {
		found = found || ev.Reason == controller.EventScaledUp && strings.HasSuffix(ev.Message, "; asks queue default for 3 nvidia.com/gpu")
	}
	if !found {
		t.Error("no ScaledUp event ending \"; asks queue default for 3 nvidia.com/gpu\"")
	}
}

// TestAutoscalerLeavesGroupsWithoutAutoscaling: a group scaled by hand (or
// an HPA) keeps its replicas and gets no autoscaling status.
func TestAutoscalerLeavesGroupsWithoutAutoscaling(t *testing.T) {
	e := newEnv(t)
	r := newFakeRouterMetrics(t)
	e.routerPod("router-a", r.port(t))
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("manual").Namespace(e.ns).ServedModelNames("m").Replicas(2).
		Role(testutil.MakeRole("engine").GPU(1).Obj()))
	r.set(map[string]int{e.ns + "/manual-0-engine-0-0": 500}, nil)
	e.eventually("units created", func() error { return wantCount(e.pods(), 3) })
	time.Sleep(3 * time.Second) // three collector rounds
	sg := e.get("manual")
	if err := wantReplicas(sg, 2); err != nil {
		t.Error(err)
	}
	if sg.Status.Autoscaling != nil {
		t.Errorf("status.autoscaling %+v on a group without spec.autoscaling", sg.Status.Autoscaling)
	}
}

func TestInvalidAutoscalingIsRefused(t *testing.T) {
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ns := "validation-autoscaling"
	if _, err := dyn.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(context.Background(),
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sgs := dyn.Resource(sgResource).Namespace(ns)
	autoscaling := func(a map[string]any) func(map[string]any) {
		return func(s map[string]any) { s["autoscaling"] = a }
	}
	cases := []struct {
		name string
		edit func(map[string]any)
		want string // part of the message; empty: accepted
	}{
		{"max below min", autoscaling(map[string]any{"minReplicas": 3, "maxReplicas": 2, "targets": map[string]any{"inFlightRequestsPerUnit": 8}}),
			"autoscaling.maxReplicas must be at least autoscaling.minReplicas"},
		{"max below the default min", autoscaling(map[string]any{"maxReplicas": 0, "targets": map[string]any{"inFlightRequestsPerUnit": 8}}),
			"should be greater than or equal to 1"},
		{"no target", autoscaling(map[string]any{"maxReplicas": 2, "targets": map[string]any{}}),
			"autoscaling.targets needs at least one of ttftP90Milliseconds, itlP90Milliseconds, inFlightRequestsPerUnit, queuedTokensPerUnit"},
		{"ITL bound of zero", autoscaling(map[string]any{"maxReplicas": 2, "targets": map[string]any{"itlP90Milliseconds": 0}}),
			"should be greater than or equal to 1"},
		{"valid: an ITL bound alone", autoscaling(map[string]any{"maxReplicas": 2, "targets": map[string]any{"itlP90Milliseconds": 50}}), ""},
		{"negative window", autoscaling(map[string]any{"maxReplicas": 2, "scaleDownWindowSeconds": -1, "targets": map[string]any{"queuedTokensPerUnit": 8000}}),
			"should be greater than or equal to 0"},
		{"scale to zero without model names", func(s map[string]any) {
			delete(s, "servedModelNames")
			s["autoscaling"] = map[string]any{"minReplicas": 0, "maxReplicas": 2, "targets": map[string]any{"inFlightRequestsPerUnit": 8}}
		}, "autoscaling with minReplicas 0 or a ttftP90Milliseconds target needs servedModelNames"},
		{"TTFT bound without model names", func(s map[string]any) {
			delete(s, "servedModelNames")
			s["autoscaling"] = map[string]any{"maxReplicas": 2, "targets": map[string]any{"ttftP90Milliseconds": 800}}
		}, "needs servedModelNames"},
		{"valid: from zero on TTFT and in-flight", autoscaling(map[string]any{"minReplicas": 0, "maxReplicas": 8, "coldStartSeconds": 90,
			"targets": map[string]any{"ttftP90Milliseconds": 800, "inFlightRequestsPerUnit": 32}}), ""},
		{"valid: in-flight without model names", func(s map[string]any) {
			delete(s, "servedModelNames")
			s["autoscaling"] = map[string]any{"minReplicas": 1, "maxReplicas": 2, "targets": map[string]any{"inFlightRequestsPerUnit": 8}}
		}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sgs.Create(context.Background(), mutate(t, fmt.Sprintf("as-%d", i), tc.edit), metav1.CreateOptions{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused a valid spec: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted; want a refusal saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused with %q; want it to say %q", err, tc.want)
			}
		})
	}
}

// TestRemovingAutoscalingHandsReplicasBack: once spec.autoscaling goes,
// the autoscaler drops its status and leaves spec.replicas to whoever sets
// it next (kubectl scale, an HPA).
func TestRemovingAutoscalingHandsReplicasBack(t *testing.T) {
	e := newEnv(t)
	r := newFakeRouterMetrics(t)
	e.routerPod("router-a", r.port(t))
	e.startAutoscaler()
	r.set(map[string]int{e.ns + "/chat-0-engine-0-0": 25}, nil)
	e.create(testutil.MakeServingGroup("chat").Namespace(e.ns).ServedModelNames("m").
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 4,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](10)}}))
	e.eventually("scaled up to 3", func() error { return wantReplicas(e.get("chat"), 3) })

	e.update("chat", func(sg *v1alpha1.ServingGroup) { sg.Spec.Autoscaling = nil; sg.Spec.Replicas = ptr.To[int32](1) })
	e.eventually("autoscaling status dropped", func() error {
		if s := e.get("chat").Status.Autoscaling; s != nil {
			return fmt.Errorf("status.autoscaling still %s: %s", s.Reason, s.Message)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // three collector rounds, load still at 25
	if err := wantReplicas(e.get("chat"), 1); err != nil {
		t.Error(err)
	}
}

// TestAutoscalerWithoutRoutersHoldsAndWarnsOnce: with no router to ask,
// the group keeps its units, status says why, and one warning event is
// emitted rather than one per round.
func TestAutoscalerWithoutRoutersHoldsAndWarnsOnce(t *testing.T) {
	e := newEnv(t)
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("blind").Namespace(e.ns).ServedModelNames("m").Replicas(2).
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 0, MaxReplicas: 4,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](10)}}))
	e.eventually("reason SignalsUnavailable", func() error {
		s := e.get("blind").Status.Autoscaling
		if s == nil || s.Reason != "SignalsUnavailable" {
			return fmt.Errorf("status.autoscaling %+v", s)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // three more rounds
	if err := wantReplicas(e.get("blind"), 2); err != nil {
		t.Error(err)
	}
	if n := e.eventReasons("blind")[controller.EventSignalsUnavailable]; n != 1 {
		t.Errorf("%d %s events, want 1", n, controller.EventSignalsUnavailable)
	}
}

// TestAutoscalerStandsDownBesideAnHPA: an HPA (or KEDA's) targeting a
// group with spec.autoscaling would undo the autoscaler's writes and the
// other way round; the autoscaler leaves spec.replicas alone, says why in
// status with one warning event, and takes over again once the HPA goes.
func TestAutoscalerStandsDownBesideAnHPA(t *testing.T) {
	e := newEnv(t)
	r := newFakeRouterMetrics(t)
	e.routerPod("router-a", r.port(t))
	r.set(map[string]int{e.ns + "/chat-0-engine-0-0": 25}, nil)
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "chat-hpa"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ServingGroup", Name: "chat"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 5,
		},
	}
	if err := e.c.Create(e.ctx, hpa); err != nil {
		t.Fatal(err)
	}
	e.startAutoscaler()
	e.create(testutil.MakeServingGroup("chat").Namespace(e.ns).ServedModelNames("m").
		Role(testutil.MakeRole("engine").GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 4,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](10)}}))
	e.eventually("conflict reported", func() error {
		s := e.get("chat").Status.Autoscaling
		if s == nil || s.Reason != "ConflictingAutoscaler" || !strings.Contains(s.Message, "chat-hpa") {
			return fmt.Errorf("status.autoscaling %+v", s)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // three collector rounds with 25 in flight
	if err := wantReplicas(e.get("chat"), 1); err != nil {
		t.Errorf("beside an HPA: %v", err)
	}
	if n := e.eventReasons("chat")[controller.EventAutoscalerConflict]; n != 1 {
		t.Errorf("%d %s events, want 1", n, controller.EventAutoscalerConflict)
	}

	if err := e.c.Delete(e.ctx, hpa); err != nil {
		t.Fatal(err)
	}
	e.eventually("scaled once the HPA is gone", func() error { return wantReplicas(e.get("chat"), 3) })
}
