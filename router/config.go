package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/prefix"
	"github.com/tandem-serving/tandem/router/schedule"
	"github.com/tandem-serving/tandem/router/tenant"
)

// Duration is a time.Duration written as "250ms", "5s", "2m" in the config.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Config is tandem-router's configuration file. Every field has a default;
// router/README.md documents them.
type Config struct {
	// Listen is the address of the OpenAI API and /health.
	Listen string `json:"listen"`
	// Metrics says where /metrics is served.
	Metrics MetricsConfig `json:"metrics"`
	// Policy is a preset: random, round-robin, least-request, prefix or
	// tandem (default).
	Policy string `json:"policy"`
	// Profile, if set, replaces the preset with an explicit plugin chain.
	Profile   *schedule.ProfileConfig `json:"profile,omitempty"`
	Discovery DiscoveryConfig         `json:"discovery"`
	Prefix    PrefixConfig            `json:"prefix"`
	Scrape    ScrapeConfig            `json:"scrape"`
	// RatePrior is the prefill rate (tokens/s) assumed for an endpoint
	// until its TTFTs are observed.
	RatePrior  float64             `json:"ratePrior"`
	Saturation schedule.Saturation `json:"saturation"`
	Penalty    schedule.Penalty    `json:"penalty"`
	// Cost are the constants of the cost scorer's figure beyond TTFT.
	Cost schedule.Cost `json:"cost"`
	// RateSpread bounds each endpoint's learned prefill rate to within
	// this factor of the median of the endpoints serving a request: 1
	// (all at the median) for a pool of one GPU type, more where types mix.
	RateSpread float64       `json:"rateSpread"`
	PD         PDConfig      `json:"prefillDecode"`
	Breaker    BreakerConfig `json:"breaker"`
	Retry      RetryConfig   `json:"retry"`
	Timeouts   TimeoutConfig `json:"timeouts"`
	Limits     LimitsConfig  `json:"limits"`
	// MaxBodyBytes bounds a request body; larger ones get 413.
	MaxBodyBytes int64 `json:"maxBodyBytes"`
	// MaxIdleConnsPerEndpoint is the idle connection pool per engine.
	MaxIdleConnsPerEndpoint int            `json:"maxIdleConnsPerEndpoint"`
	Tenants                 tenant.Config  `json:"tenants"`
	Shedding                ShedConfig     `json:"shedding"`
	ForwardHeaders          []string       `json:"forwardHeaders"`
	KVEvents                KVEventsConfig `json:"kvEvents"`
	Flow                    FlowConfig     `json:"flowControl"`
	// ScaleFromZero holds requests for known models without a ready
	// endpoint (hold.go).
	ScaleFromZero ScaleFromZeroConfig `json:"scaleFromZero"`
	// Peers shares prefix knowledge and load between replicas (peers.go).
	Peers PeersConfig `json:"peers"`
}

// MetricsConfig places the Prometheus endpoint.
type MetricsConfig struct {
	// Address is a listener of its own for /metrics (default ":9090"), so
	// the port exposed to clients does not show them every endpoint, model
	// and tenant; "" serves /metrics on the API listener instead.
	Address string `json:"address"`
}

// DiscoveryConfig selects where endpoints come from: a static file, or
// Kubernetes ServingGroups.
type DiscoveryConfig struct {
	Static     *StaticConfig     `json:"static,omitempty"`
	Kubernetes *KubernetesConfig `json:"kubernetes,omitempty"`
}

// StaticConfig is an endpoints file, reread when it changes.
type StaticConfig struct {
	File         string   `json:"file"`
	PollInterval Duration `json:"pollInterval"`
}

// KubernetesConfig watches ServingGroups and their pods. Model pools are
// per namespace (discovery.Scope).
type KubernetesConfig struct {
	// Namespace is the namespace whose ServingGroups serve this router's
	// requests; empty means the router's own namespace.
	Namespace string `json:"namespace"`
	// SharedModels also routes, for model names no group of Namespace
	// serves, to groups of other namespaces annotated
	// serving.tandem.dev/share-model-across-namespaces: "true". It
	// watches every namespace (cluster-wide list/watch).
	SharedModels bool `json:"sharedModels"`
	// Kubeconfig is a kubeconfig file; empty means in-cluster.
	Kubeconfig string `json:"kubeconfig"`
}

