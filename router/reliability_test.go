package router

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
)

func named(e *sim.Engine, name string) endpoint.Spec {
	s := spec(e, endpoint.RoleBoth, "0")
	s.Name = name
	return s
}

// A refusing engine costs no request: each is retried on the next
// candidate before any byte reaches the client.
func TestRetryBeforeFirstByte(t *testing.T) {
	down := startEngine(t)
	up := startEngine(t)
	if err := down.SetRefuse(true); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Policy = "round-robin"
	cfg.Breaker.Failures = 1000 // keep the refusing engine in rotation
	f := startRouter(t, cfg, []endpoint.Spec{named(down, "a-down"), named(up, "b-up")})
	for i := range 6 {
		body := completionBody(fmt.Sprintf("request %d", i), `,"stream":`+fmt.Sprint(i%2 == 0))
		if resp, b := f.post(t, "/v1/completions", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if v := f.metric(t, `tandem_router_retries_total{cause="connect",model="test-model"}`); v != 3 {
		t.Errorf("connect retries = %g, want 3 (every other request went to the refusing engine first)", v)
	}
}

// An engine answering 500 is skipped the same way, and its failures open
// its breaker, which then keeps traffic away without a retry.
func TestRetryOnEngineErrorAndBreakerOpens(t *testing.T) {
	bad := startEngine(t, faults(server.Faults{ErrorRate: 1}))
	good := startEngine(t)
	cfg := testConfig()
	cfg.Policy = "round-robin"
	cfg.Breaker.Failures = 2
	cfg.Breaker.Cooldown = Duration{1 << 62} // stays open for the test
	f := startRouter(t, cfg, []endpoint.Spec{named(bad, "a-bad"), named(good, "b-good")})
	for i := range 8 {
		if resp, b := f.post(t, "/v1/completions", completionBody(fmt.Sprint(i), "")); resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if v := f.metric(t, `tandem_router_retries_total{cause="status",model="test-model"}`); v != 2 {
		t.Errorf("status retries = %g, want 2 (then the breaker is open)", v)
	}
	if v := f.metric(t, `tandem_router_breaker_state{endpoint="a-bad"}`); v != 1 {
		t.Errorf("breaker state = %g, want 1 (open)", v)
	}
}

// A breaker opened by a dead engine lets one probe through after its
// cool-down; when the engine is back the probe succeeds and it closes.
func TestBreakerHalfOpenProbe(t *testing.T) {
	flaky := startEngine(t)
	steady := startEngine(t)
	cfg := testConfig()
	cfg.Policy = "round-robin"
	cfg.Breaker.Failures = 2
	f := startRouter(t, cfg, []endpoint.Spec{named(flaky, "a-flaky"), named(steady, "b-steady")})
	if err := flaky.SetRefuse(true); err != nil {
		t.Fatal(err)
	}
	send := func() {
		if resp, b := f.post(t, "/v1/completions", completionBody("x", "")); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	waitFor(t, "the breaker to open", func() bool {
		send()
		return f.metric(t, `tandem_router_breaker_transitions_total{endpoint="a-flaky",state="open"}`) >= 1
	})
	if err := flaky.SetRefuse(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a probe to close the breaker", func() bool {
		send()
		return f.metric(t, `tandem_router_breaker_state{endpoint="a-flaky"}`) == 0
	})
	if v := f.metric(t, `tandem_router_breaker_transitions_total{endpoint="a-flaky",state="half-open"}`); v < 1 {
		t.Errorf("no half-open transition recorded")
	}
}

// openStream is a streamed request whose first event has arrived; the
// rest of the body is read by collect.
type openStream struct {
	resp *http.Response
	r    *bufio.Reader
	head string
}

func startStream(t *testing.T, f *fixture, body string) *openStream {
	t.Helper()
	resp, err := http.Post(f.url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	r := bufio.NewReader(resp.Body)
	head, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return &openStream{resp: resp, r: r, head: head}
}

func (s *openStream) collect() ([]string, error) {
	defer func() { _ = s.resp.Body.Close() }()
	rest, err := io.ReadAll(s.r)
	return events([]byte(s.head + string(rest))), err
}

// An engine killed under load: requests it had not started answering are
// retried elsewhere and succeed; streams it had started end with a clean
// OpenAI error event.
func TestEngineKilledUnderLoad(t *testing.T) {
	// The victim crashes when its third request arrives.
	victim := startEngine(t, timeScale(1), faults(server.Faults{CrashAfter: 2}))
	survivor := startEngine(t, timeScale(1))
	cfg := testConfig()
	cfg.Policy = "round-robin"
	f := startRouter(t, cfg, []endpoint.Spec{named(victim, "a-victim"), named(survivor, "b-survivor")})

	long := completionBody("a long story", `,"stream":true,"max_tokens":100000`)
	short := completionBody("a short story", `,"stream":true,"max_tokens":3`)
	onVictim1 := startStream(t, f, long)   // a
	onSurvivor := startStream(t, f, short) // b
	onVictim2 := startStream(t, f, long)   // a
	// The victim holds two started streams. The next pick is the victim:
	// its arrival crashes it, and a burst of requests lands meanwhile.
	var wg sync.WaitGroup
	statuses := make([]int, 9)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := completionBody(fmt.Sprintf("burst %d", i), `,"max_tokens":2`)
			if i%3 == 0 {
				body = completionBody(fmt.Sprintf("burst %d", i), `,"max_tokens":2,"stream":true`)
			}
			resp, err := http.Post(f.url+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("burst %d: %v", i, err)
				return
			}
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			statuses[i] = resp.StatusCode
			if resp.StatusCode == http.StatusOK && i%3 == 0 && !strings.Contains(string(b), "data: [DONE]") {
				t.Errorf("burst stream %d did not complete: %s", i, b)
			}
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("burst request %d: status %d, want 200 (retried on the survivor)", i, s)
		}
	}
	<-victim.Done()
	for i, s := range []*openStream{onVictim1, onVictim2} {
		evs, err := s.collect()
		if err != nil {
			t.Errorf("victim stream %d: the connection broke (%v) instead of ending with an error event", i, err)
			continue
		}
		lastEv := evs[len(evs)-1]
		if !strings.HasPrefix(lastEv, `{"error":`) || len(evs) < 2 {
			t.Errorf("victim stream %d ends with %q, want an error event after its data", i, lastEv)
		}
	}
	if evs, err := onSurvivor.collect(); err != nil || evs[len(evs)-1] != "[DONE]" {
		t.Errorf("survivor stream: %v, events %q", err, evs)
	}
	if v := f.metric(t, `tandem_router_stream_errors_total{model="test-model"}`); v != 2 {
		t.Errorf("stream errors = %g, want 2", v)
	}
}
