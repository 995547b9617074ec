// Package server is tandem-sim's HTTP front: the subset of vLLM's
// OpenAI-compatible server a router sees. POST /v1/chat/completions and
// /v1/completions (streaming SSE or whole responses, with usage and cached
// token counts), GET /v1/models, /health, /metrics (Prometheus text in
// vLLM's metric names), POST /tokenize (tokenize.go) and POST
// /reset_prefix_cache, OpenAI-style JSON
// errors, vLLM's kv_transfer_params and SGLang's bootstrap fields for
// prefill/decode disaggregation, and injected faults. Generation itself is
// package engine's.
package server

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// Role is the engine's part in disaggregated serving.
type Role string

const (
	// RoleBoth serves whole requests and either side of a P/D hand-off.
	RoleBoth Role = "both"
	// RolePrefill answers hand-off requests after prefill.
	RolePrefill Role = "prefill"
	// RoleDecode receives prefilled KV and decodes.
	RoleDecode Role = "decode"
)

// ParseRole accepts "both", "prefill" or "decode".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleBoth, RolePrefill, RoleDecode:
		return r, nil
	}
	return "", fmt.Errorf("role %q: want prefill, decode or both", s)
}

// maxBody bounds a request body: room for a 128k-token prompt with JSON overhead.
const maxBody = 32 << 20

// Options configure a Server.
type Options struct {
	// Model is the served model name; requests must name it.
	Model string
	Role  Role
	// EngineID, Host and Port are what a prefill instance tells a decode
	// instance (remote_engine_id, remote_host, remote_port).
	EngineID string
	Host     string
	Port     int
	// DefaultMaxTokens applies when a request sets no max_tokens.
	DefaultMaxTokens int
	// Lengths draws where a request stops on its own; a request with
	// ignore_eos, or the zero value, generates exactly max_tokens.
	Lengths engine.Lengths
	// Seed derives output text and response ids.
	Seed uint64
	// FaultStream separates the fault generators of engines sharing a seed.
	FaultStream uint64
	Faults      Faults
	// TimeScale shrinks injected latency spikes like every other latency.
	TimeScale float64
	// Crash is called when CrashAfter requests have been served; it must
	// close the listener and every connection. Nil disables crashing.
	Crash func()
	// Stopping is closed when the engine shuts down; hung requests end then.
	Stopping <-chan struct{}
}

// Server answers HTTP for one engine.
type Server struct {
	opts    Options
	eng     *engine.Engine
	metrics http.Handler
	faults  *injector
	created int64
	ids     atomic.Uint64
}

// New returns the HTTP handler of eng; m must be the engine's Observer.
func New(opts Options, eng *engine.Engine, m *Metrics) (*Server, error) {
	if opts.Model == "" {
		return nil, fmt.Errorf("server needs a model name")
	}
	if _, err := ParseRole(string(opts.Role)); err != nil {
		return nil, err
	}
	if err := opts.Faults.Validate(); err != nil {
		return nil, err
	}
	if opts.DefaultMaxTokens <= 0 {
		opts.DefaultMaxTokens = 16
	}
	return &Server{
		opts:    opts,
		eng:     eng,
		metrics: promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}),
		faults:  newInjector(opts.Faults, opts.Seed, opts.FaultStream),
		created: time.Now().Unix(),
	}, nil
}

type route struct {
	method  string
	handler func(*Server, http.ResponseWriter, *http.Request)
}

var routes = map[string]route{
	"/v1/chat/completions": {http.MethodPost, func(s *Server, w http.ResponseWriter, r *http.Request) { s.complete(w, r, Chat) }},
	"/v1/completions":      {http.MethodPost, func(s *Server, w http.ResponseWriter, r *http.Request) { s.complete(w, r, Completion) }},
	"/v1/models":           {http.MethodGet, (*Server).models},
	"/health":              {http.MethodGet, (*Server).health},
	"/reset_prefix_cache":  {http.MethodPost, (*Server).resetPrefixCache},
	"/tokenize":            {http.MethodPost, (*Server).tokenize},
	"/metrics":             {http.MethodGet, func(s *Server, w http.ResponseWriter, r *http.Request) { s.metrics.ServeHTTP(w, r) }},
}

// ServeHTTP routes a request: unknown paths get 404, known paths with the
// wrong method 405, both as OpenAI-style JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := routes[r.URL.Path]
	if !ok {
		writeError(w, notFound("", "no route for %s", r.URL.Path))
		return
	}
	allowed := r.Method == rt.method || (rt.method == http.MethodGet && r.Method == http.MethodHead)
	if !allowed {
		w.Header().Set("Allow", rt.method)
		writeError(w, &APIError{Status: http.StatusMethodNotAllowed, Type: "MethodNotAllowedError",
			Message: fmt.Sprintf("%s %s is not allowed; use %s", r.Method, r.URL.Path, rt.method)})
		return
	}
	rt.handler(s, w, r)
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

// resetPrefixCache is vLLM's POST /reset_prefix_cache (served by vLLM in
// its development mode): drop every cached block. vLLM answers 200 even when
// it cannot reset; the simulator says so with a 409, so a benchmark knows
// its repetitions start cold.
func (s *Server) resetPrefixCache(w http.ResponseWriter, _ *http.Request) {
	if !s.eng.ResetPrefixCache() {
		writeError(w, &APIError{Status: http.StatusConflict, Type: "ConflictError",
			Message: "requests hold KV blocks; reset the prefix cache when the engine is idle"})
		return
	}
	w.WriteHeader(http.StatusOK)
}

type modelCard struct {
	ID          string  `json:"id"`
	Object      string  `json:"object"`
	Created     int64   `json:"created"`
	OwnedBy     string  `json:"owned_by"`
	Root        string  `json:"root"`
	Parent      *string `json:"parent"`
	MaxModelLen int     `json:"max_model_len"`
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Object string      `json:"object"`
		Data   []modelCard `json:"data"`
	}{
		Object: "list",
		Data: []modelCard{{
			ID: s.opts.Model, Object: "model", Created: s.created, OwnedBy: "vllm",
			Root: s.opts.Model, MaxModelLen: s.eng.Params().MaxModelLen,
		}},
	})
}
