package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/flow"
	"github.com/tandem-serving/tandem/router/peers"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/schedule"
	"github.com/tandem-serving/tandem/router/tenant"
	"github.com/tandem-serving/tandem/router/tokenize"
)

// Options are the router's collaborators.
type Options struct {
	// Plugins are the scheduling plugins on offer; the profile in the
	// config is built from them.
	Plugins *schedule.Plugins
	Logger  logr.Logger
}

// Router is the OpenAI-compatible front: an http.Handler plus the engine
// state it routes on.
type Router struct {
	cfg       Config
	log       logr.Logger
	reg       *endpoint.Registry
	features  schedule.Features
	profile   *schedule.Profile
	prefill   *schedule.Profile
	policy    string
	transport *http.Transport
	scraper   *endpoint.Scraper
	metrics   *Metrics
	tenants   *tenant.Tenants
	calls     sync.Pool
	seeds     atomic.Uint64
	ids       atomic.Uint64
	idPrefix  string
	forward   []string
	metricsH  http.Handler
	// tokenizer gets prompt token ids from the engines in exact mode; nil
	// otherwise. tokenizeNext rotates the endpoint asked.
	tokenizer    *tokenize.Tokenizer
	tokenizeNext atomic.Uint64
	// flow is the flow control gate; nil when it is off.
	flow *flow.Gate
	// inFlight counts the completion requests open (limits.maxInFlight).
	inFlight atomic.Int64
	// peers shares index insertions and load with the other replicas;
	// nil when peers.address is "".
	peers *peers.Exchange
	// held knows the models of groups without ready endpoints (hold.go).
	held *holder
}

// New builds a router from cfg (validated here).
func New(cfg Config, opts Options) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Plugins == nil {
		return nil, errors.New("router: no scheduling plugins registered")
	}
	rt := &Router{cfg: cfg, log: opts.Logger, policy: cfg.Policy, forward: cfg.Tenants.Forwardable(cfg.ForwardHeaders)}
	if cfg.Profile != nil {
		rt.policy = "custom"
	}
	rt.features = schedule.Features{
		BlockBytes: cfg.Prefix.BlockBytes, BytesPerToken: cfg.Prefix.BytesPerToken,
		StaleAfter: cfg.Scrape.StaleAfter.Duration, Saturation: cfg.Saturation, Penalty: cfg.Penalty,
		Cost: cfg.Cost, RateSpread: cfg.RateSpread,
	}
	if err := rt.buildProfiles(opts.Plugins); err != nil {
		return nil, err
	}
	var err error
	if rt.tenants, err = tenant.New(cfg.Tenants); err != nil {
		return nil, err
	}
	var metrics *Metrics
	rt.reg = endpoint.NewRegistry(endpoint.Options{
		IndexBlocks: cfg.Prefix.IndexBlocks, BlockBytes: cfg.Prefix.BlockBytes, BytesPerToken: cfg.Prefix.BytesPerToken,
		Breaker: breaker.Config{
			Failures: cfg.Breaker.Failures, Cooldown: cfg.Breaker.Cooldown.Duration, MaxCooldown: cfg.Breaker.MaxCooldown.Duration,
		},
		RatePrior:    cfg.RatePrior,
		ExactSilence: rt.exactSilence(),
		OnInsert:     rt.peerHook(),
		OnBreaker: func(e *endpoint.Endpoint, from, to breaker.State) {
			metrics.breakerChanged(e, from, to)
			rt.log.Info("Circuit breaker changed", "endpoint", e.Name, "from", from.String(), "to", to.String())
		},
	})
	metrics = NewMetrics(rt.reg.Snapshot, cfg.Scrape.StaleAfter.Duration)
	rt.held = newHolder(rt.reg)
	rt.metrics = metrics
	if err := rt.newPeers(); err != nil {
		return nil, err
	}
	rt.metricsH = promhttp.HandlerFor(metrics.Registry(), promhttp.HandlerOpts{})
	rt.transport = newTransport(&cfg)
	if cfg.KVEvents.Enabled {
		rt.tokenizer = rt.newTokenizer()
	}
	rt.scraper = endpoint.NewScraper(rt.reg, &http.Client{Transport: rt.transport}, endpoint.ScrapeConfig{
		Interval: cfg.Scrape.Interval.Duration, Timeout: cfg.Scrape.Timeout.Duration,
	})
	rt.scraper.OnScrape = metrics.scraped
	rt.flow = rt.newFlowGate()
	rt.idPrefix = fmt.Sprintf("tandem-%x-", time.Now().UnixNano()&0xffffffff)
	rt.seeds.Store(uint64(time.Now().UnixNano()))
	return rt, nil
}

func (rt *Router) exactSilence() time.Duration {
	if !rt.cfg.KVEvents.Enabled {
		return 0
	}
	return rt.cfg.KVEvents.SilenceAfter.Duration
}

func (rt *Router) buildProfiles(plugins *schedule.Plugins) error {
	pc := rt.cfg.Profile
	if pc == nil {
		preset, err := schedule.Preset(rt.cfg.Policy)
		if err != nil {
			return err
		}
		pc = &preset
	}
	var err error
	if rt.profile, err = plugins.Build(*pc, &rt.features); err != nil {
		return fmt.Errorf("scheduling profile: %w", err)
	}
	// The prefill endpoint is picked with the same plugins plus a
	// preference for the decode endpoint's unit.
	ppc := *pc
	if rt.cfg.PD.SameUnitWeight > 0 {
		ppc.Scorers = append(append([]schedule.PluginConfig{}, pc.Scorers...),
			schedule.PluginConfig{Name: "same-unit", Weight: rt.cfg.PD.SameUnitWeight})
		if ppc.Picker.Name != "max-score" && ppc.Picker.Name != "affinity" {
			ppc.Picker = schedule.PluginConfig{Name: "max-score"}
		}
	}
	if rt.prefill, err = plugins.Build(ppc, &rt.features); err != nil {
		return fmt.Errorf("prefill scheduling profile: %w", err)
	}
	return nil
}

