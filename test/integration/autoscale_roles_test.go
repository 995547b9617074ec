package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
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
	"github.com/tandem-serving/tandem/controller/plan"
	"github.com/tandem-serving/tandem/controller/testutil"
)

// fakeRoleRouter serves the series the prefill/decode shape reads, in
// tandem-router's format (router/metrics.go): the prompt and cached token
// counters of one model, advanced at the rate the test sets between
// scrapes; the learned prefill rate of each prefill endpoint; and the
// in-flight requests of each endpoint.
type fakeRoleRouter struct {
	mu           sync.Mutex
	model        string
	promptPerSec float64 // none cached: the cached counter stays 0
	prompt       float64
	last         time.Time
	prefillRate  map[string]float64 // endpoint -> learned tok/s
	inFlight     map[string]int     // endpoint -> open requests
	srv          *httptest.Server
}

func newFakeRoleRouter(t *testing.T, model string) *fakeRoleRouter {
	f := &fakeRoleRouter{model: model, prefillRate: map[string]float64{}, inFlight: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		now := time.Now()
		if !f.last.IsZero() {
			f.prompt += f.promptPerSec * now.Sub(f.last).Seconds()
		}
		f.last = now
		var b strings.Builder
		b.WriteString("# TYPE tandem_router_prompt_tokens_total counter\n")
		fmt.Fprintf(&b, "tandem_router_prompt_tokens_total{model=%q} %.0f\n", f.model, f.prompt)
		b.WriteString("# TYPE tandem_router_cached_tokens_total counter\n")
		fmt.Fprintf(&b, "tandem_router_cached_tokens_total{model=%q} 0\n", f.model)
		b.WriteString("# TYPE tandem_router_prefill_rate_tokens_per_second gauge\n")
		for e, v := range f.prefillRate {
			fmt.Fprintf(&b, "tandem_router_prefill_rate_tokens_per_second{endpoint=%q} %g\n", e, v)
		}
		b.WriteString("# TYPE tandem_router_endpoint_in_flight_requests gauge\n")
		for e, n := range f.inFlight {
			fmt.Fprintf(&b, "tandem_router_endpoint_in_flight_requests{endpoint=%q} %d\n", e, n)
		}
		_, _ = w.Write([]byte(b.String()))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// setPrompt sets the prompt tokens per second the router sends to the
// model, none of them cached.
func (f *fakeRoleRouter) setPrompt(perSecond float64) {
	f.mu.Lock()
	f.promptPerSec = perSecond
	f.mu.Unlock()
}

func (f *fakeRoleRouter) set(prefillRate map[string]float64, inFlight map[string]int) {
	f.mu.Lock()
	f.prefillRate, f.inFlight = prefillRate, inFlight
	f.mu.Unlock()
}

func (f *fakeRoleRouter) port(t *testing.T) int32 {
	return (&fakeRouterMetrics{srv: f.srv}).port(t)
}

// startRoleAutoscaler is startAutoscaler with the collector's role
// signals wired in (collect.Collector.Roles), as tandem-controller should
// wire them.
func (e *env) startRoleAutoscaler() {
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
		Recorder: mgr.GetEventRecorderFor("tandem-autoscaler"), Signals: c.Signals, RoleSignals: c.Roles, Interval: time.Second}
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

// readyUnitPods plays kubelet for the group's pods (not the router pod,
// whose address the collector scrapes): every live one Running and ready.
func (e *env) readyUnitPods() {
	e.t.Helper()
	for _, p := range e.pods() {
		if p.Labels[v1alpha1.LabelGroup] != "" && p.DeletionTimestamp == nil && !isReady(&p) {
			e.setPodStatus(p.Name, corev1.PodRunning, true)
		}
	}
}

// roleCounts are the live pods per role label.
func roleCounts(pods []corev1.Pod) map[string]int {
	out := map[string]int{}
	for _, p := range pods {
		if r := p.Labels[v1alpha1.LabelRole]; r != "" && p.DeletionTimestamp == nil {
			out[r]++
		}
	}
	return out
}

func roleReplicas(sg *v1alpha1.ServingGroup) map[string]int32 {
	out := map[string]int32{}
	for _, r := range sg.Spec.Roles {
		out[r.Name] = r.Replicas
	}
	return out
}

// wantShape checks roles[].replicas, and the live pods once they match.
func (e *env) wantShape(name string, prefill, decode int32) error {
	sg := e.get(name)
	got := roleReplicas(sg)
	if got["prefill"] != prefill || got["decode"] != decode {
		msg := "no status.autoscaling"
		if a := sg.Status.Autoscaling; a != nil {
			msg = a.RolesReason + ": " + a.RolesMessage
		}
		return fmt.Errorf("roles prefill=%d decode=%d, want %d and %d; %s", got["prefill"], got["decode"], prefill, decode, msg)
	}
	pods := roleCounts(e.pods())
	if pods["prefill"] != int(prefill) || pods["decode"] != 2*int(decode) { // decode instances are two pods
		return fmt.Errorf("live pods per role %v, want prefill %d and decode %d", pods, prefill, 2*decode)
	}
	return nil
}

// TestAutoscalerResizesRolesInPlace: a prefill-heavy burst (many uncached
// prompt tokens per second, few running requests) grows the prefill
// instances of the running unit while decode keeps its one; decode grows
// only once the running requests do. The pods that were serving are never
// deleted or recreated (same UIDs), the unit is not rolled (same PodGroup,
// same revision). When the burst ends both roles shrink one instance per
// down window, back to their minimum and no lower.
func TestAutoscalerResizesRolesInPlace(t *testing.T) {
	e := newEnv(t)
	r := newFakeRoleRouter(t, "m")
	e.routerPod("router-a", r.port(t))
	e.startRoleAutoscaler()
	e.create(testutil.MakeServingGroup("pd").Namespace(e.ns).ServedModelNames("m").
		Role(testutil.MakeRole("prefill").MinReplicas(1).GPU(1).Obj()).
		Role(testutil.MakeRole("decode").Size(2).GPU(8).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 2, ScaleDownWindowSeconds: 3,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](1000)},
			Roles: &v1alpha1.RoleAutoscalingSpec{
				Prefill: v1alpha1.PrefillAutoscaling{MinInstances: 1, MaxInstances: 4, UtilizationPercent: 100},
				Decode:  v1alpha1.DecodeAutoscaling{MinInstances: 1, MaxInstances: 4, RequestsPerInstance: 16},
			}}))
	e.eventually("unit 0 created", func() error { return wantCount(e.pods(), 1+1+2) }) // router, prefill, decode×2
	e.readyUnitPods()

	prefill0, decode0 := e.ns+"/pd-0-prefill-0-0", e.ns+"/pd-0-decode-0-0"
	r.set(map[string]float64{prefill0: 10000}, map[string]int{decode0: 2})
	r.setPrompt(1000) // well under one instance: the shape holds
	e.eventually("a shape decision within targets", func() error {
		s := e.get("pd").Status.Autoscaling
		if s == nil || s.RolesReason != "RolesWithinTargets" || len(s.Roles) != 2 {
			return fmt.Errorf("status.autoscaling %+v", s)
		}
		return nil
	})
	if err := e.wantShape("pd", 1, 1); err != nil {
		t.Fatal(err)
	}
	serving := e.uids()
	pg := e.podGroupUID("pd-0")
	revision := e.get("pd").Status.UpdateRevision

	// 25,000 uncached tok/s against 10,000 per prefill instance: 2.5,
	// rounded up to 3. Not a whole multiple: the rate the autoscaler
	// measures between scrapes jitters by a token or so, and 30,001 would
	// round up to 4.
	r.setPrompt(25000)
	e.eventually("prefill grown to 3, decode still 1", func() error {
		e.readyUnitPods()
		if err := e.sameUIDs(serving); err != nil {
			t.Fatal(err) // a serving pod went while prefill grew
		}
		if d := roleReplicas(e.get("pd"))["decode"]; d != 1 {
			t.Fatalf("decode resized to %d during a prefill-heavy burst", d)
		}
		return e.wantShape("pd", 3, 1)
	})
	if got := e.podGroupUID("pd-0"); got != pg {
		t.Errorf("PodGroup pd-0 recreated: %s -> %s", pg, got)
	}
	sg := e.get("pd")
	if sg.Status.UpdateRevision != revision || sg.Status.UpdatedReplicas != 1 {
		t.Errorf("revision %s -> %s, updated units %d: want the unit on its revision", revision, sg.Status.UpdateRevision, sg.Status.UpdatedReplicas)
	}
	if p := ptr.Deref(sg.Spec.Replicas, 1); p != 1 {
		t.Errorf("units %d, want 1: reshaping absorbed the burst", p)
	}
	for _, role := range sg.Status.Autoscaling.Roles {
		if role.Name == "prefill" && (role.Instances != 3 || role.DesiredInstances != 3) {
			t.Errorf("status prefill %+v, want 3 instances, 3 desired", role)
		}
	}
	e.wantEvent(controller.EventRoleScaledUp, "prefill 1 to")

	// Then the answers get long: 40 running requests at 16 per decode
	// instance ask for 3, grown in place beside the serving prefill.
	serving = e.uids()
	r.set(map[string]float64{prefill0: 10000}, map[string]int{decode0: 40})
	e.eventually("decode grown to 3", func() error {
		e.readyUnitPods()
		if err := e.sameUIDs(serving); err != nil {
			t.Fatal(err)
		}
		return e.wantShape("pd", 3, 3)
	})
	e.wantEvent(controller.EventRoleScaledUp, "decode 1 to 3")

	// The burst ends: both roles shrink one instance per 3 s window to 1.
	serving = e.uids()
	r.setPrompt(0)
	r.set(map[string]float64{prefill0: 10000}, map[string]int{decode0: 2})
	e.eventually("prefill and decode back to their minimum", func() error {
		e.readyUnitPods()
		return e.wantShape("pd", 1, 1)
	})
	for _, first := range []string{"pd-0-prefill-0-0", "pd-0-decode-0-0", "pd-0-decode-0-1"} {
		if now := e.uids()[first]; now != serving[first] {
			t.Errorf("%s was replaced (%s -> %q); the highest instances should go", first, serving[first], now)
		}
	}
	e.wantEvent(controller.EventRoleScaledDown, "prefill 2 to 1")
	time.Sleep(4 * time.Second) // more than a down window at no load
	if err := e.wantShape("pd", 1, 1); err != nil {
		t.Errorf("below the minimum: %v", err)
	}
	if got := e.podGroupUID("pd-0"); got != pg {
		t.Errorf("PodGroup pd-0 recreated: %s -> %s", pg, got)
	}
	if m := e.get("pd").Spec.Roles[1].MinReplicas; m == nil || *m != 1 {
		t.Errorf("decode minReplicas %v, want 1 written by the autoscaler", m)
	}
}

