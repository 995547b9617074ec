package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/kv"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/kvevents"
)

// Config describes one simulated engine.
type Config struct {
	// Engine is the model: scheduler limits, KV memory, step costs.
	Engine engine.Params
	// Listen is host:port; port 0 picks a free port.
	Listen string
	// Role is prefill, decode or both.
	Role server.Role
	// EngineID is what a prefill instance reports as remote_engine_id;
	// empty means "tandem-sim-" and the listen address.
	EngineID string
	// Seed fixes generated text, response ids and fault draws.
	Seed uint64
	// TimeScale multiplies every latency: 1 is the modelled GPU's speed,
	// 0.01 a hundred times faster, 0 no waiting at all.
	TimeScale float64
	// DefaultMaxTokens applies to requests without max_tokens.
	DefaultMaxTokens int
	// Lengths draws where requests without ignore_eos stop on their own
	// (engine.Lengths; the zero value generates exactly max_tokens).
	Lengths engine.Lengths
	// Faults are injected failures.
	Faults server.Faults
	// Refuse starts the engine with its listener closed: connections are
	// refused until SetRefuse(false).
	Refuse bool
	// Index is the engine's place in a fleet; it separates fault
	// generators of engines sharing a seed.
	Index int
	// KVEventsEndpoint, if set, is where the engine binds a ZeroMQ PUB
	// socket publishing vLLM-format KV events (tcp://host:port; port 0 picks
	// a free one). StartMany gives engine i the port plus i.
	KVEventsEndpoint string
	// KVEventsTopic is the topic frame of every KV events message.
	KVEventsTopic string
	// KVEventsFormat is the payload shape: "array" (vLLM v0.11.2,
	// msgspec array_like) or "map" (events as maps, vLLM after PR #42892).
	KVEventsFormat string
}

// DefaultConfig is one engine on 127.0.0.1:8000 modelling Llama-3.1-8B on
// one H100 in real time.
func DefaultConfig() Config {
	return Config{
		Engine:           engine.DefaultParams(),
		Listen:           "127.0.0.1:8000",
		Role:             server.RoleBoth,
		Seed:             1,
		TimeScale:        1,
		DefaultMaxTokens: 16,
		Lengths:          engine.DefaultLengths(),
		KVEventsTopic:    DefaultKVEventsTopic,
		KVEventsFormat:   "array",
	}
}

// Validate reports the first impossible setting.
func (c Config) Validate() error {
	if err := c.Engine.Validate(); err != nil {
		return err
	}
	if _, err := server.ParseRole(string(c.Role)); err != nil {
		return err
	}
	if c.TimeScale < 0 {
		return fmt.Errorf("time scale %g: must not be negative", c.TimeScale)
	}
	if _, err := kvEventsLayout(c.KVEventsFormat); err != nil {
		return err
	}
	if c.DefaultMaxTokens < 1 {
		return fmt.Errorf("default max tokens %d: must be at least 1", c.DefaultMaxTokens)
	}
	if err := c.Lengths.Validate(); err != nil {
		return err
	}
	return c.Faults.Validate()
}

// Engine is one running simulated engine with its own address and state.
type Engine struct {
	cfg  Config
	addr string
	eng  *engine.Engine
	srv  *http.Server
	pub  *kvevents.Publisher // nil without KV events

	mu      sync.Mutex
	ln      net.Listener // nil while refusing or after shutdown
	closed  bool
	crashed bool
	once    sync.Once
	done    chan struct{}
}

// Start runs an engine until ctx ends, Close, or an injected crash.
func Start(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	e := &Engine{cfg: cfg, addr: ln.Addr().String(), done: make(chan struct{})}
	host, portText, _ := net.SplitHostPort(e.addr)
	port, _ := strconv.Atoi(portText)
	if cfg.EngineID == "" {
		cfg.EngineID = "tandem-sim-" + e.addr
	}
	e.cfg = cfg

	var opts []engine.Option
	if cfg.KVEventsEndpoint != "" {
		layout, _ := kvEventsLayout(cfg.KVEventsFormat)
		if e.pub, err = kvevents.NewPublisher(cfg.KVEventsEndpoint, cfg.KVEventsTopic, layout); err != nil {
			ln.Close()
			return nil, err
		}
		seed, bs := kv.SeedWith(cfg.Engine.Model, cfg.Engine.HashSeed), cfg.Engine.BlockSize
		opts = append(opts, engine.WithKVEvents(func(evs []kv.Event) {
			e.pub.Publish(eventBatch(time.Now(), seed, bs, evs))
		}))
	}
	metrics := server.NewMetrics(cfg.Engine.Model, func() engine.Snapshot { return e.eng.Snapshot() })
	if e.eng, err = engine.Start(context.Background(), cfg.Engine, cfg.TimeScale, metrics, opts...); err != nil {
		ln.Close()
		e.closePublisher()
		return nil, err
	}
	handler, err := server.New(server.Options{
		Model: cfg.Engine.Model, Role: cfg.Role, EngineID: cfg.EngineID, Host: host, Port: port,
		DefaultMaxTokens: cfg.DefaultMaxTokens, Lengths: cfg.Lengths, Seed: cfg.Seed, FaultStream: uint64(cfg.Index),
		Faults: cfg.Faults, TimeScale: cfg.TimeScale, Crash: e.Crash, Stopping: e.eng.Done(),
	}, e.eng, metrics)
	if err != nil {
		ln.Close()
		e.eng.Stop()
		e.closePublisher()
		return nil, err
	}
	e.srv = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	if cfg.Refuse {
		ln.Close()
	} else {
		e.serve(ln)
	}
	go func() {
		select {
		case <-ctx.Done():
			e.Close()
		case <-e.done:
		}
	}()
	return e, nil
}