// PrefixConfig sizes the prefix index.
type PrefixConfig struct {
	// BlockBytes is the block size in bytes of rendered prompt.
	BlockBytes int `json:"blockBytes"`
	// BytesPerToken converts bytes to estimated tokens.
	BytesPerToken float64 `json:"bytesPerToken"`
	// IndexBlocks is an endpoint's index capacity until the engine
	// reports its KV cache size.
	IndexBlocks int `json:"indexBlocks"`
}

// ScrapeConfig tunes engine metric scraping.
type ScrapeConfig struct {
	Interval Duration `json:"interval"`
	Timeout  Duration `json:"timeout"`
	// StaleAfter is the age after which a scrape is ignored.
	StaleAfter Duration `json:"staleAfter"`
}

// PDConfig tunes prefill/decode disaggregation.
type PDConfig struct {
	// ThresholdTokens: a prompt whose uncached part on the chosen decode
	// endpoint is at least this many tokens is prefilled on a prefill
	// endpoint; shorter ones are prefilled by the decode endpoint.
	ThresholdTokens float64 `json:"thresholdTokens"`
	// NoPrefill is what to do when a request should be prefilled but no
	// prefill endpoint is healthy: "aggregated" (the decode endpoint
	// prefills) or "fail" (503).
	NoPrefill string `json:"noPrefill"`
	// SameUnitWeight is the weight of the same-unit scorer added to the
	// profile when picking a prefill endpoint.
	SameUnitWeight float64 `json:"sameUnitWeight"`
}

// BreakerConfig tunes the per-endpoint circuit breakers.
type BreakerConfig struct {
	Failures    int      `json:"failures"`
	Cooldown    Duration `json:"cooldown"`
	MaxCooldown Duration `json:"maxCooldown"`
}

// RetryConfig bounds attempts per request (the first one included).
type RetryConfig struct {
	MaxAttempts int `json:"maxAttempts"`
}

// TimeoutConfig bounds each phase of a request. router/README.md
// ("Timeouts and limits") says what a client sees when each one passes.
type TimeoutConfig struct {
	Connect Duration `json:"connect"`
	// Header bounds reading a client's request line and headers (from
	// the connection's accept, or from the end of its previous request):
	// a slow-loris client is cut here. Must be positive.
	Header Duration `json:"header"`
	// Body bounds reading a completion request's body once its headers
	// are in; 0 is none.
	Body Duration `json:"body"`
	// FirstByte bounds the wait for a stream's first event (a whole
	// answer's headers come only when it is done: Request bounds it) and
	// for a prefill endpoint's answer.
	FirstByte Duration `json:"firstByte"`
	// StreamIdle bounds the silence between two events of a stream once
	// its first event is relayed; past it the client's stream ends with an
	// error event and the engine connection is closed. 0 is none.
	StreamIdle Duration `json:"streamIdle"`
	// Request bounds a whole request, streaming and prefill included; 0
	// is none.
	Request Duration `json:"request"`
	// Idle closes idle client and engine connections.
	Idle Duration `json:"idle"`
}

// LimitsConfig bounds what clients may hold of the router.
type LimitsConfig struct {
	// MaxHeaderBytes caps a request's header block; larger ones get 431.
	MaxHeaderBytes int `json:"maxHeaderBytes"`
	// MaxInFlight caps the completion requests open in the router at
	// once (reading, queued, or proxied); past it 429 with Retry-After.
	MaxInFlight int `json:"maxInFlight"`
}