// TestAutoscalerAddsUnitsWhenARoleIsAtItsMaximum: 50,000 uncached tok/s
// need 5 prefill instances of 10,000; at most 2 fit a unit, so the roles
// ask for 3 units, the group's maximum of 2 is set, and each unit gets 2
// prefill instances (the roles are written after the units, on the
// resourceVersion the scale write returned). Unit 0's pods stay.
func TestAutoscalerAddsUnitsWhenARoleIsAtItsMaximum(t *testing.T) {
	e := newEnv(t)
	r := newFakeRoleRouter(t, "m")
	e.routerPod("router-a", r.port(t))
	e.startRoleAutoscaler()
	e.create(testutil.MakeServingGroup("pd").Namespace(e.ns).ServedModelNames("m").
		Role(testutil.MakeRole("prefill").MinReplicas(1).GPU(1).Obj()).
		Role(testutil.MakeRole("decode").MinReplicas(1).GPU(1).Obj()).
		Autoscaling(v1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 2, ScaleDownWindowSeconds: 600,
			Targets: v1alpha1.AutoscalingTargets{InFlightRequestsPerUnit: ptr.To[int32](1000)},
			Roles: &v1alpha1.RoleAutoscalingSpec{
				Prefill: v1alpha1.PrefillAutoscaling{MinInstances: 1, MaxInstances: 2, UtilizationPercent: 100},
				Decode:  v1alpha1.DecodeAutoscaling{MinInstances: 1, MaxInstances: 2, RequestsPerInstance: 16},
			}}))
	e.eventually("unit 0 created", func() error { return wantCount(e.pods(), 1+2) })
	e.readyUnitPods()
	serving := e.uids()
	r.set(map[string]float64{e.ns + "/pd-0-prefill-0-0": 10000}, map[string]int{e.ns + "/pd-0-decode-0-0": 1})
	r.setPrompt(50000)
	e.eventually("2 units of 2 prefill and 1 decode", func() error {
		e.readyUnitPods()
		sg := e.get("pd")
		if err := wantReplicas(sg, 2); err != nil {
			return err
		}
		if got := roleReplicas(sg); got["prefill"] != 2 || got["decode"] != 1 {
			return fmt.Errorf("roles %v, want prefill 2 and decode 1", got)
		}
		if pods := roleCounts(e.pods()); pods["prefill"] != 4 || pods["decode"] != 2 {
			return fmt.Errorf("live pods per role %v, want prefill 4 and decode 2", pods)
		}
		return nil
	})
	if err := e.sameUIDs(serving); err != nil {
		t.Error(err)
	}
	s := e.get("pd").Status.Autoscaling
	if !strings.Contains(s.Message, "a role at its maximum instances per unit asks for 3 units") {
		t.Errorf("unit decision %s: %s; want it to name the roles' 3 units", s.Reason, s.Message)
	}
}

