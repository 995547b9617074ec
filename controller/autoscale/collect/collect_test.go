package collect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// The pages in testdata are a real tandem-router's /metrics (static
// endpoints ns/chat-0-engine-0-0 and ns/chat-1-engine-0-0 on two
// tandem-sim engines, model m): router-a-0 after 12 streamed requests and
// 1 unstreamed, router-a-1 after 20 more, router-b while 20 were open.
// router-b also carries a tandem_router_flow_queue_length line written by
// hand from router/metrics.go (that router ran with flow control off).

// fakeRouter serves whichever page it was last given, or a status code.
type fakeRouter struct {
	mu     sync.Mutex
	page   []byte
	status int
	srv    *httptest.Server
}

func newFakeRouter(t *testing.T, file string) *fakeRouter {
	f := &fakeRouter{status: http.StatusOK}
	f.serve(t, file)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != http.StatusOK {
			w.WriteHeader(f.status)
			return
		}
		_, _ = w.Write(f.page)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRouter) serve(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.page, f.status = b, http.StatusOK
	f.mu.Unlock()
}

func (f *fakeRouter) fail(status int) {
	f.mu.Lock()
	f.status = status
	f.mu.Unlock()
}

// clock advances by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time       { return c.t }
func (c *clock) step(d time.Duration) { c.t = c.t.Add(d) }
func targets(rs map[string]*fakeRouter) func(context.Context) ([]Target, error) {
	return func(context.Context) ([]Target, error) {
		var out []Target
		for name, r := range rs {
			out = append(out, Target{Name: name, URL: r.srv.URL + "/metrics"})
		}
		return out, nil
	}
}

func newCollector(rs map[string]*fakeRouter, clk *clock) *Collector {
	return &Collector{
		Targets: targets(rs), Client: http.DefaultClient,
		Interval: time.Second, Window: 30 * time.Second, MaxBytes: 1 << 20, Now: clk.now,
	}
}

var chat = []string{"ns/chat-0-engine-0-0", "ns/chat-1-engine-0-0"}

func TestSignalsSumRoutersAndWindow(t *testing.T) {
	a, b := newFakeRouter(t, "router-a-0.prom"), newFakeRouter(t, "router-b.prom")
	clk := &clock{time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	c := newCollector(map[string]*fakeRouter{"a": a, "b": b}, clk)
	ctx := context.Background()

	c.Scrape(ctx)
	first := c.Signals([]string{"m"}, chat)
	// One round: gauges are known, window figures are not yet.
	want := autoscale.Signals{At: clk.t, Routers: 2, InFlight: 10 + 10 + 3, Held: 3, QueuedTokens: 15014 + 15017}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("after one round (-want +got):\n%s", diff)
	}

	clk.step(30 * time.Second)
	a.serve(t, "router-a-1.prom")
	c.Scrape(ctx)
	got := c.Signals([]string{"m"}, chat)
	// a answered 20 more requests (33-13); its TTFT histogram grew by 20:
	// 2 in (0.25,0.5], 2 in (0.5,1], 10 in (1,2.5], 8 in (2.5,5]; rank 18
	// lies in (2.5,5] at 6/8 of the way: 4.375 s. b's counters held still.
	want = autoscale.Signals{At: clk.t, Routers: 2, InFlight: 23, Held: 3, QueuedTokens: 30031,
		Requests: 20, TTFTP90: 4375 * time.Millisecond, HasTTFT: true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after two rounds (-want +got):\n%s", diff)
	}

	// Only the group's own engines count; another model's demand does not.
	if got := c.Signals([]string{"other"}, chat[:1]); got.InFlight != 10 || got.QueuedTokens != 15014 || got.Requests != 0 || got.HasTTFT {
		t.Errorf("one engine, other model: %+v; want in-flight 10, queued 15014, no requests or TTFT", got)
	}
}