// ShedConfig says which requests are refused with 429 when every endpoint
// is saturated.
type ShedConfig struct {
	// MinPriority: requests with priority >= MinPriority are shed (lower
	// priority values are more important, as in vLLM).
	MinPriority int `json:"minPriority"`
	// FairShare also sheds requests of tenants holding more than their
	// fair share of the router's open requests.
	FairShare bool `json:"fairShare"`
	// PriorityHeader carries the priority; the body field "priority" is
	// read when the header is absent.
	PriorityHeader string `json:"priorityHeader"`
}

// FlowConfig is flow control (package flow): while every endpoint of a
// model is at its efficient load, its requests wait in the router, most
// important priority first and fair across tenants, for up to MaxWait.
type FlowConfig struct {
	// Enabled turns flow control on (the default: router/README.md says
	// why).
	Enabled bool `json:"enabled"`
	// MaxWait is the longest a request waits; then 429 with Retry-After.
	MaxWait Duration `json:"maxWait"`
	// MaxQueue bounds the requests waiting per model; past it 429.
	MaxQueue int `json:"maxQueue"`
	// QueueDelay: an endpoint whose prefill backlog (the router's queued
	// tokens) would take this long at its learned rate is at its efficient
	// load; 0 turns the test off.
	QueueDelay Duration `json:"queueDelay"`
	// KVUsage: an engine reporting waiting requests with its KV cache at
	// least this full is at its efficient load; 0 turns the test off.
	KVUsage float64 `json:"kvUsage"`
	// LIFOAfter: a tenant whose oldest waiting request has waited this
	// long is served newest first; 0 is always oldest first.
	LIFOAfter Duration `json:"lifoAfter"`
	// Tick is how often a non-empty queue is looked at besides when a
	// request of its model ends.
	Tick Duration `json:"tick"`
	// OverloadAfter and OverloadWait: once a model's queue has not emptied
	// for OverloadAfter, its requests that waited OverloadWait get 429 (a
	// sustained overload is turned away fast, not served late); 0 turns
	// it off.
	OverloadAfter Duration `json:"overloadAfter"`
	OverloadWait  Duration `json:"overloadWait"`
	// TTFTTarget: an endpoint learns a concurrency limit from first tokens
	// slower than this plus their own prefill (endpoint.Limit); at it, the
	// endpoint is at its efficient load. 0 turns the test off.
	TTFTTarget Duration `json:"ttftTarget"`
	// EnginePriority, for engines that schedule waiting requests by the
	// request's priority: "lower-first" (vLLM --scheduling-policy
	// priority), "higher-first" (SGLang --enable-priority-scheduling), or
	// "" (off: the engines' default first-come order, and no priority
	// member is written).
	EnginePriority string `json:"enginePriority"`
	// QuietFactor: while requests wait and one tenant is over its share
	// beside others within theirs, the first endpoints of the model (by
	// name) are kept for the latter, enough that each carries about
	// 1/QuietFactor of a busy endpoint's requests (package flow, "Quiet
	// endpoints"). 0 turns it off.
	QuietFactor float64 `json:"quietFactor"`
	// KVFill: an endpoint whose open requests (this router's), counted as
	// prompt tokens plus max_tokens each, would fill this share of the KV
	// cache the engine reports is at its efficient load: more would make
	// the engine preempt and recompute (package flow, test 4). 0 turns
	// it off.
	KVFill float64 `json:"kvFill"`
}