// TestUpgradeFromLegacyRevisionRollsNoUnit: units made by a controller
// that still hashed roles[].replicas carry the old revision name of the
// same spec. The controller takes them as current: it moves the revision
// label of their pods and PodGroups in place and replaces nothing.
func TestUpgradeFromLegacyRevisionRollsNoUnit(t *testing.T) {
	e := newEnv(t)
	sg := e.create(disaggregated("up", e.ns, 2))
	e.eventually("units created", func() error { return wantCount(e.pods(), 2*(1+2)) })
	e.readyUnitPods()
	legacy, err := plan.LegacyRevision(&sg.Spec)
	if err != nil {
		t.Fatal(err)
	}
	var want string
	e.eventually("units on the current revision", func() error {
		sg := e.get("up")
		if want = sg.Status.UpdateRevision; want == "" || sg.Status.UpdatedReplicas != 2 {
			return fmt.Errorf("not settled: %s", describe(sg))
		}
		return nil
	})
	if want == legacy {
		t.Fatalf("current and legacy revision are both %s", want)
	}

	// What an older controller left behind: the legacy name everywhere.
	e.stopController()
	relabel := func(obj client.Object) {
		patch := []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, v1alpha1.LabelRevision, legacy))
		if err := e.c.Patch(e.ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range e.pods() {
		relabel(&p)
	}
	for _, pg := range e.podGroups() {
		relabel(&pg)
	}
	before := e.uids()
	e.startController()
	e.eventually("every label moved to the current revision", func() error {
		var stale []string
		for _, p := range e.pods() {
			if p.Labels[v1alpha1.LabelRevision] != want {
				stale = append(stale, p.Name)
			}
		}
		for _, pg := range e.podGroups() {
			if pg.Labels[v1alpha1.LabelRevision] != want {
				stale = append(stale, pg.Name)
			}
		}
		if len(stale) > 0 {
			return fmt.Errorf("still on %s: %v", legacy, stale)
		}
		return nil
	})
	if err := e.sameUIDs(before); err != nil {
		t.Errorf("an upgrade alone replaced pods: %v", err)
	}
	if sg := e.get("up"); sg.Status.UpdatedReplicas != 2 {
		t.Errorf("updated units %d, want 2: %s", sg.Status.UpdatedReplicas, describe(sg))
	}
	if n := e.eventReasons("up")[string(plan.ReasonRollout)]; n != 0 {
		t.Errorf("%d Rollout events after the upgrade, want none", n)
	}
}

