package peers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/endpoint"
)

func registry(t *testing.T, names ...string) *endpoint.Registry {
	t.Helper()
	reg := endpoint.NewRegistry(endpoint.Options{IndexBlocks: 100, BlockBytes: 64, BytesPerToken: 4, RatePrior: 10000})
	var specs []endpoint.Spec
	for i, n := range names {
		s := endpoint.Spec{Name: n, Address: "127.0.0.1:" + string(rune('1'+i)) + "000", Models: []string{"m"}}
		if err := s.Normalize(); err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	reg.Update(specs)
	return reg
}

type peerLoad struct{ InFlight, Pending, QueuedTokens int64 }

func peerLoadOf(e *endpoint.Endpoint) peerLoad {
	return peerLoad{e.Peers.InFlight.Load(), e.Peers.Pending.Load(), e.Peers.QueuedTokens.Load()}
}

func TestLoadsSumFreshPeersAndExpire(t *testing.T) {
	reg := registry(t, "e0", "e1")
	x := New(Config{ID: "me", TTL: time.Second}, reg, logr.Discard())
	now := time.Unix(100, 0)
	x.apply(&Batch{From: "a", Sent: now, Loads: []Load{{Endpoint: "e0", InFlight: 2, Pending: 1, QueuedTokens: 300}}}, now)
	x.apply(&Batch{From: "b", Sent: now, Loads: []Load{
		{Endpoint: "e0", InFlight: 1, Pending: 1, QueuedTokens: 100}, {Endpoint: "e1", InFlight: 4}, {Endpoint: "gone", InFlight: 9},
	}}, now.Add(500*time.Millisecond))
	snap := reg.Snapshot()
	e0, e1 := snap.Endpoint("e0"), snap.Endpoint("e1")
	steps := []struct {
		name   string
		at     time.Time
		e0, e1 peerLoad
	}{
		{"both peers fresh: their loads add up", now.Add(900 * time.Millisecond), peerLoad{3, 2, 400}, peerLoad{4, 0, 0}},
		{"a's report is older than the TTL: only b counts", now.Add(1200 * time.Millisecond), peerLoad{1, 1, 100}, peerLoad{4, 0, 0}},
		{"both silent: no peer load", now.Add(2 * time.Second), peerLoad{}, peerLoad{}},
	}
	for _, s := range steps {
		x.sumLoads(s.at)
		if diff := cmp.Diff([]peerLoad{s.e0, s.e1}, []peerLoad{peerLoadOf(e0), peerLoadOf(e1)}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}
	if got := e0.InFlight.Load(); got != 0 {
		t.Errorf("the replica's own in-flight count changed to %d", got)
	}
}

func TestBatchTeachesIndexAndIsNotEchoed(t *testing.T) {
	reg := registry(t, "e0")
	x := New(Config{ID: "me"}, reg, logr.Discard())
	e0 := reg.Snapshot().Endpoint("e0")
	e0.Index.Observe(func(h []uint64) { x.Record(e0, h) })
	x.apply(&Batch{From: "a", Chains: []Chain{{Endpoint: "e0", Hashes: []uint64{1, 2, 3}}, {Endpoint: "unknown", Hashes: []uint64{4}}}}, time.Now())
	if got := e0.Index.Match([]uint64{1, 2, 3}); got != 3 {
		t.Errorf("Match = %d, want 3 learned blocks", got)
	}
	if got := x.stats.learned.Load(); got != 3 {
		t.Errorf("learned = %d, want 3 (the unknown endpoint's block is skipped)", got)
	}
	x.mu.Lock()
	queued := len(x.spans)
	x.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d learned chains queued to be sent on; want none", queued)
	}
	e0.Index.Insert([]uint64{8, 9})
	peer := &sender{addr: "peer", queue: make(chan []byte, 1)}
	x.target[peer.addr] = peer
	x.push(time.Now(), nil)
	b, err := Decode(<-peer.queue)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Chain{{Endpoint: "e0", Hashes: []uint64{8, 9}}}, b.Chains); diff != "" {
		t.Errorf("pushed chains (-want +got):\n%s", diff)
	}
}

func TestTokenAndSelf(t *testing.T) {
	reg := registry(t, "e0")
	x := New(Config{ID: "me", Token: "s3cret"}, reg, logr.Discard())
	srv := httptest.NewServer(x)
	defer srv.Close()
	body := (&Batch{From: "other", Loads: []Load{{Endpoint: "e0", InFlight: 1}}}).AppendTo(nil)
	cases := []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"the shared token", "Bearer s3cret", http.StatusNoContent},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+BatchPath, strings.NewReader(string(body)))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// The exchange finds its own address among its peers and drops it.
	x.cfg.Static = []string{strings.TrimPrefix(srv.URL, "http://")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { x.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(x.addresses()) != 0 || !x.isSelf(x.cfg.Static[0]) {
		if time.Now().After(deadline) {
			t.Fatal("the exchange kept its own address as a peer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func (x *Exchange) isSelf(addr string) bool {
	x.pmu.Lock()
	defer x.pmu.Unlock()
	return x.self[addr]
}

func TestIdleIntervalsSendOnlyHeartbeats(t *testing.T) {
	reg := registry(t, "e0")
	x := New(Config{ID: "me", TTL: time.Second}, reg, logr.Discard())
	e0 := reg.Snapshot().Endpoint("e0")
	e0.Index.Observe(func(h []uint64) { x.Record(e0, h) })
	peer := &sender{addr: "peer", queue: make(chan []byte, 16)}
	x.target[peer.addr] = peer
	t0 := time.Unix(100, 0)
	steps := []struct {
		name string
		at   time.Duration
		do   func()
		sent bool
	}{
		{"the first interval is sent", 0, func() {}, true},
		{"nothing new: not sent", 25 * time.Millisecond, func() {}, false},
		{"an insertion is sent", 50 * time.Millisecond, func() { e0.Index.Insert([]uint64{1}) }, true},
		{"a load change is sent", 75 * time.Millisecond, func() { e0.InFlight.Add(1) }, true},
		{"still nothing new: not sent", 100 * time.Millisecond, func() {}, false},
		{"a quarter TTL after the last: a heartbeat", 325 * time.Millisecond, func() {}, true},
	}
	for _, s := range steps {
		s.do()
		x.push(t0.Add(s.at), nil)
		sent := len(peer.queue) > 0
		for len(peer.queue) > 0 {
			<-peer.queue
		}
		if sent != s.sent {
			t.Errorf("%s: sent %v, want %v", s.name, sent, s.sent)
		}
	}
}
