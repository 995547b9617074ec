package peers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// Paths of the exchange on the peers listener.
const (
	BatchPath    = "/peers/v1/batch"
	SnapshotPath = "/peers/v1/snapshot"
	// ReplicaHeader carries the answering replica's id, so a replica that
	// finds itself among its peers (its own Service address, a static list
	// shared by every replica) stops sending to itself.
	ReplicaHeader = "X-Tandem-Replica"
)

// Config tunes the exchange; zero fields take the defaults below.
type Config struct {
	// Static are peers' host:port; Service is a DNS name (the router's
	// headless Service) resolved every Resolve to the peers' addresses,
	// each at Port.
	Static  []string
	Service string
	Port    int
	Resolve time.Duration
	// Interval is the push period: the delay before another replica
	// knows what this one routed.
	Interval time.Duration
	// TTL is how long a replica's reported load counts after its last
	// batch: longer, and a departed replica's requests linger; shorter,
	// and a slow network drops live ones.
	TTL time.Duration
	// Token, if set, must be sent by every peer (Authorization: Bearer).
	Token string
	// MaxBatchHashes bounds one batch's insertions; more in one interval
	// are dropped (the next insertions of the same prompts repair it).
	MaxBatchHashes int
	// SnapshotBlocks bounds the blocks per endpoint in a snapshot.
	SnapshotBlocks int
	// ID names this replica (default: hostname and a random suffix).
	ID string
}

// Defaults.
const (
	DefaultInterval       = 25 * time.Millisecond
	DefaultTTL            = time.Second
	DefaultResolve        = 5 * time.Second
	DefaultMaxBatchHashes = 1 << 18
	DefaultSnapshotBlocks = 1 << 18 // 2 MiB of hashes per endpoint
	// forgetAfter drops a silent peer's state (and its metric series).
	forgetAfter = time.Minute
	// snapshotRetry and snapshotFor: how often and how long a starting
	// replica asks its peers for a snapshot.
	snapshotRetry = 500 * time.Millisecond
	snapshotFor   = 30 * time.Second
	// queueDepth is the batches waiting for one peer; a peer slower than
	// that loses batches rather than holding this replica's memory.
	queueDepth = 8
)

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.Resolve <= 0 {
		c.Resolve = DefaultResolve
	}
	if c.MaxBatchHashes <= 0 {
		c.MaxBatchHashes = DefaultMaxBatchHashes
	}
	if c.SnapshotBlocks <= 0 {
		c.SnapshotBlocks = DefaultSnapshotBlocks
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		c.ID = host + "/" + hex.EncodeToString(b[:])
	}
}

// Exchange shares this replica's index insertions and load with its peers
// and applies theirs. Record is called on the request path; the rest runs
// in Run and the HTTP handler.
type Exchange struct {
	cfg Config
	reg *endpoint.Registry
	log logr.Logger
	hc  *http.Client

	// mu guards the insertions since the last batch: hashes end to end,
	// spans naming each chain's endpoint.
	mu      sync.Mutex
	hashes  []uint64
	spans   []span
	dropped int64

	// pmu guards what peers reported.
	pmu    sync.Mutex
	from   map[string]*report
	target map[string]*sender // by address
	self   map[string]bool    // addresses found to be this replica

	// lastLoads and lastPush are the loads of the last batch pushed and
	// when: an interval with no insertion and the same loads sends
	// nothing, except a heartbeat every TTL/4 that keeps the loads alive.
	lastLoads []Load
	lastPush  time.Time

	stats stats
}

type span struct {
	e *endpoint.Endpoint
	n int
}

// report is the last batch from one peer.
type report struct {
	received time.Time
	sent     time.Time
	loads    []Load
}

// stats are the exchange's counters, read by the metrics collector.
type stats struct {
	learned, sent, failed, dropped, snapshots atomic.Int64
}