func kvEventsLayout(format string) (kvevents.Layout, error) {
	switch format {
	case "array", "":
		return kvevents.LayoutArray, nil
	case "map":
		return kvevents.LayoutMap, nil
	}
	return 0, fmt.Errorf("KV events format %q: want array or map", format)
}

func (e *Engine) serve(ln net.Listener) {
	e.ln = ln
	go func() { _ = e.srv.Serve(ln) }()
}

// Addr is the engine's host:port.
func (e *Engine) Addr() string { return e.addr }

// URL is the engine's base URL, http://host:port.
func (e *Engine) URL() string { return "http://" + e.addr }

// KVEventsEndpoint is the bound KV events endpoint (tcp://host:port with
// the real port), or "" when the engine publishes none.
func (e *Engine) KVEventsEndpoint() string {
	if e.pub == nil {
		return ""
	}
	return e.pub.Endpoint()
}

// Config is the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Snapshot reads the engine's scheduler state and counters.
func (e *Engine) Snapshot() engine.Snapshot { return e.eng.Snapshot() }

// Done is closed when the engine has stopped, by Close or by a crash.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Crashed reports whether the engine stopped by an injected crash.
func (e *Engine) Crashed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.crashed
}

// SetRefuse closes the listener (new connections are refused; open ones
// carry on) or opens it again on the same address.
func (e *Engine) SetRefuse(refuse bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("engine is stopped")
	}
	switch {
	case refuse && e.ln != nil:
		err := e.ln.Close()
		e.ln = nil
		return err
	case !refuse && e.ln == nil:
		ln, err := net.Listen("tcp", e.addr)
		if err != nil {
			return fmt.Errorf("listen again on %s: %w", e.addr, err)
		}
		e.serve(ln)
	}
	return nil
}

// Crash kills the engine as a process crash would: the listener closes,
// every open connection is cut mid-stream, and all state is lost. Start a
// new engine on the same address to model a restart.
func (e *Engine) Crash() { e.shutdown(true) }

// Close stops the engine at once, cutting open connections. It is safe to
// call more than once.
func (e *Engine) Close() error {
	e.shutdown(false)
	return nil
}

func (e *Engine) shutdown(crashed bool) {
	e.once.Do(func() {
		e.mu.Lock()
		e.closed, e.crashed, e.ln = true, crashed, nil
		e.mu.Unlock()
		_ = e.srv.Close()
		e.eng.Stop()
		e.closePublisher()
		close(e.done)
	})
}

func (e *Engine) closePublisher() {
	if e.pub != nil {
		_ = e.pub.Close()
	}
}

// StartMany starts one engine per address from a shared configuration; the
// i-th gets Index i, if base.EngineID is set the id "<EngineID>-<i>", and
// if base.KVEventsEndpoint is set that endpoint's port plus i. On error the
// engines already started are closed.
func StartMany(ctx context.Context, base Config, addrs []string) ([]*Engine, error) {
	engines := make([]*Engine, 0, len(addrs))
	for i, addr := range addrs {
		cfg := base
		cfg.Listen, cfg.Index = addr, i
		if base.EngineID != "" {
			cfg.EngineID = fmt.Sprintf("%s-%d", base.EngineID, i)
		}
		var err error
		if base.KVEventsEndpoint != "" {
			cfg.KVEventsEndpoint, err = offsetEndpoint(base.KVEventsEndpoint, i)
		}
		var e *Engine
		if err == nil {
			e, err = Start(ctx, cfg)
		}
		if err != nil {
			for _, started := range engines {
				started.Close()
			}
			return nil, err
		}
		engines = append(engines, e)
	}
	return engines, nil
}

// Addresses lists n addresses on consecutive ports from listen
// (host:port); with port 0 every engine gets a free port.
func Addresses(listen string, n int) ([]string, error) {
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port+n-1 > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port for %d engines", listen, n)
	}
	if n < 1 {
		return nil, fmt.Errorf("need at least one engine, got %d", n)
	}
	addrs := make([]string, n)
	for i := range addrs {
		p := port
		if port != 0 {
			p = port + i
		}
		addrs[i] = net.JoinHostPort(host, strconv.Itoa(p))
	}
	return addrs, nil
}
