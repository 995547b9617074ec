package router

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/kvevents"
	"github.com/tandem-serving/tandem/router/schedule"
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
	cfg.KVEvents.TokenizeTimeout = Duration{5 * time.Second} // tests never depend on speed
	return cfg
}

// noExplore is the tandem preset without its 1% exploration, so that a
// test's pick is decided by the figures alone.
func noExplore() *schedule.ProfileConfig {
	p, _ := schedule.Preset("tandem")
	p.Picker.Args = json.RawMessage(`{"consistentTies":true,"stayWithin":3}`)
	return &p
}

// exactFleet starts n simulated engines publishing KV events, engine i
// with block hash seed 1000+i: no two name a block alike. Odd engines
// publish the map layout of vLLM after PR #42892, even ones v0.11.2's.
func exactFleet(t *testing.T, n int) ([]*sim.Engine, []endpoint.Spec) {
	var engines []*sim.Engine
	var eps []endpoint.Spec
	for i := range n {
		format := "array"
		if i%2 == 1 {
			format = "map"
		}
		e := startEngine(t, kvEvents(), hashSeed(uint64(1000+i)), func(c *sim.Config) { c.KVEventsFormat = format })
		s := named(e, "e"+strconv.Itoa(i))
		s.KVEventsPort = kvPort(t, e.KVEventsEndpoint())
		engines, eps = append(engines, e), append(eps, s)
	}
	return engines, eps
}

func waitExact(t *testing.T, f *fixture, eps []endpoint.Spec) {
	t.Helper()
	for _, s := range eps {
		waitFor(t, "the KV events subscription of "+s.Name, func() bool {
			return f.metric(t, `tandem_router_kv_index_state{endpoint="`+s.Name+`",state="exact"}`) == 1
		})
	}
}