// New returns an exchange over the endpoints of reg.
func New(cfg Config, reg *endpoint.Registry, log logr.Logger) *Exchange {
	cfg.defaults()
	return &Exchange{
		cfg: cfg, reg: reg, log: log,
		hc: &http.Client{
			Timeout: 2 * time.Second,
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     90 * time.Second,
			},
		},
		from: map[string]*report{}, target: map[string]*sender{}, self: map[string]bool{},
	}
}

// ID is this replica's id.
func (x *Exchange) ID() string { return x.cfg.ID }

// Record queues an insertion into e's index for the next batch. It copies
// hashes.
func (x *Exchange) Record(e *endpoint.Endpoint, hashes []uint64) {
	x.mu.Lock()
	if len(x.hashes)+len(hashes) > x.cfg.MaxBatchHashes {
		x.dropped++
		x.mu.Unlock()
		return
	}
	x.hashes = append(x.hashes, hashes...)
	x.spans = append(x.spans, span{e: e, n: len(hashes)})
	x.mu.Unlock()
}

// Run resolves peers, pushes a batch every interval, sums the peers'
// loads into the endpoints and, once, pulls a snapshot, until ctx ends.
func (x *Exchange) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	defer x.stopSenders()
	x.resolve(ctx, &wg)
	wg.Add(1)
	go func() {
		defer wg.Done()
		x.pullSnapshot(ctx)
	}()
	tick := time.NewTicker(x.cfg.Interval)
	defer tick.Stop()
	resolve := time.NewTicker(x.cfg.Resolve)
	defer resolve.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-resolve.C:
			x.resolve(ctx, &wg)
		case now := <-tick.C:
			buf = x.push(now, buf)
			x.sumLoads(now)
		}
	}
}

// push encodes the batch of this interval and queues it for every peer;
// with no peer it only empties the buffer.
func (x *Exchange) push(now time.Time, buf []byte) []byte {
	x.pmu.Lock()
	targets := make([]*sender, 0, len(x.target))
	for _, s := range x.target {
		targets = append(targets, s)
	}
	x.pmu.Unlock()
	if len(targets) == 0 {
		x.mu.Lock()
		x.hashes, x.spans, x.dropped = x.hashes[:0], x.spans[:0], 0
		x.mu.Unlock()
		return buf
	}
	b := Batch{From: x.cfg.ID, Sent: now, Loads: x.ownLoads()}
	x.mu.Lock()
	if len(x.spans) == 0 && slices.Equal(b.Loads, x.lastLoads) && now.Sub(x.lastPush) < x.cfg.TTL/4 {
		x.mu.Unlock()
		return buf // nothing new: the peers' view is current
	}
	x.lastLoads, x.lastPush = b.Loads, now
	off := 0
	for _, s := range x.spans {
		b.Chains = append(b.Chains, Chain{Endpoint: s.e.Name, Hashes: x.hashes[off : off+s.n]})
		off += s.n
	}
	buf = b.AppendTo(buf[:0])
	x.hashes, x.spans = x.hashes[:0], x.spans[:0]
	if x.dropped > 0 {
		x.stats.dropped.Add(x.dropped)
		x.dropped = 0
	}
	x.mu.Unlock()
	body := slices.Clone(buf) // one copy for every sender: they only read it
	for _, s := range targets {
		select {
		case s.queue <- body:
		default:
			x.stats.dropped.Add(1)
		}
	}
	return buf
}

// ownLoads are this replica's own counters at each endpoint.
func (x *Exchange) ownLoads() []Load {
	var out []Load
	for _, e := range x.reg.Snapshot().All {
		l := Load{Endpoint: e.Name, InFlight: e.InFlight.Load(), Pending: e.Pending.Load(), QueuedTokens: e.QueuedTokens.Load()}
		if l.InFlight != 0 || l.Pending != 0 || l.QueuedTokens != 0 {
			out = append(out, l)
		}
	}
	return out
}

