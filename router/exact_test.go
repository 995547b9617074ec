package router

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/kvevents"
)

func kvPort(t *testing.T, endpoint string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(endpoint, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return p
}

func exactConfig() Config {
	cfg := testConfig()
	cfg.KVEvents.Enabled = true
	cfg.KVEvents.SilenceAfter = Duration{300 * time.Millisecond}
	return cfg
}

// In exact mode the router learns what each engine caches from its KV
// events: with its own approximate index wiped, a request still goes to
// the engine whose cache holds its prefix.
func TestExactModeFromKVEvents(t *testing.T) {
	var engines []*sim.Engine
	var eps []endpoint.Spec
	for i := range 3 {
		e := startEngine(t, kvEvents())
		s := named(e, "e"+strconv.Itoa(i))
		s.KVEventsPort = kvPort(t, e.KVEventsEndpoint())
		engines, eps = append(engines, e), append(eps, s)
	}
	f := startRouter(t, exactConfig(), eps)
	for _, s := range eps {
		waitFor(t, "the KV events subscription of "+s.Name, func() bool {
			return f.metric(t, `tandem_router_kv_index_state{endpoint="`+s.Name+`",state="exact"}`) == 1
		})
	}
	// Publishers drop events until the subscriber has joined: repeat the
	// first request until its blocks show up in some exact index.
	var holder *endpoint.Endpoint
	waitFor(t, "the first request's blocks in an exact index", func() bool {
		if resp, body := f.post(t, "/v1/chat/completions", sharedPrefixChat(0)); resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		for _, e := range f.rt.Registry().Snapshot().All {
			if e.Exact.Len() > 0 {
				holder = e
			}
		}
		return holder != nil
	})
	for _, e := range f.rt.Registry().Snapshot().All {
		e.Index.Clear() // only the exact index knows now
	}
	before := f.metric(t, `tandem_router_picks_total{policy="tandem",reason="cache-affinity"}`)
	if resp, body := f.post(t, "/v1/chat/completions", sharedPrefixChat(1)); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if after := f.metric(t, `tandem_router_picks_total{policy="tandem",reason="cache-affinity"}`); after != before+1 {
		t.Errorf("the request was not sent for cache affinity (picks %g -> %g)", before, after)
	}
	var hits uint64
	for i, e := range engines {
		if eps[i].Name == holder.Name {
			hits = e.Snapshot().Stats.PrefixHits
		}
	}
	if hits == 0 {
		t.Errorf("the engine holding the prefix (%s) had no prefix cache hits", holder.Name)
	}
}

// When events stop while the router keeps sending work, the index goes
// "silent" (degraded) and the router falls back to its own estimate;
// requests are served throughout.
func TestExactModeDegradesWhenEventsStop(t *testing.T) {
	e := startEngine(t) // publishes nothing
	mute, err := kvevents.NewPublisher("tcp://127.0.0.1:0", "kv-events")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	s := named(e, "muted")
	s.KVEventsPort = kvPort(t, mute.Endpoint())
	f := startRouter(t, exactConfig(), []endpoint.Spec{s})
	waitFor(t, "the subscription", func() bool {
		return f.metric(t, `tandem_router_kv_index_state{endpoint="muted",state="exact"}`) == 1
	})
	body := completionBody(strings.Repeat("a fresh prompt with many tokens ", 20), "")
	if resp, b := f.post(t, "/v1/completions", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	waitFor(t, "the index to go silent", func() bool {
		return f.metric(t, `tandem_router_kv_index_state{endpoint="muted",state="silent"}`) == 1
	})
	if resp, b := f.post(t, "/v1/completions", body); resp.StatusCode != http.StatusOK {
		t.Fatalf("degraded: %d %s", resp.StatusCode, b)
	}
}
