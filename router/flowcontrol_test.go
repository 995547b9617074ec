package router

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// heldEngine is an engine stand-in (one or more servers sharing a release
// channel) that holds every completion until the test lets one answer, and
// records the order requests reached it (by their message) and the
// priority member each carried. Its /metrics is 404: the router's own
// counters alone decide its load, which is what the backlog test of flow
// control reads.
type heldEngine struct {
	srvs    []*httptest.Server
	release chan struct{}
	closing sync.Once
	mu      sync.Mutex
	got     []string
	prio    map[string]string        // message → the priority member as sent ("" if none)
	at      map[string]int           // message → the index of the server it reached
	answers map[string]chan struct{} // message → closed to answer it alone (answer)
}

func startHeldEngine(t *testing.T) *heldEngine { return startHeldEngines(t, 1) }

func startHeldEngines(t *testing.T, n int) *heldEngine {
	h := &heldEngine{release: make(chan struct{}), prio: map[string]string{}, at: map[string]int{}, answers: map[string]chan struct{}{}}
	handler := func(i int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/chat/completions" {
				http.NotFound(w, r)
				return
			}
			var body struct {
				Messages []struct{ Content string } `json:"messages"`
				Priority json.RawMessage            `json:"priority"`
			}
			_ = json.NewDecoder(r.Body).Decode(&body)
			h.mu.Lock()
			h.got = append(h.got, body.Messages[0].Content)
			h.prio[body.Messages[0].Content] = string(body.Priority)
			h.at[body.Messages[0].Content] = i
			answer := h.answerFor(body.Messages[0].Content)
			h.mu.Unlock()
			select {
			case <-answer:
			case <-h.release:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"ok"}}]}`+"\n\n"+"data: [DONE]\n\n")
		}
	}
	for i := range n {
		h.srvs = append(h.srvs, httptest.NewServer(handler(i)))
	}
	t.Cleanup(func() {
		h.releaseAll()
		for _, s := range h.srvs {
			s.Close()
		}
	})
	return h
}

// releaseAll answers whatever waits and everything after. A test that
// leaves requests held registers it as a cleanup after starting the router,
// whose own cleanup waits for its open requests.
func (h *heldEngine) releaseAll() { h.closing.Do(func() { close(h.release) }) }

func (h *heldEngine) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// answerFor is the channel that answers message alone; h.mu is held.
func (h *heldEngine) answerFor(message string) chan struct{} {
	c := h.answers[message]
	if c == nil {
		c = make(chan struct{})
		h.answers[message] = c
	}
	return c
}

// answer lets the request carrying message answer (held or still to come).
func (h *heldEngine) answer(message string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.answerFor(message))
}

// server is the index of the server message reached (-1: none yet).
func (h *heldEngine) server(message string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i, ok := h.at[message]; ok {
		return i
	}
	return -1
}

func (h *heldEngine) priorities() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.prio)
}

func (h *heldEngine) specs(t *testing.T) []endpoint.Spec {
	var out []endpoint.Spec
	for _, srv := range h.srvs {
		s := endpoint.Spec{Address: strings.TrimPrefix(srv.URL, "http://"), Models: []string{testModel}}
		if err := s.Normalize(); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// flowConfig turns flow control on so that one request an engine has not
// answered puts it at its efficient load: at a prior rate of 1,000 tokens a
// second and a queue delay of 1 ms, one token of backlog is enough.
func flowConfig(maxWait time.Duration) Config {
	cfg := testConfig()
	cfg.RatePrior = 1000
	cfg.Flow.Enabled = true
	cfg.Flow.QueueDelay = Duration{time.Millisecond}
	cfg.Flow.KVUsage = 0
	cfg.Flow.MaxWait = Duration{maxWait}
	cfg.Flow.Tick = Duration{time.Millisecond}
	// The queue stays busy while the test lines requests up: no shedding
	// for sustained overload (flow's own tests cover it).
	cfg.Flow.OverloadAfter = Duration{}
	// The requests set their own priority (X-Tandem-Priority), which the
	// router honours only for tenants allowed to (package tenant).
	cfg.Tenants.Default.AllowPriorityOverride = true
	return cfg
}

type flowReply struct {
	label  string
	status int
	header http.Header
}

// send posts a streamed chat request whose message is label, with a
// priority, and reports its answer on out.
func (f *fixture) send(t *testing.T, label string, priority int, out chan<- flowReply) {
	body := fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":%q}]}`, testModel, label)
	f.sendAs(t, label, body, http.Header{"X-Tandem-Priority": {fmt.Sprint(priority)}}, out)
}

