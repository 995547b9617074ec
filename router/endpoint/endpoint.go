// Package endpoint holds what the router knows about each engine: its
// description from discovery (Spec), the router's own live counters, the
// engine's scraped metrics, the prefix index, the circuit breaker and the
// learned prefill rate (Endpoint), and the current set of endpoints grouped
// by model (Registry, Snapshot, Pool).
//
// Discovery replaces the whole set at once (Registry.Update); an endpoint
// whose Spec is unchanged keeps its state, so counters, index and learned
// rate survive every update. Readers take a Snapshot with one atomic load
// and never lock.
//
// Engine state is scraped (Scraper): each endpoint's /metrics page is read
// every interval; a reading older than the staleness cutoff is ignored and
// the router falls back on its own counters.
package endpoint

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/kvindex"
	"github.com/tandem-serving/tandem/router/prefix"
)

// Role is an endpoint's part in prefill/decode disaggregation.
type Role string

const (
	// RoleBoth serves whole requests (aggregated serving).
	RoleBoth Role = "both"
	// RolePrefill computes prompts and hands the KV cache to a decode
	// endpoint.
	RolePrefill Role = "prefill"
	// RoleDecode receives prefilled KV caches and generates.
	RoleDecode Role = "decode"
)

// RoleFromName maps a ServingGroup role name to a Role: "prefill" and
// "decode" are the disaggregated roles, every other name (engine, worker,
// ...) serves whole requests.
func RoleFromName(name string) Role {
	switch Role(name) {
	case RolePrefill, RoleDecode:
		return Role(name)
	}
	return RoleBoth
}

// Kind is the engine software, which decides metric names and the P/D
// hand-off protocol.
type Kind string

const (
	VLLM   Kind = "vllm"
	SGLang Kind = "sglang"
)

// DefaultBootstrapPort is SGLang's default disaggregation bootstrap port.
const DefaultBootstrapPort = 8998

// Spec describes one engine endpoint as discovery sees it.
type Spec struct {
	// Name identifies the endpoint: namespace/pod, or the address.
	Name string `json:"name,omitempty"`
	// Address is host:port of the engine's HTTP server.
	Address string `json:"address"`
	// Models are the model names the endpoint serves; empty means "ask
	// the engine" (GET /v1/models).
	Models []string `json:"models,omitempty"`
	Role   Role     `json:"role,omitempty"`
	// Group and Unit place the endpoint in a ServingGroup; prefill is
	// preferred from the decode endpoint's unit.
	Group string `json:"group,omitempty"`
	Unit  string `json:"unit,omitempty"`
	Kind  Kind   `json:"engine,omitempty"`
	// BootstrapPort is SGLang's disaggregation bootstrap port.
	BootstrapPort int `json:"bootstrapPort,omitempty"`
	// KVEventsPort is the engine's KV events publisher port when it
	// differs from the router's configured one.
	KVEventsPort int `json:"kvEventsPort,omitempty"`
}

// Normalize fills defaults and checks the spec.
func (s *Spec) Normalize() error {
	host, port, err := net.SplitHostPort(s.Address)
	if err != nil || host == "" {
		return fmt.Errorf("endpoint address %q: want host:port", s.Address)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("endpoint address %q: bad port", s.Address)
	}
	if s.Name == "" {
		s.Name = s.Address
	}
	switch s.Role {
	case "":
		s.Role = RoleBoth
	case RoleBoth, RolePrefill, RoleDecode:
	default:
		return fmt.Errorf("endpoint %s: role %q: want both, prefill or decode", s.Name, s.Role)
	}
	switch s.Kind {
	case "":
		s.Kind = VLLM
	case VLLM, SGLang:
	default:
		return fmt.Errorf("endpoint %s: engine %q: want vllm or sglang", s.Name, s.Kind)
	}
	if s.Kind == SGLang && s.BootstrapPort == 0 {
		s.BootstrapPort = DefaultBootstrapPort
	}
	s.Models = slices.Clone(s.Models)
	slices.Sort(s.Models)
	s.Models = slices.Compact(s.Models)
	return nil
}

func (s *Spec) equal(o *Spec) bool {
	return s.Name == o.Name && s.Address == o.Address && s.Role == o.Role && s.Group == o.Group &&
		s.Unit == o.Unit && s.Kind == o.Kind && s.BootstrapPort == o.BootstrapPort && s.KVEventsPort == o.KVEventsPort &&
		slices.Equal(s.Models, o.Models)
}

// Host is the host part of Address.
func (s *Spec) Host() string {
	host, _, _ := net.SplitHostPort(s.Address)
	return host
}

