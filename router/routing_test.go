package router

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
)

var systemPrompt = strings.Repeat("You are a careful assistant who answers in full sentences. ", 40)

func sharedPrefixChat(i int) string {
	return `{"model":"test-model","max_tokens":2,"messages":[{"role":"system","content":"` + systemPrompt +
		`"},{"role":"user","content":"Question number ` + fmt.Sprint(i) + `"}]}`
}

// With a shared system prompt, the tandem policy sends every request to
// the engine that already holds it, so the engines' prefix caches hit.
func TestTandemKeepsSharedPrefixTogether(t *testing.T) {
	var engines []*sim.Engine
	for range 4 {
		engines = append(engines, startEngine(t))
	}
	f := startRouter(t, testConfig(), specs(engines...))
	for i := range 12 {
		if resp, body := f.post(t, "/v1/chat/completions", sharedPrefixChat(i)); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	var hits, queried uint64
	used := 0
	for _, e := range engines {
		s := e.Snapshot().Stats
		hits += s.PrefixHits
		queried += s.PrefixQueries
		if s.PromptTokens > 0 {
			used++
		}
	}
	if used != 1 || float64(hits) < 0.85*float64(queried) {
		t.Errorf("engines used %d, prefix hits %d of %d tokens; want one engine and most tokens cached", used, hits, queried)
	}
	if v := f.metric(t, `tandem_router_picks_total{policy="tandem",reason="cache-affinity"}`); v != 11 {
		t.Errorf("cache-affinity picks = %g, want 11", v)
	}
	if v := f.metric(t, `tandem_router_cached_tokens_total{model="test-model"}`); v == 0 {
		t.Error("no estimated cached tokens recorded")
	}
}

// hang sends a streamed request that the engine never answers, until
// cancel, and waits until it is open at the engine. Streamed, it stays
// queued in the router's count until its first event, so it saturates.
func hang(t *testing.T, f *fixture, wg *sync.WaitGroup, ctx context.Context, header ...string) {
	t.Helper()
	open := f.metric(t, `tandem_router_endpoint_in_flight_requests{endpoint="only"}`)
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.url+"/v1/completions", strings.NewReader(completionBody(systemPrompt, `,"stream":true`)))
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}()
	waitFor(t, "the request to be open at the engine", func() bool {
		return f.metric(t, `tandem_router_endpoint_in_flight_requests{endpoint="only"}`) == open+1
	})
}

// When every endpoint is saturated, sheddable requests (priority >= 1) get
// 429 at once, and with fair sharing so do tenants holding more than their
// share; the others still go through to queue at the engine.
func TestSheddingWhenSaturated(t *testing.T) {
	e := startEngine(t, faults(server.Faults{HangRate: 1}))
	cfg := testConfig()
	cfg.Saturation.MaxQueuedTokens = 1 // one unanswered prompt saturates
	cfg.Shedding.FairShare = true
	cfg.Tenants.Header = "X-Tandem-Tenant"           // tenants named by header, from any peer
	cfg.Tenants.Default.AllowPriorityOverride = true // and they may set their priority
	f := startRouter(t, cfg, []endpoint.Spec{named(e, "only")})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	hang(t, f, &wg, ctx, "X-Tandem-Tenant", "heavy")
	hang(t, f, &wg, ctx, "X-Tandem-Tenant", "heavy")
	hang(t, f, &wg, ctx, "X-Tandem-Tenant", "light")
	cases := []struct {
		name       string
		header     []string
		wantStatus int
	}{
		{"sheddable priority", []string{"X-Tandem-Tenant", "light", "X-Tandem-Priority", "1"}, http.StatusTooManyRequests},
		{"tenant over its fair share", []string{"X-Tandem-Tenant", "heavy"}, http.StatusTooManyRequests},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, "/v1/completions", completionBody("x", ""), tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if e := decodeError(t, body); e.Error.Type != "RateLimitError" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("error %+v, Retry-After %q", e.Error, resp.Header.Get("Retry-After"))
			}
		})
	}
	// A light tenant's ordinary request is forwarded (and hangs there).
	hang(t, f, &wg, ctx, "X-Tandem-Tenant", "light")
	for _, reason := range []string{"saturated", "fair-share"} {
		if v := f.metric(t, `tandem_router_refused_total{reason="`+reason+`"}`); v != 1 {
			t.Errorf("refused %s = %g, want 1", reason, v)
		}
	}
}