// postOK posts body and returns the endpoint that served it.
func (f *fixture) postOK(t *testing.T, path, body string) string {
	t.Helper()
	resp, b := f.post(t, path, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	return resp.Header.Get(headerEndpoint)
}

// Exact mode against engines that hash blocks with different seeds: the
// router keys blocks by its own chain over the token ids in BlockStored and
// gets the request's token ids from the engine's /tokenize, so with its
// approximate index wiped a repeated prompt, and one sharing its system
// prompt, still go to the engine holding them.
func TestExactModeWithEngineTokenizer(t *testing.T) {
	engines, eps := exactFleet(t, 3)
	cfg := exactConfig()
	cfg.KVEvents.TokenizeWhen = "always" // the approximate index will know nothing
	f := startRouter(t, cfg, eps)
	waitExact(t, f, eps)
	// Publishers drop events until the subscriber has joined: repeat the
	// first request until its blocks show up in some exact index.
	var holder *endpoint.Endpoint
	waitFor(t, "the first request's blocks in an exact index", func() bool {
		f.postOK(t, "/v1/chat/completions", sharedPrefixChat(0))
		for _, e := range f.rt.Registry().Snapshot().All {
			if e.Exact.Len() > 0 {
				holder = e
			}
		}
		return holder != nil
	})
	hits := func() uint64 {
		for i, e := range engines {
			if eps[i].Name == holder.Name {
				return e.Snapshot().Stats.PrefixHits
			}
		}
		return 0
	}
	for i, body := range []string{sharedPrefixChat(0), sharedPrefixChat(1)} {
		for _, e := range f.rt.Registry().Snapshot().All {
			e.Index.Clear() // only the exact index knows now
		}
		before, hitsBefore := f.metric(t, `tandem_router_picks_total{policy="tandem",reason="cache-affinity"}`), hits()
		if got := f.postOK(t, "/v1/chat/completions", body); got != holder.Name {
			t.Errorf("request %d went to %s, not to %s which holds its prefix", i, got, holder.Name)
		}
		if after := f.metric(t, `tandem_router_picks_total{policy="tandem",reason="cache-affinity"}`); after != before+1 {
			t.Errorf("request %d was not sent for cache affinity (picks %g -> %g)", i, before, after)
		}
		if hits() == hitsBefore {
			t.Errorf("request %d: the engine holding the prefix (%s) had no prefix cache hit", i, holder.Name)
		}
	}
	if n := f.metric(t, `tandem_router_exact_token_sources_total{source="engine"}`); n < 2 {
		t.Errorf("%g requests tokenized by the engine, want at least 2 (the first and the new question)", n)
	}
	if n := f.metric(t, `tandem_router_exact_token_sources_total{source="cache"}`); n < 1 {
		t.Errorf("%g repeated prompts answered from the token cache, want at least 1", n)
	}
}

// By default the router calls /tokenize only when its approximate index
// cannot decide: a prompt nobody holds and a prompt one engine holds whole
// skip it; a prompt sharing part of a held one is tokenized.
func TestExactModeSkipsTokenizeWhenDecided(t *testing.T) {
	_, eps := exactFleet(t, 2)
	f := startRouter(t, exactConfig(), eps)
	waitExact(t, f, eps)
	source := func(s string) float64 {
		return f.metric(t, `tandem_router_exact_token_sources_total{source="`+s+`"}`)
	}
	f.postOK(t, "/v1/chat/completions", sharedPrefixChat(0))
	if source("skipped-no-prefix") != 1 {
		t.Errorf("a prompt nobody holds: skipped-no-prefix %g, want 1", source("skipped-no-prefix"))
	}
	f.postOK(t, "/v1/chat/completions", sharedPrefixChat(0))
	if source("skipped-whole-prompt") != 1 {
		t.Errorf("a repeated prompt: skipped-whole-prompt %g, want 1", source("skipped-whole-prompt"))
	}
	// A new question of several blocks after the shared system prompt.
	f.postOK(t, "/v1/chat/completions", strings.Replace(sharedPrefixChat(1), "Question number", strings.Repeat("A longer question ", 10), 1))
	if source("engine") != 1 {
		t.Errorf("a prompt sharing its system prompt: engine %g, want 1", source("engine"))
	}
	if calls := f.metric(t, `tandem_router_tokenize_duration_seconds_count{result="ok"}`); calls != 1 {
		t.Errorf("%g tokenize calls, want 1", calls)
	}
	// Unrelated prompts spread over both engines: the array and the map
	// layout are both indexed.
	i := 0
	waitFor(t, "blocks from both engines' events", func() bool {
		i++
		f.postOK(t, "/v1/completions", completionBody(strings.Repeat("unrelated prompt "+strconv.Itoa(i)+" ", 12), ""))
		for _, e := range f.rt.Registry().Snapshot().All {
			if e.Exact.Len() == 0 {
				return false
			}
		}
		return true
	})
}

// A tokenizer that does not answer in time never fails a request: it is
// routed by the approximate index and the fallback is counted.
func TestExactModeTokenizeTimeoutFallsBack(t *testing.T) {
	_, eps := exactFleet(t, 2)
	cfg := exactConfig()
	cfg.KVEvents.TokenizeWhen = "always"
	cfg.KVEvents.TokenizeTimeout = Duration{time.Nanosecond}
	f := startRouter(t, cfg, eps)
	waitExact(t, f, eps)
	for i := range 3 {
		f.postOK(t, "/v1/chat/completions", sharedPrefixChat(i))
	}
	if n := f.metric(t, `tandem_router_tokenize_fallbacks_total{reason="timeout"}`); n != 3 {
		t.Errorf("timeout fallbacks %g, want 3", n)
	}
}

// Blocks an engine reports in its CPU tier (medium "CPU", as vLLM's
// OffloadingConnector publishes) are misses, not hits, but cheaper ones:
// between two idle engines the one holding the prompt offloaded wins.
func TestExactModeOffloadedBlocksAreCheaperMisses(t *testing.T) {
	var eps []endpoint.Spec
	pubs := map[string]*kvevents.Publisher{}
	var engine *sim.Engine
	for _, name := range []string{"a", "b"} {
		e := startEngine(t)
		engine = e
		pub, err := kvevents.NewPublisher("tcp://127.0.0.1:0", "kv-events")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pub.Close() })
		s := named(e, name)
		s.KVEventsPort = kvPort(t, pub.Endpoint())
		eps, pubs[name] = append(eps, s), pub
	}
	cfg := exactConfig()
	cfg.KVEvents.TokenizeWhen = "always"
	cfg.Profile = noExplore()
	f := startRouter(t, cfg, eps)
	waitExact(t, f, eps)
	for _, p := range pubs {
		waitFor(t, "the subscriber at the publisher", func() bool { return len(p.Subscribers()) > 0 })
	}
	for i, holder := range []string{"a", "b", "b", "a"} {
		body := strings.Replace(sharedPrefixChat(100+i), "Question number", strings.Repeat("Question "+strconv.Itoa(i)+" asks ", 8), 1) // a block of its own
		toks := engineTokens(t, engine, body)
		bs := cfg.KVEvents.BlockTokens
		ev := kvevents.Event{Kind: kvevents.BlockStored, TokenIDs: toks[:len(toks)/bs*bs], BlockSize: bs, Medium: "CPU"}
		for j := range len(toks) / bs {
			ev.BlockHashes = append(ev.BlockHashes, uint64(i)<<32|uint64(j)+1)
		}
		e := f.rt.Registry().Snapshot().Endpoint(holder)
		before := e.Exact.Len()
		pubs[holder].Publish(kvevents.Batch{TS: 1, Events: []kvevents.Event{ev}})
		waitFor(t, "the offloaded blocks in "+holder+"'s index", func() bool { return e.Exact.Len() > before })
		if got := f.postOK(t, "/v1/chat/completions", body); got != holder {
			t.Errorf("prompt %d went to %s, not to %s which holds it offloaded", i, got, holder)
		}
	}
	if n := f.metric(t, `tandem_router_picks_total{policy="custom",reason="cache-affinity"}`); n != 0 {
		t.Errorf("%g picks for cache affinity: offloaded blocks counted as hits", n)
	}
}