// Endpoint is one engine and everything the router tracks about it.
type Endpoint struct {
	Spec
	// BaseURL is "http://" + Address.
	BaseURL string
	// NameHash is a hash of Name, for rendezvous tie-breaking.
	NameHash uint64

	// InFlight counts the router's requests open at the endpoint.
	InFlight atomic.Int64
	// Pending counts the router's requests sent there that have not yet
	// produced a first byte: they wait for or are in prefill.
	Pending atomic.Int64
	// QueuedTokens estimates the prompt tokens of Pending requests that
	// the endpoint must compute (not cached there).
	QueuedTokens atomic.Int64
	// ContextTokens estimates the KV cache the router's requests open
	// there hold: each one's prompt tokens and its max_tokens, from send
	// to end (flow control's KV test, package flow).
	ContextTokens atomic.Int64
	// Peers is the other router replicas' share of the endpoint's load,
	// from their last reports (package peers); zero without peers.
	Peers PeerLoad

	// Index is the prefix index: which blocks the engine holds.
	Index *prefix.Index
	// Breaker stops traffic to a failing endpoint.
	Breaker *breaker.Breaker
	// Rate is the learned prefill rate.
	Rate *Rate
	// Limit is the concurrency limit learned from TTFT (flow control).
	Limit Limit
	// Exact is the exact prefix index fed by KV events; nil when KV
	// events are off.
	Exact *kvindex.Index

	engine  atomic.Pointer[EngineMetrics]
	models  atomic.Pointer[[]string] // from the engine, when Spec.Models is empty
	removed atomic.Bool
}

// Options shape new endpoints.
type Options struct {
	// IndexBlocks is the prefix index capacity until the engine reports
	// its cache size.
	IndexBlocks int
	// BlockBytes and BytesPerToken convert the engine's cache size into
	// index blocks.
	BlockBytes    int
	BytesPerToken float64
	Breaker       breaker.Config
	// RatePrior is the assumed prefill rate in tokens a second until
	// TTFTs are observed.
	RatePrior float64
	// OnBreaker, if set, hears every breaker transition.
	OnBreaker func(e *Endpoint, from, to breaker.State)
	// ExactSilence, if positive, gives every endpoint an exact index
	// (package kvindex) with this silence window.
	ExactSilence time.Duration
	// OnInsert, if set, hears every local insertion into an endpoint's
	// prefix index (package peers sends them to the other replicas).
	OnInsert func(e *Endpoint, hashes []uint64)
}

// PeerLoad is the sum over the other router replicas of their own
// counters at an endpoint (InFlight, Pending, QueuedTokens), as last
// reported; package peers stores it and zeroes a silent replica's share.
type PeerLoad struct {
	InFlight, Pending, QueuedTokens atomic.Int64
}

func newEndpoint(spec Spec, o *Options) *Endpoint {
	e := &Endpoint{Spec: spec, BaseURL: "http://" + spec.Address, NameHash: xxhash.Sum64String(spec.Name)}
	e.Index = prefix.NewIndex(o.IndexBlocks)
	if o.OnInsert != nil {
		e.Index.Observe(func(h []uint64) { o.OnInsert(e, h) })
	}
	var onChange func(from, to breaker.State)
	if o.OnBreaker != nil {
		onChange = func(from, to breaker.State) { o.OnBreaker(e, from, to) }
	}
	e.Breaker = breaker.New(o.Breaker, nil, onChange)
	e.Rate = NewRate(o.RatePrior)
	if o.ExactSilence > 0 {
		e.Exact = kvindex.New(o.ExactSilence)
	}
	return e
}

// Engine returns the last scraped metrics if they are younger than
// staleAfter.
func (e *Endpoint) Engine(now time.Time, staleAfter time.Duration) (EngineMetrics, bool) {
	m := e.engine.Load()
	if m == nil || now.Sub(m.At) > staleAfter {
		return EngineMetrics{}, false
	}
	return *m, true
}

// SetEngine stores a scrape result.
func (e *Endpoint) SetEngine(m EngineMetrics) { e.engine.Store(&m) }

// ServedModels is Spec.Models, or what the engine reported.
func (e *Endpoint) ServedModels() []string {
	if len(e.Models) > 0 {
		return e.Models
	}
	if m := e.models.Load(); m != nil {
		return *m
	}
	return nil
}

// Removed reports whether discovery has dropped the endpoint; requests
// already there finish, new ones go elsewhere.
func (e *Endpoint) Removed() bool { return e.removed.Load() }