// KVEventsConfig turns on the exact prefix index fed by vLLM KV events
// (package kvindex), matched by token ids from the engines' own /tokenize
// (package tokenize).
type KVEventsConfig struct {
	Enabled bool `json:"enabled"`
	// Port is the engines' ZeroMQ publisher port (vLLM's default 5557);
	// an endpoint's kvEventsPort overrides it.
	Port int `json:"port"`
	// Topic filters messages by prefix; empty takes all.
	Topic string `json:"topic"`
	// Tokenizer says where request token ids come from: "engine", the
	// endpoint's POST /tokenize (vLLM's OpenAI server, tandem-sim).
	Tokenizer string `json:"tokenizer"`
	// TokenizeTimeout bounds one /tokenize call; on expiry the request is
	// routed by the approximate index.
	TokenizeTimeout Duration `json:"tokenizeTimeout"`
	// TokenizeWhen is "undecided" (default): call /tokenize only when the
	// approximate index cannot decide (some endpoint holds part of the
	// prompt, none all of it); or "always", for router replicas that see
	// only part of the traffic, whose approximate index misses what the
	// others sent.
	TokenizeWhen string `json:"tokenizeWhen"`
	// TokenizeCacheTokens bounds the cache of token ids (4 bytes each).
	TokenizeCacheTokens int `json:"tokenizeCacheTokens"`
	// BlockTokens is the engines' KV block size in tokens.
	BlockTokens int `json:"blockTokens"`
	// SilenceAfter: an endpoint sent uncached work this long ago without
	// an event since is degraded; the router then uses its approximate
	// index for it.
	SilenceAfter Duration `json:"silenceAfter"`
}

// DefaultConfig is the configuration without a file.
func DefaultConfig() Config {
	bc := breaker.DefaultConfig()
	return Config{
		Listen:  ":8080",
		Metrics: MetricsConfig{Address: ":9090"},
		Policy:  "tandem",
		Prefix:  PrefixConfig{BlockBytes: prefix.DefaultBlockBytes, BytesPerToken: 4, IndexBlocks: 100000},
		Scrape: ScrapeConfig{
			Interval: Duration{200 * time.Millisecond}, Timeout: Duration{time.Second}, StaleAfter: Duration{2 * time.Second},
		},
		RatePrior:  20000,
		Saturation: schedule.Saturation{MaxWaiting: 256, MaxKVUsage: 0.98},
		Penalty:    schedule.Penalty{KVThreshold: 0.9, KVTokens: 8192},
		Cost:       schedule.Cost{StallWeight: 0.25, DecodeTokens: 1, OutputTokens: 256, OffloadedTokens: 0.1},
		RateSpread: 1,
		PD:         PDConfig{ThresholdTokens: 256, NoPrefill: "aggregated", SameUnitWeight: 0.5},
		Breaker:    BreakerConfig{Failures: bc.Failures, Cooldown: Duration{bc.Cooldown}, MaxCooldown: Duration{bc.MaxCooldown}},
		Retry:      RetryConfig{MaxAttempts: 3},
		// Request: 10 minutes, the openai-python client's own default
		// (DEFAULT_TIMEOUT in src/openai/_constants.py, v3.3.x), so a
		// whole answer is not computed for a client that gave up.
		Timeouts: TimeoutConfig{
			Connect: Duration{2 * time.Second}, Header: Duration{10 * time.Second}, Body: Duration{time.Minute},
			FirstByte: Duration{5 * time.Minute}, StreamIdle: Duration{time.Minute}, Request: Duration{10 * time.Minute},
			Idle: Duration{90 * time.Second},
		},
		Limits:                  LimitsConfig{MaxHeaderBytes: 64 << 10, MaxInFlight: 2048},
		MaxBodyBytes:            32 << 20,
		MaxIdleConnsPerEndpoint: 1024,
		Tenants:                 tenant.DefaultConfig(),
		Shedding:                ShedConfig{MinPriority: 1, PriorityHeader: "X-Tandem-Priority"},
		ForwardHeaders:          []string{"Authorization", "X-Request-Id", "Traceparent", "Tracestate"},
		KVEvents: KVEventsConfig{
			Port: 5557, Topic: "kv-events", Tokenizer: "engine", TokenizeTimeout: Duration{50 * time.Millisecond},
			TokenizeWhen: "undecided", TokenizeCacheTokens: 2 << 20, BlockTokens: 16, SilenceAfter: Duration{5 * time.Second},
		},
		// Flow control is on: measured, it cost nothing at or below the
		// knee and kept throughput and hit rate past it
		// (../benchmarks/results/router.md, "Flow control").
		Flow: FlowConfig{
			Enabled: true, MaxWait: Duration{5 * time.Second}, MaxQueue: 1024, QueueDelay: Duration{100 * time.Millisecond}, KVUsage: 0.9,
			LIFOAfter: Duration{100 * time.Millisecond}, Tick: Duration{5 * time.Millisecond},
			OverloadAfter: Duration{time.Second}, OverloadWait: Duration{50 * time.Millisecond},
			TTFTTarget: Duration{150 * time.Millisecond}, QuietFactor: 4, KVFill: 1.3,
		},
		ScaleFromZero: defaultScaleFromZero(),
	}
}