// newTransport is tuned for many long-lived connections to few engines:
// a deep idle pool per engine (Kthena's 2 idle connections per engine made
// it reconnect constantly), no compression, large buffers for long prompts.
func newTransport(cfg *Config) *http.Transport {
	d := &net.Dialer{Timeout: cfg.Timeouts.Connect.Duration, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerEndpoint,
		IdleConnTimeout:     cfg.Timeouts.Idle.Duration,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
}

// Registry is the router's endpoint set; discovery updates it.
func (rt *Router) Registry() *endpoint.Registry { return rt.reg }

// Metrics are the router's metrics.
func (rt *Router) Metrics() *Metrics { return rt.metrics }

// Run scrapes engine metrics (and, in exact mode, follows KV events)
// until ctx ends. Serve requests with the Router as handler, or Serve.
func (rt *Router) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if rt.tokenizer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&followers{rt: rt}).run(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		rt.tenants.Run(ctx, rt.log.WithName("tenants")) // rereads the keys file
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		rt.runPeers(ctx)
	}()
	rt.scraper.Run(ctx)
	wg.Wait()
	if rt.tokenizer != nil {
		rt.tokenizer.Wait()
	}
	rt.transport.CloseIdleConnections()
}

// Serve answers HTTP on ln until ctx ends, then drains open requests for
// up to grace.
func (rt *Router) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := rt.httpServer(rt)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// httpServer is a server for h with the client-side timeouts and limits.
// No ReadTimeout or WriteTimeout: they would bound a whole stream; the
// body deadline (limitBody), timeouts.streamIdle and timeouts.request do
// that job per request.
func (rt *Router) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: rt.cfg.Timeouts.Header.Duration,
		IdleTimeout:       rt.cfg.Timeouts.Idle.Duration,
		MaxHeaderBytes:    rt.cfg.Limits.MaxHeaderBytes,
	}
}

// ServeHTTP routes: the two completion APIs, /v1/models, /health and,
// when metrics.address is "", /metrics. Unknown paths get 404 and wrong
// methods 405, as JSON.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/chat/completions":
		if rt.method(w, r, http.MethodPost) {
			rt.serveLimited(w, r, chatKind)
		}
	case "/v1/completions":
		if rt.method(w, r, http.MethodPost) {
			rt.serveLimited(w, r, completionKind)
		}
	case "/v1/models":
		if rt.method(w, r, http.MethodGet) {
			body := rt.modelsJSON() // hold.go: ready and known models
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}
	case "/health":
		if rt.method(w, r, http.MethodGet) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = fmt.Fprintf(w, `{"status":"ok","endpoints":%d}`, len(rt.reg.Snapshot().All))
		}
	case "/metrics":
		if rt.cfg.Metrics.Address != "" { // served on its own listener (ServeMetrics)
			writeError(w, &apiError{Status: http.StatusNotFound, Type: "NotFoundError", Message: "no route for " + r.URL.Path})
			return
		}
		rt.metricsH.ServeHTTP(w, r)
	default:
		writeError(w, &apiError{Status: http.StatusNotFound, Type: "NotFoundError", Message: "no route for " + r.URL.Path})
	}
}

func (rt *Router) method(w http.ResponseWriter, r *http.Request, want string) bool {
	if r.Method == want || (want == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", want)
	writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: "MethodNotAllowedError",
		Message: r.Method + " " + r.URL.Path + " is not allowed; use " + want})
	return false
}

// serveLimited applies the router-wide limits to a completion request: the
// in-flight cap, checked before anything is read, and the body deadline.
func (rt *Router) serveLimited(w http.ResponseWriter, r *http.Request, kind request.Kind) {
	if limit := int64(rt.cfg.Limits.MaxInFlight); rt.inFlight.Add(1) > limit {
		rt.inFlight.Add(-1)
		e := tooMany("max-in-flight", "the router has "+strconv.FormatInt(limit, 10)+" requests open; retry later")
		writeError(w, e)
		rt.metrics.refused.WithLabelValues(e.Reason).Inc()
		rt.metrics.requests.WithLabelValues("", codeLabel(e.Status)).Inc()
		return
	}
	defer rt.inFlight.Add(-1)
	rt.limitBody(w, r)
	rt.serveCompletion(w, r, kind)
}

// limitBody gives the body timeouts.body to arrive: a read deadline on the
// connection from now (the headers are in), lifted once the body has been
// read to its end, so that net/http's own read after the body (which
// watches for the client going away) never times out a long stream.
func (rt *Router) limitBody(w http.ResponseWriter, r *http.Request) {
	d := rt.cfg.Timeouts.Body.Duration
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return // not a net/http connection (a test recorder): no deadline
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, limit: d}
}

// deadlineBody lifts its connection's read deadline at the body's end and
// names the timeout when the deadline passes first.
type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	limit time.Duration
	done  bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil || b.done:
	case errors.Is(err, io.EOF):
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("the body did not arrive within timeouts.body (%s): %w", b.limit, err)
	}
	return n, err
}
