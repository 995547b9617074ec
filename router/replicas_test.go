package router

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/prefix"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/schedule"
)

// replica is one router of a replicated set: its API and its peer
// exchange, both on real loopback sockets.
type replica struct {
	*fixture
	peerAddr string
	stop     func()
}

// peerListeners reserves n loopback addresses for the replicas' exchanges,
// so that every replica's static peer list can name all of them.
func peerListeners(t *testing.T, n int) []net.Listener {
	t.Helper()
	out := make([]net.Listener, n)
	for i := range out {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ln
	}
	return out
}

func addrs(lns []net.Listener) []string {
	out := make([]string, len(lns))
	for i, ln := range lns {
		out[i] = ln.Addr().String()
	}
	return out
}

func peersConfig(self string, static []string) Config {
	cfg := testConfig()
	cfg.Peers = PeersConfig{Address: self, Static: static, Interval: Duration{10 * time.Millisecond}, TTL: Duration{500 * time.Millisecond}}
	return cfg
}

// startReplica runs a router with its exchange on ln; stop ends both (and
// is also a cleanup).
func startReplica(t *testing.T, cfg Config, eps []endpoint.Spec, ln net.Listener) *replica {
	t.Helper()
	rt, err := New(cfg, Options{Plugins: schedule.DefaultPlugins()})
	if err != nil {
		t.Fatal(err)
	}
	rt.Registry().Update(eps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { rt.Run(ctx); done <- struct{}{} }()
	go func() { _ = rt.ServePeers(ctx, ln); done <- struct{}{} }()
	srv := httptest.NewServer(rt)
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		srv.Close()
		cancel()
		<-done
		<-done
	}
	t.Cleanup(stop)
	return &replica{fixture: &fixture{rt: rt, url: srv.URL}, peerAddr: ln.Addr().String(), stop: stop}
}

// conversation is a chat whose every turn resends all earlier turns.
type conversation struct{ msgs []map[string]string }

func (c *conversation) next(turn int) string {
	if turn == 0 {
		c.msgs = append(c.msgs, map[string]string{"role": "system", "content": systemPrompt})
	} else {
		c.msgs = append(c.msgs, map[string]string{"role": "assistant", "content": strings.Repeat(fmt.Sprintf("answer %d. ", turn), 20)})
	}
	c.msgs = append(c.msgs, map[string]string{"role": "user", "content": strings.Repeat(fmt.Sprintf("question %d? ", turn), 20)})
	b, _ := json.Marshal(map[string]any{"model": testModel, "max_tokens": 2, "messages": c.msgs})
	return string(b)
}

// enginesUsed counts the engines that computed any prompt.
func enginesUsed(engines []*sim.Engine) int {
	n := 0
	for _, e := range engines {
		if e.Snapshot().Stats.PromptTokens > 0 {
			n++
		}
	}
	return n
}

// A conversation whose turns go to the three replicas in turn (what a
// Service does) stays on the engine of its first turn: each replica knows
// what the others routed.
func TestReplicasRouteAConversationAsOne(t *testing.T) {
	var engines []*sim.Engine
	for range 4 {
		engines = append(engines, startEngine(t))
	}
	lns := peerListeners(t, 3)
	var reps []*replica
	for _, ln := range lns {
		reps = append(reps, startReplica(t, peersConfig(ln.Addr().String(), addrs(lns)), specs(engines...), ln))
	}
	for _, r := range reps {
		waitFor(t, "every replica to hear from both others", func() bool {
			return r.metric(t, "tandem_router_peers_known") == 2
		})
	}
	var conv conversation
	for turn := range 6 {
		r, next := reps[turn%3], reps[(turn+1)%3]
		body := conv.next(turn)
		if resp, b := r.post(t, "/v1/chat/completions", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("turn %d: %d %s", turn, resp.StatusCode, b)
		}
		// The next turn comes after this one's answer, later than one
		// exchange interval: wait until the next replica has learned it.
		hashes := promptHashes(t, next.rt, body)
		waitFor(t, "the next replica to learn the turn", func() bool { return knowsPrefix(next.rt, hashes) })
	}
	if n := enginesUsed(engines); n != 1 {
		t.Errorf("the conversation's turns ran on %d engines, want 1", n)
	}
	var hits, queried uint64
	for _, e := range engines {
		s := e.Snapshot().Stats
		hits, queried = hits+s.PrefixHits, queried+s.PrefixQueries
	}
	if float64(hits) < 0.5*float64(queried) {
		t.Errorf("engine prefix hits %d of %d tokens; want most of the resent turns cached", hits, queried)
	}
	for i, r := range reps {
		if v := r.metric(t, "tandem_router_peer_index_entries_learned_total"); v == 0 {
			t.Errorf("replica %d learned no index entries", i)
		}
		if v := r.metric(t, `tandem_router_peer_batches_total{result="failed"}`); v != 0 {
			t.Errorf("replica %d: %g failed batches among live peers", i, v)
		}
	}
}