// sendAs posts body with header and reports its answer on out as label.
func (f *fixture) sendAs(t *testing.T, label, body string, header http.Header, out chan<- flowReply) {
	req, err := http.NewRequest(http.MethodPost, f.url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return
	}
	maps.Copy(req.Header, header)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- flowReply{label: label}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		out <- flowReply{label: label, status: resp.StatusCode, header: resp.Header}
	}()
}

// Requests beyond what the engine can take wait in the router, not in
// the engine, and leave the queue most important first.
func TestFlowQueuesInRouterAndDispatchesByPriority(t *testing.T) {
	eng := startHeldEngine(t)
	f := startRouter(t, flowConfig(20*time.Second), eng.specs(t))
	out := make(chan flowReply, 8)

	f.send(t, "first", 0, out)
	waitFor(t, "the engine to hold the first request", func() bool { return len(eng.received()) == 1 })
	queued := []struct {
		label    string
		priority int
	}{{"low", 5}, {"mid", 1}, {"high-a", 0}, {"high-b", 0}}
	for i, q := range queued {
		f.send(t, q.label, q.priority, out)
		waitFor(t, q.label+" to wait in the router", func() bool { return f.rt.flow.Len(testModel) == i+1 })
	}
	if got := f.metric(t, `tandem_router_flow_queue_length{model="test-model"}`); got != 4 {
		t.Errorf("queue length metric %g, want 4", got)
	}
	if got := eng.received(); len(got) != 1 {
		t.Errorf("the engine received %q while saturated; want only the first", got)
	}
	// Each answer empties the engine's backlog and lets one request go.
	for n := 2; n <= 5; n++ {
		eng.release <- struct{}{}
		waitFor(t, fmt.Sprintf("request %d at the engine", n), func() bool { return len(eng.received()) >= n })
		if got := eng.received(); len(got) != n {
			t.Fatalf("the engine received %q after one answer; want exactly %d (one let go per answer)", got, n)
		}
	}
	eng.release <- struct{}{}
	for range 5 {
		if r := <-out; r.status != http.StatusOK {
			t.Errorf("%s: status %d, want 200", r.label, r.status)
		}
	}
	want := []string{"first", "high-a", "high-b", "mid", "low"}
	if diff := cmp.Diff(want, eng.received()); diff != "" {
		t.Errorf("order at the engine (-want +got):\n%s", diff)
	}
	if got := f.metric(t, `tandem_router_flow_wait_duration_seconds_count{model="test-model"}`); got != 4 {
		t.Errorf("waits observed %g, want 4", got)
	}
}