// A conversation's next turn reuses the tokens of its history from the
// token cache instead of tokenizing it again; the background check against
// the engine agrees (the simulator's template only appends).
func TestExactModeReusesConversationTokens(t *testing.T) {
	_, eps := exactFleet(t, 2)
	cfg := exactConfig()
	cfg.KVEvents.TokenizeWhen = "always"
	f := startRouter(t, cfg, eps)
	waitExact(t, f, eps)
	history := `{"role":"system","content":"` + systemPrompt + `"},{"role":"user","content":"First question, with some detail to it."}`
	turn := func(msgs string) string { return `{"model":"test-model","max_tokens":2,"messages":[` + msgs + `]}` }
	f.postOK(t, "/v1/chat/completions", turn(history))
	history += `,{"role":"assistant","content":"An answer."},{"role":"user","content":"A follow-up question."}`
	f.postOK(t, "/v1/chat/completions", turn(history))
	source := func(s string) float64 {
		return f.metric(t, `tandem_router_exact_token_sources_total{source="`+s+`"}`)
	}
	if source("engine") != 1 || source("prefix-cache") != 1 {
		t.Errorf("engine %g, prefix-cache %g; want 1 each", source("engine"), source("prefix-cache"))
	}
	f.rt.tokenizer.Wait()
	if !f.rt.tokenizer.PrefixReuse(testModel) {
		t.Error("the check against the engine turned prefix reuse off")
	}
	// The check cached the second turn whole.
	f.postOK(t, "/v1/chat/completions", turn(history))
	if source("cache") != 1 {
		t.Errorf("cache %g after the check, want 1", source("cache"))
	}
}

// engineTokens asks e's /tokenize for a chat body's messages, as the router
// does.
func engineTokens(t *testing.T, e *sim.Engine, chatBody string) []uint32 {
	t.Helper()
	var req struct {
		Messages json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal([]byte(chatBody), &req); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"messages": req.Messages, "add_generation_prompt": true})
	hreq, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.URL()+"/tokenize", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct{ Tokens []uint32 }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Tokens) == 0 {
		t.Fatalf("tokenize: %v, %d tokens", err, len(out.Tokens))
	}
	return out.Tokens
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
	if n := f.metric(t, `tandem_router_exact_token_sources_total{source="skipped-degraded"}`); n < 1 {
		t.Errorf("skipped-degraded %g: a degraded index still costs a tokenize call", n)
	}
}