// sumLoads stores in every endpoint the sum of the fresh peers' loads, and
// forgets peers silent for long.
func (x *Exchange) sumLoads(now time.Time) {
	type sum struct{ inFlight, pending, queued int64 }
	sums := map[string]*sum{}
	x.pmu.Lock()
	for id, r := range x.from {
		age := now.Sub(r.received)
		if age > forgetAfter {
			delete(x.from, id)
		}
		if age > x.cfg.TTL {
			continue
		}
		for _, l := range r.loads {
			s := sums[l.Endpoint]
			if s == nil {
				s = &sum{}
				sums[l.Endpoint] = s
			}
			s.inFlight += l.InFlight
			s.pending += l.Pending
			s.queued += l.QueuedTokens
		}
	}
	x.pmu.Unlock()
	for _, e := range x.reg.Snapshot().All {
		var s sum
		if p := sums[e.Name]; p != nil {
			s = *p
		}
		e.Peers.InFlight.Store(s.inFlight)
		e.Peers.Pending.Store(s.pending)
		e.Peers.QueuedTokens.Store(s.queued)
	}
}

// apply takes in a peer's batch.
func (x *Exchange) apply(b *Batch, now time.Time) {
	snap := x.reg.Snapshot()
	var learned int64
	for _, c := range b.Chains {
		e := snap.Endpoint(c.Endpoint)
		if e == nil {
			continue // an endpoint this replica does not (yet) know
		}
		if b.Snapshot {
			e.Index.Import(c.Hashes)
		} else {
			e.Index.Learn(c.Hashes)
		}
		learned += int64(len(c.Hashes))
	}
	x.stats.learned.Add(learned)
	if b.Snapshot {
		return // a snapshot's loads are as old as the pull; batches follow
	}
	x.pmu.Lock()
	r := x.from[b.From]
	if r == nil {
		r = &report{}
		x.from[b.From] = r
	}
	r.received, r.sent, r.loads = now, b.Sent, b.Loads
	x.pmu.Unlock()
}

// snapshot is this replica's whole index, as a batch.
func (x *Exchange) snapshot(now time.Time) Batch {
	b := Batch{From: x.cfg.ID, Sent: now, Snapshot: true}
	for _, e := range x.reg.Snapshot().All {
		if h := e.Index.Export(nil, x.cfg.SnapshotBlocks); len(h) > 0 {
			b.Chains = append(b.Chains, Chain{Endpoint: e.Name, Hashes: h})
		}
	}
	return b
}

// ServeHTTP answers a peer's batch (POST BatchPath) and snapshot request
// (GET SnapshotPath).
func (x *Exchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(ReplicaHeader, x.cfg.ID)
	if !x.authorized(r) {
		http.Error(w, "peer token required", http.StatusUnauthorized)
		return
	}
	switch {
	case r.URL.Path == BatchPath && r.Method == http.MethodPost:
		buf := batchBufs.Get().(*bytes.Buffer)
		defer putBatchBuf(buf)
		buf.Reset()
		if _, err := buf.ReadFrom(io.LimitReader(r.Body, 64<<20)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, err := Decode(buf.Bytes()) // copies what it keeps
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if b.From != x.cfg.ID {
			x.apply(&b, time.Now())
		}
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == SnapshotPath && r.Method == http.MethodGet:
		b := x.snapshot(time.Now())
		body := b.AppendTo(nil)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	default:
		http.NotFound(w, r)
	}
}

// batchBufs are the buffers peers' batches are read into, one per batch
// being applied: 80 a second at three replicas.
var batchBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBatchBuf pools buf unless one huge batch grew it.
func putBatchBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 1<<20 {
		batchBufs.Put(buf)
	}
}

func (x *Exchange) authorized(r *http.Request) bool {
	if x.cfg.Token == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	return subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+x.cfg.Token)) == 1
}

func (x *Exchange) newRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if x.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+x.cfg.Token)
	}
	return req, nil
}

// errSelf says an address answered with this replica's own id.
var errSelf = errors.New("the address is this replica")