// A request that cannot be dispatched within maxWait gets 429 with
// Retry-After, before any byte of its stream.
func TestFlowRefusesAfterMaxWait(t *testing.T) {
	eng := startHeldEngine(t)
	f := startRouter(t, flowConfig(100*time.Millisecond), eng.specs(t))
	out := make(chan flowReply, 2)
	f.send(t, "first", 0, out)
	waitFor(t, "the engine to hold the first request", func() bool { return len(eng.received()) == 1 })
	start := time.Now()
	f.send(t, "late", 0, out)
	r := <-out
	waited := time.Since(start)
	if r.label != "late" || r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: status %d, Retry-After %q; want late refused with 429 and Retry-After", r.label, r.status, r.header.Get("Retry-After"))
	}
	if waited < 100*time.Millisecond {
		t.Errorf("refused after %s, before maxWait (100ms)", waited)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q: the refusal must be a JSON error, not a stream", ct)
	}
	if got := f.metric(t, `tandem_router_flow_dropped_total{model="test-model",reason="queue-timeout"}`); got != 1 {
		t.Errorf("queue-timeout drops %g, want 1", got)
	}
	if got := f.metric(t, `tandem_router_requests_total{code="429",model="test-model"}`); got != 1 {
		t.Errorf("429s counted %g, want 1", got)
	}
	if got := eng.received(); len(got) != 1 {
		t.Errorf("the engine received %q; the refused request must never reach it", got)
	}
	eng.release <- struct{}{}
	if r := <-out; r.status != http.StatusOK {
		t.Errorf("first: status %d, want 200", r.status)
	}
}

// With enginePriority set, the engine sees the router's priority, not the
// client's: the resolved priority doubled, plus one for a tenant above its
// share of the model's requests in flight when it was let go.
func TestFlowWritesEnginePriorityByShare(t *testing.T) {
	eng := startHeldEngines(t, 3)
	cfg := flowConfig(20 * time.Second)
	cfg.Flow.EnginePriority = EnginePriorityLowerFirst
	cfg.Tenants.Header = "X-Tandem-Tenant"
	cfg.Tenants.Default.AllowPriorityOverride = false // the client's -5 below must not count
	// One answer must let exactly one go, to the engine that answered:
	// dispatch only when a request ends (no tick between its first byte and
	// its end, when every engine has one open), and least-request sends it
	// to the engine left with none. (The gate holds requests only while
	// every engine is at its efficient load; a pick that chooses a loaded
	// engine leaves the room elsewhere for the next.)
	cfg.Policy = "least-request"
	cfg.Flow.Tick = Duration{time.Hour}
	// No quiet endpoint: h4 must take whichever engine answers (the split
	// has its own test below).
	cfg.Flow.QuietFactor = 0
	f := startRouter(t, cfg, eng.specs(t))
	t.Cleanup(eng.releaseAll) // h1–h3 stay held to the end
	out := make(chan flowReply, 8)
	send := func(label, tenant string) {
		body := fmt.Sprintf(`{"model":%q,"stream":true,"priority":-5,"messages":[{"role":"user","content":%q}]}`, testModel, label)
		f.sendAs(t, label, body, http.Header{"X-Tandem-Tenant": {tenant}}, out)
	}
	// heavy fills the three engines, one request each (one unanswered
	// request puts an engine at its efficient load here), then waits.
	for i, label := range []string{"h1", "h2", "h3"} {
		send(label, "heavy")
		waitFor(t, label+" at an engine", func() bool { return len(eng.received()) == i+1 })
	}
	send("h4", "heavy")
	waitFor(t, "h4 to wait in the router", func() bool { return f.rt.flow.Len(testModel) == 1 })
	send("l1", "light")
	waitFor(t, "l1 to wait in the router", func() bool { return f.rt.flow.Len(testModel) == 2 })
	// Each answer lets one go: light first (fewest in flight), then heavy.
	eng.release <- struct{}{}
	waitFor(t, "l1 at an engine", func() bool { return len(eng.received()) == 4 })
	eng.release <- struct{}{}
	waitFor(t, "h4 at an engine", func() bool { return len(eng.received()) == 5 })
	if diff := cmp.Diff([]string{"h1", "h2", "h3", "l1", "h4"}, eng.received()); diff != "" {
		t.Errorf("order at the engines (-want +got):\n%s", diff)
	}
	// h1 alone in flight is not below an even share of one tenant; l1 let
	// go with 1 of 3 in flight is; h4 with 2 of 3 is not.
	want := map[string]string{"h1": "1", "h2": "1", "h3": "1", "l1": "0", "h4": "1"}
	if diff := cmp.Diff(want, eng.priorities()); diff != "" {
		t.Errorf("priority at the engine (-want +got):\n%s", diff)
	}
}

