package router

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/tenant"
)

// keysFile writes a keys file mapping "sk-<tenant>" to each tenant.
func keysFile(t *testing.T, tenants ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("keys:\n")
	for _, name := range tenants {
		b.WriteString("  sk-" + name + ": " + name + "\n")
	}
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func bearer(tenant string) []string { return []string{"Authorization", "Bearer sk-" + tenant} }

// guardedBody is a request body that records whether anyone read it.
type guardedBody struct {
	r    io.Reader
	read atomic.Bool
}

func (b *guardedBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.r.Read(p)
}

// With a keys file, a missing or unknown key is answered 401, OpenAI's
// way, before the body is read: the client asks for 100 Continue and the
// router never asks for the body. A known key's body is read (the guard
// can tell).
func TestUnknownKeyRefusedBeforeTheBodyIsRead(t *testing.T) {
	cfg := testConfig()
	cfg.Tenants = tenant.Config{KeysFile: keysFile(t, "team")}
	f := startRouter(t, cfg, specs(startEngine(t)))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	cases := []struct {
		name       string
		header     []string
		wantStatus int
		wantRead   bool
	}{
		{"no key", nil, http.StatusUnauthorized, false},
		{"unknown key", []string{"Authorization", "Bearer sk-nobody"}, http.StatusUnauthorized, false},
		{"a key in the wrong scheme", []string{"Authorization", "Basic sk-team"}, http.StatusUnauthorized, false},
		{"known key", bearer("team"), http.StatusOK, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := &guardedBody{r: strings.NewReader(completionBody("x", ""))}
			req, err := http.NewRequest(http.MethodPost, f.url+"/v1/completions", body)
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = int64(len(completionBody("x", "")))
			req.Header.Set("Expect", "100-continue")
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, got)
			}
			if body.read.Load() != tc.wantRead {
				t.Errorf("body read %v, want %v", body.read.Load(), tc.wantRead)
			}
			if tc.wantStatus == http.StatusUnauthorized {
				e := decodeError(t, got)
				if e.Error.Type != "AuthenticationError" || e.Error.Code != 401 || e.Error.Message == "" {
					t.Errorf("error %+v, want an AuthenticationError with code 401 and a message", e.Error)
				}
				if strings.Contains(string(got), "sk-nobody") {
					t.Errorf("the error quotes the key: %s", got)
				}
			}
		})
	}
	if v := f.metric(t, `tandem_router_refused_total{reason="unauthorized"}`); v != 3 {
		t.Errorf("refused unauthorized = %g, want 3", v)
	}
}

// saturated is a router whose only endpoint is saturated by one request
// that never answers (held open by holder's header), with shedding at
// priority >= minPriority.
func saturated(t *testing.T, cfg Config, minPriority int, holder ...string) (*fixture, func()) {
	t.Helper()
	e := startEngine(t, faults(server.Faults{HangRate: 1}))
	cfg.Saturation.MaxQueuedTokens = 1
	cfg.Shedding.MinPriority = minPriority
	f := startRouter(t, cfg, []endpoint.Spec{named(e, "only")})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	hang(t, f, &wg, ctx, holder...)
	return f, func() { cancel(); wg.Wait() }
}

// The drill: with keys configured, a client that names another tenant by
// header and asks for top priority (header and body) changes nothing: its
// requests count under its key's tenant and are shed at that tenant's
// priority. The control: the tenant it impersonates is not shed.
func TestSpoofedTenantHeaderWithKeysChangesNothing(t *testing.T) {
	cfg := testConfig()
	cfg.Tenants = tenant.Config{
		KeysFile: keysFile(t, "app", "batch"),
		Default:  tenant.Policy{Priority: 0},
		List:     []tenant.Entry{{Name: "batch", Policy: tenant.Policy{Priority: 5}}},
	}
	f, stop := saturated(t, cfg, 1, bearer("app")...)
	defer stop()
	spoof := append(bearer("batch"), "X-Tandem-Tenant", "app", "X-Tandem-Priority", "0")
	resp, body := f.post(t, "/v1/completions", completionBody("x", `,"priority":-10`), spoof...)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("spoofed request: status %d, want 429 (batch's priority 5 is shed): %s", resp.StatusCode, body)
	}
	if v := f.metric(t, `tandem_router_refused_total{reason="saturated"}`); v != 1 {
		t.Errorf("refused saturated = %g, want 1", v)
	}
	for _, tc := range []struct {
		tenant string
		want   float64
	}{{"app", 1}, {"batch", 1}, {"default", 0}, {tenant.UnlistedLabel, 0}} {
		if v := f.metric(t, `tandem_router_tenant_requests_total{tenant="`+tc.tenant+`"}`); v != tc.want {
			t.Errorf("tenant_requests_total{tenant=%q} = %g, want %g", tc.tenant, v, tc.want)
		}
	}
	// The impersonated tenant itself is not shed: its request goes on to
	// the (hanging) engine.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	hang(t, f, &wg, ctx, bearer("app")...)
}