func TestSignalsFailedAndGoneRouters(t *testing.T) {
	a, b := newFakeRouter(t, "router-a-0.prom"), newFakeRouter(t, "router-b.prom")
	clk := &clock{time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	rs := map[string]*fakeRouter{"a": a, "b": b}
	c := newCollector(rs, clk)
	ctx := context.Background()
	c.Scrape(ctx)

	clk.step(time.Second)
	b.fail(http.StatusInternalServerError)
	c.Scrape(ctx)
	got := c.Signals([]string{"m"}, chat)
	if got.Routers != 1 || got.Failed != 1 || got.InFlight != 0 {
		t.Errorf("b failing: routers %d failed %d in-flight %v; want 1, 1, 0 (b's old load is not reused)", got.Routers, got.Failed, got.InFlight)
	}

	clk.step(time.Second)
	delete(rs, "b")
	c.Scrape(ctx)
	if got := c.Signals([]string{"m"}, chat); got.Routers != 1 || got.Failed != 0 {
		t.Errorf("b gone: routers %d failed %d; want 1, 0", got.Routers, got.Failed)
	}
}

func TestSignalsRouterRestartCountsFromZero(t *testing.T) {
	a := newFakeRouter(t, "router-a-1.prom")
	clk := &clock{time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	c := newCollector(map[string]*fakeRouter{"a": a}, clk)
	ctx := context.Background()
	c.Scrape(ctx)
	clk.step(10 * time.Second)
	a.serve(t, "router-a-0.prom") // counters went down: a restarted
	c.Scrape(ctx)
	got := c.Signals([]string{"m"}, chat)
	// Everything router-a-0 holds happened since the restart: 13 requests,
	// 12 TTFTs (2 in (0.1,0.25], 10 in (0.5,1]); rank 10.8 in (0.5,1].
	if got.Requests != 13 {
		t.Errorf("requests %v, want 13", got.Requests)
	}
	if want := time.Duration((0.5 + 0.5*8.8/10) * float64(time.Second)); !got.HasTTFT || got.TTFTP90 != want {
		t.Errorf("p90 TTFT %v (ok %v), want %v", got.TTFTP90, got.HasTTFT, want)
	}
}

func TestPruneKeepsOneSampleAWindowOld(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	c := &Collector{Window: 30 * time.Second}
	var s []*sample
	for i := 0; i <= 60; i += 10 {
		s = append(s, &sample{at: t0.Add(time.Duration(i) * time.Second)})
	}
	var kept []int
	for _, x := range c.prune(s, t0.Add(60*time.Second)) {
		kept = append(kept, int(x.at.Sub(t0).Seconds()))
	}
	if diff := cmp.Diff([]int{30, 40, 50, 60}, kept); diff != "" {
		t.Errorf("kept samples at seconds (-want +got):\n%s", diff)
	}
}

func TestPodTargets(t *testing.T) {
	pod := func(name, ip string, phase corev1.PodPhase, ports ...corev1.ContainerPort) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "tandem-system", Name: name, Labels: map[string]string{"app.kubernetes.io/name": "tandem-router"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "router", Ports: ports}}},
			Status:     corev1.PodStatus{Phase: phase, PodIP: ip},
		}
	}
	other := pod("engine", "10.0.0.9", corev1.PodRunning)
	other.Labels = map[string]string{"app": "engine"}
	c := fake.NewClientBuilder().WithObjects(
		pod("router-a", "10.0.0.1", corev1.PodRunning, corev1.ContainerPort{Name: "http", ContainerPort: 8080}, corev1.ContainerPort{Name: "metrics", ContainerPort: 9091}),
		pod("router-b", "10.0.0.2", corev1.PodRunning),
		pod("router-c", "", corev1.PodPending),
		other,
	).Build()
	got, err := PodTargets{Client: c, Selector: labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": "tandem-router"}), Port: 9090}.Targets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Name: "tandem-system/router-a", URL: "http://10.0.0.1:9091/metrics"},
		{Name: "tandem-system/router-b", URL: "http://10.0.0.2:9090/metrics"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}