// LoadConfig reads a YAML file over the defaults; unknown fields are errors.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Validate reports every impossible setting.
func (c *Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	if c.Profile == nil {
		_, err := schedule.Preset(c.Policy)
		check(err != nil, "policy: %v", err)
	}
	check(c.Prefix.BlockBytes < 1, "prefix.blockBytes %d: must be positive", c.Prefix.BlockBytes)
	check(c.Prefix.BytesPerToken <= 0, "prefix.bytesPerToken %g: must be positive", c.Prefix.BytesPerToken)
	check(c.Prefix.IndexBlocks < 1, "prefix.indexBlocks %d: must be positive", c.Prefix.IndexBlocks)
	check(c.Scrape.Interval.Duration <= 0, "scrape.interval must be positive")
	check(c.Scrape.Timeout.Duration <= 0, "scrape.timeout must be positive")
	check(c.Scrape.StaleAfter.Duration < c.Scrape.Interval.Duration, "scrape.staleAfter must be at least scrape.interval")
	check(c.RatePrior <= 0, "ratePrior %g: must be positive", c.RatePrior)
	check(!(c.RateSpread >= 1), "rateSpread %g: must be at least 1", c.RateSpread)
	check(c.Cost.StallWeight < 0, "cost.stallWeight %g: must not be negative", c.Cost.StallWeight)
	check(c.Cost.DecodeTokens < 0, "cost.decodeTokens %g: must not be negative", c.Cost.DecodeTokens)
	check(c.Cost.OutputTokens < 0, "cost.outputTokens %g: must not be negative", c.Cost.OutputTokens)
	check(c.Cost.OffloadedTokens < 0 || c.Cost.OffloadedTokens > 1, "cost.offloadedTokens %g: want 0 to 1", c.Cost.OffloadedTokens)
	check(c.PD.NoPrefill != "aggregated" && c.PD.NoPrefill != "fail", "prefillDecode.noPrefill %q: want aggregated or fail", c.PD.NoPrefill)
	check(c.Retry.MaxAttempts < 1, "retry.maxAttempts %d: must be at least 1", c.Retry.MaxAttempts)
	check(c.MaxBodyBytes < 1, "maxBodyBytes %d: must be positive", c.MaxBodyBytes)
	errs = append(errs, c.validateTimeouts()...)
	check(c.MaxIdleConnsPerEndpoint < 1, "maxIdleConnsPerEndpoint %d: must be positive", c.MaxIdleConnsPerEndpoint)
	check(c.Discovery.Static != nil && c.Discovery.Kubernetes != nil, "discovery: choose static or kubernetes, not both")
	check(c.Discovery.Static != nil && strings.TrimSpace(c.Discovery.Static.File) == "", "discovery.static.file is required")
	if c.KVEvents.Enabled {
		k := &c.KVEvents
		check(k.Tokenizer != "engine", "kvEvents.tokenizer %q: want engine (the endpoints' /tokenize)", k.Tokenizer)
		check(k.TokenizeTimeout.Duration <= 0, "kvEvents.tokenizeTimeout must be positive")
		check(k.TokenizeWhen != "undecided" && k.TokenizeWhen != "always", "kvEvents.tokenizeWhen %q: want undecided or always", k.TokenizeWhen)
		check(k.TokenizeCacheTokens < 0, "kvEvents.tokenizeCacheTokens %d: must not be negative", k.TokenizeCacheTokens)
		check(c.KVEvents.Port < 1 || c.KVEvents.Port > 65535, "kvEvents.port %d: not a port", c.KVEvents.Port)
		check(c.KVEvents.BlockTokens < 1, "kvEvents.blockTokens %d: must be positive", c.KVEvents.BlockTokens)
		check(c.KVEvents.SilenceAfter.Duration <= 0, "kvEvents.silenceAfter must be positive")
	}
	errs = append(errs, c.Flow.validate()...)
	errs = append(errs, c.ScaleFromZero.validate()...)
	errs = append(errs, c.Peers.validate()...)
	check(c.Peers.Address != "" && c.Peers.Address == c.Listen, "peers.address %q: must differ from listen", c.Peers.Address)
	check(c.Metrics.Address != "" && c.Metrics.Address == c.Listen,
		"metrics.address %q is the API's listen address; set it to \"\" to serve /metrics on the API listener", c.Metrics.Address)
	if err := c.Tenants.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateTimeouts checks the timeouts and limits sections.
func (c *Config) validateTimeouts() []error {
	var errs []error
	t := &c.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"connect", t.Connect.Duration}, {"body", t.Body.Duration}, {"firstByte", t.FirstByte.Duration},
		{"streamIdle", t.StreamIdle.Duration}, {"request", t.Request.Duration}, {"idle", t.Idle.Duration},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("timeouts.%s %s: must not be negative", d.name, d.v))
		}
	}
	// Without a header timeout net/http waits for headers forever.
	if t.Header.Duration <= 0 {
		errs = append(errs, fmt.Errorf("timeouts.header %s: must be positive", t.Header.Duration))
	}
	// net/http needs room for a request line and a few headers.
	if c.Limits.MaxHeaderBytes < 1024 {
		errs = append(errs, fmt.Errorf("limits.maxHeaderBytes %d: must be at least 1024", c.Limits.MaxHeaderBytes))
	}
	if c.Limits.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("limits.maxInFlight %d: must be positive", c.Limits.MaxInFlight))
	}
	return errs
}