// A replica restarted mid-conversation pulls a snapshot from a peer and
// routes the next turn to the conversation's engine, within a bound.
func TestRestartedReplicaRelearnsFromSnapshot(t *testing.T) {
	var engines []*sim.Engine
	for range 4 {
		engines = append(engines, startEngine(t))
	}
	lns := peerListeners(t, 3)
	all := addrs(lns)
	var reps []*replica
	for _, ln := range lns {
		reps = append(reps, startReplica(t, peersConfig(ln.Addr().String(), all), specs(engines...), ln))
	}
	var conv conversation
	body := ""
	for turn := range 3 {
		body = conv.next(turn)
		if resp, b := reps[0].post(t, "/v1/chat/completions", body); resp.StatusCode != http.StatusOK {
			t.Fatalf("turn %d: %d %s", turn, resp.StatusCode, b)
		}
	}
	// Both live peers know the conversation before the restart, so the
	// snapshot has it whichever of them answers first (a batch still on its
	// way to replica 1 is not what this test measures).
	for peerHashes, until := promptHashes(t, reps[1].rt, body), time.Now().Add(10*time.Second); !knowsPrefix(reps[1].rt, peerHashes); {
		if time.Now().After(until) {
			t.Fatal("replica 1 did not learn the conversation from replica 0 within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	reps[2].stop()
	ln, err := net.Listen("tcp", all[2]) // the same address: peers keep sending there
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	restarted := startReplica(t, peersConfig(all[2], all), specs(engines...), ln)
	hashes := promptHashes(t, restarted.rt, body)
	const bound = 10 * time.Second // a liveness bound under -race on 2 cores; the time is logged
	for !knowsPrefix(restarted.rt, hashes) {
		if time.Since(start) > bound {
			t.Fatalf("the restarted replica did not relearn the conversation within %s", bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("relearned in %s", time.Since(start).Round(time.Millisecond))
	if v := restarted.metric(t, "tandem_router_peer_snapshots_total"); v != 1 {
		t.Errorf("snapshots pulled = %g, want 1", v)
	}
	if resp, b := restarted.post(t, "/v1/chat/completions", conv.next(3)); resp.StatusCode != http.StatusOK {
		t.Fatalf("turn 3: %d %s", resp.StatusCode, b)
	}
	if n := enginesUsed(engines); n != 1 {
		t.Errorf("the conversation ran on %d engines, want 1", n)
	}
}

// promptHashes are the block hashes the router computes for a chat body.
func promptHashes(t *testing.T, rt *Router, body string) []uint64 {
	t.Helper()
	var req request.Request
	if err := request.Parse(request.Chat, []byte(body), &req); err != nil {
		t.Fatal(err)
	}
	return prefix.AppendHashes(nil, prefix.Seed(testModel), req.Prompt, rt.cfg.Prefix.BlockBytes)
}

// knowsPrefix reports whether some endpoint's index holds all of hashes.
func knowsPrefix(rt *Router, hashes []uint64) bool {
	for _, e := range rt.Registry().Snapshot().All {
		if e.Index.Match(hashes) == len(hashes) {
			return true
		}
	}
	return false
}

// With every peer unreachable a replica routes on its own knowledge: every
// request succeeds and a conversation still stays on one engine.
func TestUnreachablePeersDegradeToLocalRouting(t *testing.T) {
	var engines []*sim.Engine
	for range 4 {
		engines = append(engines, startEngine(t))
	}
	lns := peerListeners(t, 3)
	dead := addrs(lns[1:])
	for _, ln := range lns[1:] {
		_ = ln.Close() // nothing listens there any more
	}
	r := startReplica(t, peersConfig(lns[0].Addr().String(), dead), specs(engines...), lns[0])
	var conv conversation
	for turn := range 5 {
		if resp, body := r.post(t, "/v1/chat/completions", conv.next(turn)); resp.StatusCode != http.StatusOK {
			t.Fatalf("turn %d: %d %s", turn, resp.StatusCode, body)
		}
	}
	if n := enginesUsed(engines); n != 1 {
		t.Errorf("the conversation ran on %d engines, want 1", n)
	}
	waitFor(t, "failed pushes to be counted", func() bool {
		return r.metric(t, `tandem_router_peer_batches_total{result="failed"}`) > 0
	})
	if v := r.metric(t, "tandem_router_peers_known"); v != 0 {
		t.Errorf("peers known = %g, want 0", v)
	}
}
