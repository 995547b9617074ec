package routerbench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sigs.k8s.io/yaml"
)

// With PoliciesConfig.Replicas set, every policy runs once per replica
// count, labelled POLICY/rN: N tandem-router processes that exchange what
// they routed (router/peers, a static peer list on loopback) behind a
// round-robin front in this process, which is what a Service in front of N
// replicas does to a client's requests. Every count goes through the
// front, one replica too, so the front's cost is alike. A count written
// N-alone runs N replicas without the exchange (each knows only what it
// routed itself): the case the exchange is for, and the baseline of its
// CPU cost.

const (
	replicaSep = "/r"
	aloneTag   = "-alone"
)

// Replicas is one entry of --replicas.
type Replicas struct {
	N int
	// Alone turns the exchange off.
	Alone bool
}

func (r Replicas) String() string {
	if r.Alone {
		return strconv.Itoa(r.N) + aloneTag
	}
	return strconv.Itoa(r.N)
}

// replicaLabels are the run labels: the policies as they are without
// replica counts, else every policy at every count.
func replicaLabels(policies []string, counts []Replicas) []string {
	if len(counts) == 0 {
		return policies
	}
	var out []string
	for _, p := range policies {
		for _, n := range counts {
			out = append(out, p+replicaSep+n.String())
		}
	}
	return out
}

// splitLabel is the policy and replicas of a run label; N 0: a label
// without a count (one router, no front).
func splitLabel(label string) (policy string, replicas Replicas) {
	i := strings.LastIndex(label, replicaSep)
	if i < 0 {
		return label, Replicas{}
	}
	r, err := parseReplica(label[i+len(replicaSep):])
	if err != nil {
		return label, Replicas{}
	}
	return label[:i], r
}

func parseReplica(s string) (Replicas, error) {
	num, alone := strings.CutSuffix(strings.TrimSpace(s), aloneTag)
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 16 {
		return Replicas{}, fmt.Errorf("replica count %q: want 1 to 16, or N-alone", s)
	}
	return Replicas{N: n, Alone: alone}, nil
}

// ParseReplicas reads --replicas: counts (N or N-alone), comma-separated.
func ParseReplicas(s string) ([]Replicas, error) {
	if s == "" {
		return nil, nil
	}
	var out []Replicas
	for _, f := range strings.Split(s, ",") {
		r, err := parseReplica(f)
		if err != nil {
			return nil, fmt.Errorf("--replicas: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// peersBase sets the peers section of the router's base configuration:
// this replica's exchange address and every replica's. The base may tune
// the rest of the section (interval, ttl), not those two.
func peersBase(base []byte, self string, all []string) ([]byte, error) {
	cfg := map[string]any{}
	if err := yaml.Unmarshal(base, &cfg); err != nil {
		return nil, fmt.Errorf("router config: %w", err)
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	peers := map[string]any{}
	if p, ok := cfg["peers"]; ok {
		m, ok := p.(map[string]any)
		if !ok {
			return nil, errors.New("router config: peers must be a mapping")
		}
		for _, k := range []string{"address", "static", "service"} {
			if _, set := m[k]; set {
				return nil, fmt.Errorf("router config: peers.%s is set by the benchmark with --replicas; leave it out of the base", k)
			}
		}
		peers = maps.Clone(m)
	}
	peers["address"], peers["static"] = self, all
	cfg = maps.Clone(cfg)
	cfg["peers"] = peers
	return yaml.Marshal(cfg)
}

// Front is a round-robin reverse proxy over router URLs, streaming.
type Front struct {
	URL   string
	srv   *http.Server
	ln    net.Listener
	tr    *http.Transport
	count atomic.Uint64
}

// StartFront serves on a free loopback port, each request to the next of
// targets in turn.
func StartFront(targets []string) (*Front, error) {
	urls := make([]*url.URL, len(targets))
	for i, t := range targets {
		u, err := url.Parse(t)
		if err != nil {
			return nil, err
		}
		urls[i] = u
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{URL: "http://" + ln.Addr().String(), ln: ln,
		tr: &http.Transport{MaxIdleConnsPerHost: 4096, IdleConnTimeout: 90 * time.Second, DisableCompression: true}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			u := urls[(f.count.Add(1)-1)%uint64(len(urls))]
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport:     f.tr,
		FlushInterval: -1, // relay every event as it comes
	}
	f.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops the front.
func (f *Front) Close() {
	_ = f.srv.Close()
	f.tr.CloseIdleConnections()
}

// startReplicas starts n routers, with exchange peers of each other.
func startReplicas(ctx context.Context, n int, exchange bool, spec RouterSpec, dir func(i int) (string, error)) ([]*RouterProcess, error) {
	addrs := make([]string, n)
	for i := range addrs {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	_, merged, err := resolve(spec.Base, spec.Variants, spec.Policy)
	if err != nil {
		return nil, err
	}
	var out []*RouterProcess
	stopAll := func() {
		for _, r := range out {
			r.Stop()
		}
	}
	for i := range n {
		s := spec
		if s.Dir, err = dir(i); err != nil {
			stopAll()
			return nil, err
		}
		base := merged
		if n > 1 && exchange {
			if base, err = peersBase(merged, addrs[i], addrs); err != nil {
				stopAll()
				return nil, err
			}
		}
		// The variant is merged into base already; the preset stays.
		if _, isVariant := spec.Variants[spec.Policy]; isVariant {
			s.Variants = map[string][]byte{spec.Policy: nil}
		}
		s.Base = base
		r, err := StartRouter(ctx, s)
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("replica %d of %d: %w", i+1, n, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Add sums two routers' counters (the fleet's over its replicas); the
// endpoint gauges are the first router's.
func (m RouterMetrics) Add(o RouterMetrics) RouterMetrics {
	out := m
	out.PromptTokens += o.PromptTokens
	out.CachedTokens += o.CachedTokens
	out.Retries += o.Retries
	out.Picks = addMap(m.Picks, o.Picks)
	out.Requests = addMap(m.Requests, o.Requests)
	out.PD = addMap(m.PD, o.PD)
	out.TokenSources = addMap(m.TokenSources, o.TokenSources)
	out.Fallbacks = addMap(m.Fallbacks, o.Fallbacks)
	return out
}

func addMap(a, b map[string]float64) map[string]float64 {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]float64{}
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}