// validate checks the flowControl section, on or off.
func (f *FlowConfig) validate() []error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(f.MaxWait.Duration <= 0, "flowControl.maxWait %s: must be positive", f.MaxWait)
	check(f.MaxQueue < 1, "flowControl.maxQueue %d: must be positive", f.MaxQueue)
	check(f.QueueDelay.Duration < 0, "flowControl.queueDelay %s: must not be negative", f.QueueDelay)
	check(!(f.KVUsage >= 0 && f.KVUsage <= 1), "flowControl.kvUsage %g: want 0 to 1", f.KVUsage)
	check(f.QueueDelay.Duration == 0 && f.KVUsage == 0, "flowControl: queueDelay and kvUsage are both 0; no endpoint would ever be at its efficient load")
	check(f.LIFOAfter.Duration < 0, "flowControl.lifoAfter %s: must not be negative", f.LIFOAfter)
	check(f.Tick.Duration <= 0, "flowControl.tick %s: must be positive", f.Tick)
	check(f.OverloadAfter.Duration < 0 || f.OverloadWait.Duration < 0, "flowControl.overloadAfter and overloadWait must not be negative")
	check(f.TTFTTarget.Duration < 0, "flowControl.ttftTarget %s: must not be negative", f.TTFTTarget)
	check(!(f.KVFill >= 0), "flowControl.kvFill %g: must not be negative", f.KVFill)
	check(!(f.QuietFactor == 0 || f.QuietFactor >= 1), "flowControl.quietFactor %g: want 0 (off) or at least 1 (a quiet endpoint carries 1/quietFactor of a busy one's requests)", f.QuietFactor)
	check(!slices.Contains([]string{EnginePriorityOff, EnginePriorityLowerFirst, EnginePriorityHigherFirst}, f.EnginePriority),
		"flowControl.enginePriority %q: want %q, %q or empty (off)", f.EnginePriority, EnginePriorityLowerFirst, EnginePriorityHigherFirst)
	return errs
}