// call sends one request to a peer and returns the body of a 2xx answer.
func (x *Exchange) call(ctx context.Context, method, addr, path string, body []byte) ([]byte, error) {
	req, err := x.newRequest(ctx, method, "http://"+addr+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := x.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if resp.Header.Get(ReplicaHeader) == x.cfg.ID {
		x.pmu.Lock()
		x.self[addr] = true
		x.pmu.Unlock()
		return nil, errSelf
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("peer %s: %s: %s", addr, resp.Status, bytes.TrimSpace(data))
	}
	return data, err
}

// pullSnapshot asks the peers, in turn, for a snapshot until one answers,
// once the registry has endpoints to put it in. A replica with no
// reachable peer gives up after snapshotFor and learns from batches.
func (x *Exchange) pullSnapshot(ctx context.Context) {
	deadline := time.Now().Add(snapshotFor)
	for time.Now().Before(deadline) {
		if len(x.reg.Snapshot().All) > 0 {
			for _, addr := range x.addresses() {
				data, err := x.call(ctx, http.MethodGet, addr, SnapshotPath, nil)
				if err != nil {
					x.log.V(1).Info("Peer snapshot failed", "peer", addr, "err", err.Error())
					continue
				}
				b, err := Decode(data)
				if err != nil {
					x.log.V(1).Info("Peer snapshot unreadable", "peer", addr, "err", err.Error())
					continue
				}
				x.apply(&b, time.Now())
				x.stats.snapshots.Add(1)
				x.log.Info("Learned a peer's prefix index", "peer", addr, "endpoints", len(b.Chains))
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(snapshotRetry):
		}
	}
}

func (x *Exchange) addresses() []string {
	x.pmu.Lock()
	defer x.pmu.Unlock()
	out := make([]string, 0, len(x.target))
	for a := range x.target {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// sender pushes batches to one peer address, one at a time over a
// keep-alive connection.
type sender struct {
	addr   string
	queue  chan []byte
	cancel context.CancelFunc
}

func (x *Exchange) runSender(ctx context.Context, s *sender) {
	for {
		select {
		case <-ctx.Done():
			return
		case body := <-s.queue:
			_, err := x.call(ctx, http.MethodPost, s.addr, BatchPath, body)
			switch {
			case errors.Is(err, errSelf):
				x.removeTarget(s.addr)
				return
			case err != nil:
				x.stats.failed.Add(1)
				x.log.V(2).Info("Peer batch failed", "peer", s.addr, "err", err.Error())
			default:
				x.stats.sent.Add(1)
			}
		}
	}
}

// resolve updates the peer addresses: the static list plus the Service's
// addresses; a failed lookup keeps the last set.
func (x *Exchange) resolve(ctx context.Context, wg *sync.WaitGroup) {
	want := map[string]bool{}
	for _, a := range x.cfg.Static {
		want[a] = true
	}
	if x.cfg.Service != "" {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		hosts, err := net.DefaultResolver.LookupHost(lctx, x.cfg.Service)
		cancel()
		if err != nil {
			x.log.V(1).Info("Peer lookup failed; keeping the last peers", "service", x.cfg.Service, "err", err.Error())
			return
		}
		for _, h := range hosts {
			want[net.JoinHostPort(h, strconv.Itoa(x.cfg.Port))] = true
		}
	}
	x.pmu.Lock()
	defer x.pmu.Unlock()
	for a, s := range x.target {
		if !want[a] {
			s.cancel()
			delete(x.target, a)
		}
	}
	for a := range want {
		if x.target[a] != nil || x.self[a] {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		s := &sender{addr: a, queue: make(chan []byte, queueDepth), cancel: cancel}
		x.target[a] = s
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.runSender(sctx, s)
		}()
	}
}

func (x *Exchange) removeTarget(addr string) {
	x.pmu.Lock()
	if s := x.target[addr]; s != nil {
		s.cancel()
		delete(x.target, addr)
	}
	x.pmu.Unlock()
}

func (x *Exchange) stopSenders() {
	x.pmu.Lock()
	for a, s := range x.target {
		s.cancel()
		delete(x.target, a)
	}
	x.pmu.Unlock()
}