// tenants.header is honoured only from tenants.trustedPeers: the test
// client's peer is 127.0.0.1, whatever X-Forwarded-For says.
func TestTenantHeaderOnlyFromTrustedPeers(t *testing.T) {
	cases := []struct {
		name      string
		peers     []string
		wantLabel string
	}{
		{"trusted peer", []string{"127.0.0.0/8"}, "gold"},
		{"untrusted peer", []string{"192.0.2.0/24"}, "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Tenants = tenant.Config{Header: "X-Tandem-Tenant", TrustedPeers: tc.peers, List: []tenant.Entry{{Name: "gold"}}}
			f := startRouter(t, cfg, specs(startEngine(t)))
			resp, body := f.post(t, "/v1/completions", completionBody("x", ""), "X-Tandem-Tenant", "gold", "X-Forwarded-For", "192.0.2.1")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, label := range []string{"gold", "default"} {
				want := 0.0
				if label == tc.wantLabel {
					want = 1
				}
				if v := f.metric(t, `tandem_router_tenant_requests_total{tenant="`+label+`"}`); v != want {
					t.Errorf("tenant_requests_total{tenant=%q} = %g, want %g", label, v, want)
				}
			}
		})
	}
}

// A client's priority counts only for a tenant allowed to set it, and
// never above the tenant's maxPriority. Every endpoint is saturated and
// requests with priority >= 2 are shed, so the status shows the priority
// the router used.
func TestPriorityOverride(t *testing.T) {
	cfg := testConfig()
	cfg.Tenants = tenant.Config{
		KeysFile: keysFile(t, "holder", "plain", "capped", "trusted"),
		List: []tenant.Entry{
			{Name: "holder", Policy: tenant.Policy{Priority: 0}},
			{Name: "plain", Policy: tenant.Policy{Priority: 5}},
			{Name: "capped", Policy: tenant.Policy{Priority: 5, AllowPriorityOverride: true, MaxPriority: 2}},
			{Name: "trusted", Policy: tenant.Policy{Priority: 5, AllowPriorityOverride: true, MaxPriority: 0}},
		},
	}
	f, stop := saturated(t, cfg, 2, bearer("holder")...)
	defer stop()
	shed := []struct {
		name, tenant, extra string
		header              []string
	}{
		{"without the right, the header is ignored", "plain", "", []string{"X-Tandem-Priority", "0"}},
		{"without the right, the body field is ignored", "plain", `,"priority":0`, nil},
		{"with the right, capped at maxPriority", "capped", "", []string{"X-Tandem-Priority", "0"}},
		{"with the right, the body field capped too", "capped", `,"priority":-3`, nil},
		{"with the right, not asking keeps the tenant's", "trusted", "", nil},
	}
	for _, tc := range shed {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, "/v1/completions", completionBody("x", tc.extra), append(bearer(tc.tenant), tc.header...)...)
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Errorf("status %d, want 429 (shed): %s", resp.StatusCode, body)
			}
		})
	}
	// Honoured within the cap: priority 0 (header), then 1 (body) are not
	// shed and reach the engine.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	hang(t, f, &wg, ctx, append(bearer("trusted"), "X-Tandem-Priority", "0")...)
	if v := f.metric(t, `tandem_router_refused_total{reason="saturated"}`); v != float64(len(shed)) {
		t.Errorf("refused saturated = %g, want %d", v, len(shed))
	}
}

// /metrics is not on the API port by default; it is on ServeMetrics's
// listener, which serves nothing else. metrics.address "" puts it back.
func TestMetricsListener(t *testing.T) {
	if DefaultConfig().Metrics.Address == "" {
		t.Fatal("the default config serves /metrics on the API port")
	}
	cfg := testConfig()
	cfg.Metrics.Address = DefaultConfig().Metrics.Address
	f := startRouter(t, cfg, specs(startEngine(t)))
	if resp, body := f.get(t, "/metrics"); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "tandem_router_") {
		t.Errorf("API port /metrics: status %d, body %.80q; want 404 without metrics", resp.StatusCode, body)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.rt.ServeMetrics(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeMetrics: %v", err)
		}
	}()
	m := &fixture{rt: f.rt, url: "http://" + ln.Addr().String()}
	if resp, body := m.get(t, "/metrics"); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE tandem_router_") {
		t.Errorf("metrics listener /metrics: status %d, body %.80q; want the exposition", resp.StatusCode, body)
	}
	if resp, _ := m.post(t, "/v1/completions", completionBody("x", "")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("metrics listener /v1/completions: status %d, want 404", resp.StatusCode)
	}

	cfg.Metrics.Address = ""
	back := startRouter(t, cfg, specs(startEngine(t)))
	if resp, body := back.get(t, "/metrics"); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "# TYPE tandem_router_") {
		t.Errorf(`metrics.address "": API port /metrics status %d, want the exposition`, resp.StatusCode)
	}
}