// While a heavy tenant's requests wait beside a light tenant's, the first
// endpoint by name is kept for the light tenant: no heavy request let go
// after the split reaches it (which light request goes where is the
// gate's test, package flow).
func TestFlowKeepsQuietEndpointForTenantWithinShare(t *testing.T) {
	eng := startHeldEngines(t, 3)
	cfg := flowConfig(20 * time.Second)
	cfg.Flow.QuietFactor = 4
	cfg.Tenants.Header = "X-Tandem-Tenant"
	cfg.Policy = "least-request"
	cfg.Flow.Tick = Duration{time.Hour} // dispatch only when a request joins or ends
	specs := eng.specs(t)
	f := startRouter(t, cfg, specs)
	t.Cleanup(eng.releaseAll)
	quiet := 0 // the pool's order is by name
	for i, s := range specs {
		if s.Name < specs[quiet].Name {
			quiet = i
		}
	}
	out := make(chan flowReply, 16)
	send := func(label, tenant string) {
		body := fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":%q}]}`, testModel, label)
		f.sendAs(t, label, body, http.Header{"X-Tandem-Tenant": {tenant}}, out)
	}
	heldAt := map[int]string{}                         // server → the heavy request it holds
	for i, label := range []string{"h1", "h2", "h3"} { // one each: every engine at its efficient load
		send(label, "heavy")
		waitFor(t, label+" at an engine", func() bool { return len(eng.received()) == i+1 })
		heldAt[eng.server(label)] = label
	}
	send("h4", "heavy")
	waitFor(t, "h4 to wait in the router", func() bool { return f.rt.flow.Len(testModel) == 1 })
	send("l1", "light")
	waitFor(t, "l1 to wait in the router", func() bool { return f.rt.flow.Len(testModel) == 2 })
	if got := f.metric(t, `tandem_router_flow_quiet_endpoints{model="test-model"}`); got != 1 {
		t.Errorf("quiet endpoints %g, want 1 (3 endpoints, one light tenant beside a heavy one)", got)
	}
	// The quiet endpoint answers: the light request takes it, and the heavy
	// one (2 of 3 in flight, over its share) may not.
	eng.answer(heldAt[quiet])
	<-out
	waitFor(t, "l1 at an engine", func() bool { return eng.server("l1") >= 0 })
	if at := eng.server("l1"); at != quiet {
		t.Errorf("l1 reached server %d, want the quiet endpoint %d", at, quiet)
	}
	if n := f.rt.flow.Len(testModel); n != 1 {
		t.Errorf("%d waiting after the quiet endpoint answered, want h4 still waiting", n)
	}
	// l1 answers too: the quiet endpoint is idle, but stays kept (the split
	// shrinks only after 10 s), so h4 still waits. (Without the split it
	// would go at once; a slow machine could only hide that, not fake it.)
	eng.answer("l1")
	<-out
	time.Sleep(100 * time.Millisecond)
	if at := eng.server("h4"); at >= 0 {
		t.Errorf("h4 reached server %d with only the quiet endpoint %d free", at, quiet)
	}
	// A busy endpoint answers: h4 goes there.
	busy := (quiet + 1) % 3
	eng.answer(heldAt[busy])
	<-out
	waitFor(t, "h4 at an engine", func() bool { return eng.server("h4") >= 0 })
	if at := eng.server("h4"); at != busy {
		t.Errorf("h4 reached server %d, want the busy endpoint that answered (%d)", at, busy)
	}
}