// sameUIDs fails when a pod of before is gone, terminating or another.
func (e *env) sameUIDs(before map[string]types.UID) error {
	if gone := replaced(before, e.uids()); len(gone) > 0 {
		return fmt.Errorf("pods replaced or gone: %v", gone)
	}
	return nil
}

func (e *env) podGroupUID(name string) types.UID {
	for _, pg := range e.podGroups() {
		if pg.Name == name {
			return pg.UID
		}
	}
	return ""
}

// wantEvent waits for an event of the reason whose message contains part.
func (e *env) wantEvent(reason, part string) {
	e.t.Helper()
	e.eventually(reason+" event", func() error {
		var list corev1.EventList
		if err := e.c.List(e.ctx, &list, client.InNamespace(e.ns)); err != nil {
			return err
		}
		var seen []string
		for _, ev := range list.Items {
			if ev.Reason == reason {
				if strings.Contains(ev.Message, part) {
					return nil
				}
				seen = append(seen, ev.Message)
			}
		}
		return fmt.Errorf("no %s event saying %q; %s events: %q", reason, part, reason, seen)
	})
}

func TestInvalidRoleAutoscalingIsRefused(t *testing.T) {
	dyn, err := dynamic.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ns := "validation-role-autoscaling"
	if _, err := dyn.Resource(corev1.SchemeGroupVersion.WithResource("namespaces")).Create(context.Background(),
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sgs := dyn.Resource(sgResource).Namespace(ns)
	// validSpec's prefill has replicas 2, minReplicas 1; its decode one
	// instance of two pods, no minReplicas.
	withRoles := func(prefill, decode map[string]any, edit ...func(map[string]any)) func(map[string]any) {
		return func(s map[string]any) {
			s["autoscaling"] = map[string]any{"maxReplicas": 2, "targets": map[string]any{"inFlightRequestsPerUnit": 8},
				"roles": map[string]any{"prefill": prefill, "decode": decode}}
			for _, e := range edit {
				e(s)
			}
		}
	}
	prefill := map[string]any{"minInstances": 1, "maxInstances": 4}
	decode := map[string]any{"minInstances": 1, "maxInstances": 3, "requestsPerInstance": 32}
	cases := []struct {
		name string
		edit func(map[string]any)
		want string // part of the message; empty: accepted
	}{
		{"valid", withRoles(prefill, decode), ""},
		{"prefill bounds reversed", withRoles(map[string]any{"minInstances": 3, "maxInstances": 2}, decode),
			"autoscaling.roles.prefill.maxInstances must be at least autoscaling.roles.prefill.minInstances"},
		{"decode bounds reversed", withRoles(prefill, map[string]any{"minInstances": 2, "maxInstances": 1, "requestsPerInstance": 32}),
			"autoscaling.roles.decode.maxInstances must be at least autoscaling.roles.decode.minInstances"},
		{"prefill minimum below minReplicas", withRoles(prefill, decode, func(s map[string]any) { role(s, 0)["minReplicas"] = 2 }),
			"autoscaling.roles.prefill.minInstances must be at least the prefill role's minReplicas"},
		{"decode minimum below replicas without minReplicas", withRoles(prefill, decode, func(s map[string]any) { role(s, 1)["replicas"] = 2 }),
			"autoscaling.roles.decode.minInstances must be at least the decode role's minReplicas (its replicas when minReplicas is unset)"},
		{"more instances than a role can have", withRoles(map[string]any{"minInstances": 1, "maxInstances": 65}, decode),
			"should be less than or equal to 64"},
		{"utilization of zero", withRoles(map[string]any{"minInstances": 1, "maxInstances": 4, "utilizationPercent": 0}, decode),
			"should be greater than or equal to 1"},
		{"no decode capacity", withRoles(prefill, map[string]any{"minInstances": 1, "maxInstances": 3}),
			"requestsPerInstance: Required value"},
		{"an aggregated group", withRoles(prefill, decode, func(s map[string]any) {
			s["roles"] = []any{role(s, 1)}
			role(s, 0)["name"] = "engine"
		}), "autoscaling.roles sizes the prefill and decode roles of a disaggregated group: the group needs roles named prefill and decode"},
		{"no model names", withRoles(prefill, decode, func(s map[string]any) { delete(s, "servedModelNames") }),
			"autoscaling.roles needs servedModelNames"},
	}
	t.Run("the sample deploy/samples/disaggregated-autoscaled.yaml", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "samples", "disaggregated-autoscaled.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sgs.Create(context.Background(), parse(t, string(data)), metav1.CreateOptions{}); err != nil {
			t.Fatalf("refused the sample: %v", err)
		}
	})
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sgs.Create(context.Background(), mutate(t, fmt.Sprintf("roles-%d", i), tc.edit), metav1.CreateOptions{})
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