func TestMetricsAddressMustDifferFromListen(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Metrics.Address = cfg.Listen
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "metrics.address") {
		t.Errorf("Validate = %v, want a metrics.address error", err)
	}
}

// The shipped deployment's config loads, and keeps /metrics off the API.
func TestDeployedConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../deploy/router/router.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Address == "" || cfg.Discovery.Kubernetes == nil || cfg.Discovery.Kubernetes.Namespace == "" {
		t.Errorf("metrics.address %q, discovery %+v; want a metrics listener and a serving namespace", cfg.Metrics.Address, cfg.Discovery)
	}
}

// A router API key is the client's credential for the router: with a keys
// file, Authorization is not forwarded to the engine (other forwarded
// headers still are); without one it is, as before.
func TestKeysDoNotReachTheEngine(t *testing.T) {
	cases := []struct {
		name     string
		tenants  tenant.Config
		wantAuth string
	}{
		{"keys file", tenant.Config{KeysFile: keysFile(t, "team")}, ""},
		{"no keys", tenant.Config{}, "Bearer sk-team"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var auth, reqID []string
			eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/completions" {
					http.NotFound(w, r)
					return
				}
				mu.Lock()
				auth, reqID = append(auth, r.Header.Get("Authorization")), append(reqID, r.Header.Get("X-Request-Id"))
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"id":"x","object":"text_completion","choices":[{"index":0,"text":"ok","finish_reason":"stop"}]}`)
			}))
			defer eng.Close()
			s := endpoint.Spec{Address: strings.TrimPrefix(eng.URL, "http://"), Models: []string{testModel}}
			if err := s.Normalize(); err != nil {
				t.Fatal(err)
			}
			cfg := testConfig()
			cfg.Tenants = tc.tenants
			f := startRouter(t, cfg, []endpoint.Spec{s})
			if resp, body := f.post(t, "/v1/completions", completionBody("x", ""), append(bearer("team"), "X-Request-Id", "r-1")...); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]string{tc.wantAuth}, auth); diff != "" {
				t.Errorf("Authorization at the engine (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"r-1"}, reqID); diff != "" {
				t.Errorf("X-Request-Id at the engine (-want +got):\n%s", diff)
			}
		})
	}
}

// The body an engine receives carries no client priority the router did
// not grant: vLLM with priority scheduling reads it, so a client-set value
// would otherwise escape the tenant's priority there.
func TestEngineSeesTheResolvedPriority(t *testing.T) {
	var mu sync.Mutex
	var got []string // the priority member as the engine decoded it, or "none"
	eng := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/completions" {
			http.NotFound(w, r)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		p, ok := body["priority"]
		mu.Lock()
		if ok {
			got = append(got, fmt.Sprint(p))
		} else {
			got = append(got, "none")
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"text_completion","choices":[{"index":0,"text":"ok","finish_reason":"stop"}]}`)
	}))
	defer eng.Close()
	s := endpoint.Spec{Address: strings.TrimPrefix(eng.URL, "http://"), Models: []string{testModel}}
	if err := s.Normalize(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Tenants = tenant.Config{
		KeysFile: keysFile(t, "plain", "capped"),
		List: []tenant.Entry{
			{Name: "plain", Policy: tenant.Policy{Priority: 5}},
			{Name: "capped", Policy: tenant.Policy{Priority: 5, AllowPriorityOverride: true, MaxPriority: 2}},
		},
	}
	f := startRouter(t, cfg, []endpoint.Spec{s})
	cases := []struct {
		name, tenant, extra string
		header              []string
		want                string
	}{
		{"no priority in the body: none added", "plain", "", nil, "none"},
		{"not allowed: removed", "plain", `,"priority":-10`, nil, "none"},
		{"not allowed, equal to the tenant's: left", "plain", `,"priority":5`, nil, "5"},
		{"allowed, within the cap: the client's", "capped", `,"priority":3`, nil, "3"},
		{"allowed, past the cap: the cap", "capped", `,"priority":-10`, nil, "2"},
		{"allowed, the header wins over the body", "capped", `,"priority":9`, []string{"X-Tandem-Priority", "4"}, "4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			if resp, body := f.post(t, "/v1/completions", completionBody("x", tc.extra), append(bearer(tc.tenant), tc.header...)...); resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]string{tc.want}, got); diff != "" {
				t.Errorf("priority at the engine (-want +got):\n%s", diff)
			}
		})
	}
}