// A first token later than ttftTarget teaches the endpoint a concurrency
// limit just under the requests then open; past it requests wait in the
// router.
func TestFlowLearnsConcurrencyLimitFromSlowFirstTokens(t *testing.T) {
	eng := startHeldEngine(t)
	cfg := flowConfig(20 * time.Second)
	cfg.Flow.QueueDelay = Duration{} // only the learned limit holds requests back
	cfg.Flow.KVUsage = 0.9           // needs a scrape; the held engine has none
	cfg.Flow.TTFTTarget = Duration{20 * time.Millisecond}
	f := startRouter(t, cfg, eng.specs(t))
	t.Cleanup(eng.releaseAll)
	out := make(chan flowReply, 8)
	for i, label := range []string{"a", "b", "c"} {
		f.send(t, label, 0, out)
		waitFor(t, label+" at the engine", func() bool { return len(eng.received()) == i+1 })
	}
	limit := `tandem_router_endpoint_concurrency_limit{endpoint="` + f.rt.Registry().Snapshot().All[0].Name + `"}`
	if got := f.metric(t, limit); got != 0 {
		t.Fatalf("limit %g before any first token, want 0 (none learned)", got)
	}
	time.Sleep(150 * time.Millisecond) // well past the target and a's own prefill
	eng.release <- struct{}{}
	if r := <-out; r.status != http.StatusOK {
		t.Fatalf("%s: status %d, want 200", r.label, r.status)
	}
	if got := f.metric(t, limit); got != 2.7 {
		t.Fatalf("limit %g after a late first token with 3 open, want 2.7", got)
	}
	// Two open, under 2.7: one more goes; then three are open, at it.
	f.send(t, "d", 0, out)
	waitFor(t, "d at the engine", func() bool { return len(eng.received()) == 4 })
	f.send(t, "e", 0, out)
	waitFor(t, "e to wait in the router", func() bool { return f.rt.flow.Len(testModel) == 1 })
	if got := eng.received(); len(got) != 4 {
		t.Errorf("the engine received %q; e must wait in the router at the limit", got)
	}
}

func TestFlowConfig(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		want    func(*FlowConfig)
		wantErr string
	}{
		{name: "defaults", yaml: "{}\n", want: func(*FlowConfig) {}},
		{name: "on, with a shorter wait", yaml: "flowControl: {enabled: true, maxWait: 2s}\n",
			want: func(f *FlowConfig) { f.Enabled, f.MaxWait = true, Duration{2 * time.Second} }},
		{name: "zero wait", yaml: "flowControl: {maxWait: 0s}\n", wantErr: "flowControl.maxWait 0s: must be positive"},
		{name: "no queue", yaml: "flowControl: {maxQueue: 0}\n", wantErr: "flowControl.maxQueue 0: must be positive"},
		{name: "KV usage above 1", yaml: "flowControl: {kvUsage: 1.5}\n", wantErr: "flowControl.kvUsage 1.5: want 0 to 1"},
		{name: "both tests off", yaml: "flowControl: {kvUsage: 0, queueDelay: 0s}\n", wantErr: "no endpoint would ever be at its efficient load"},
		{name: "no tick", yaml: "flowControl: {tick: 0s}\n", wantErr: "flowControl.tick 0s: must be positive"},
		{name: "quiet factor below 1", yaml: "flowControl: {quietFactor: 0.5}\n", wantErr: "flowControl.quietFactor 0.5: want 0 (off) or at least 1"},
		{name: "engine priority for vLLM", yaml: "flowControl: {enginePriority: lower-first}\n",
			want: func(f *FlowConfig) { f.EnginePriority = EnginePriorityLowerFirst }},
		{name: "unknown engine priority order", yaml: "flowControl: {enginePriority: vllm}\n", wantErr: `flowControl.enginePriority "vllm": want "lower-first", "higher-first" or empty (off)`},
		{name: "negative TTFT target", yaml: "flowControl: {ttftTarget: -1s}\n", wantErr: "flowControl.ttftTarget -1s: must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "router.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig().Flow
			tc.want(&want)
			if diff := cmp.Diff(want, c.Flow); diff != "" {
				t.Errorf("flowControl (-want +got):\n%s", diff)
			}
		})
	}
}
