// Package tenant identifies who sent a request and enforces per-tenant
// rate limits, concurrency limits and fair shares.
//
// A tenant is named by its API key (Authorization: Bearer <key>, looked up
// in a keys file) or, without a keys file, by a header (X-Tandem-Tenant by
// default); requests naming neither belong to "default". Each tenant has a
// token bucket (requests a second and a burst) and a cap on open requests;
// either refusal is a 429. FairShare tells the router, when every engine is
// saturated, whether a tenant holds more than its share of the open
// requests, so the heaviest tenants are shed first.
package tenant

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"sigs.k8s.io/yaml"
)

// Limits are one tenant's limits; zero fields are unlimited.
type Limits struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Burst             int     `json:"burst"`
	MaxInFlight       int     `json:"maxInFlight"`
}

// Config configures tenants.
type Config struct {
	// Header names the tenant when there is no keys file.
	Header string `json:"header"`
	// KeysFile is YAML mapping API keys to tenants: {keys: {"sk-...": team-a}}.
	KeysFile string `json:"keysFile"`
	// RequireKey refuses (401) requests without a known key when a keys
	// file is set.
	RequireKey bool `json:"requireKey"`
	// Default applies to tenants without their own entry.
	Default Limits            `json:"default"`
	Limits  map[string]Limits `json:"limits"`
}

// DefaultConfig names tenants by the X-Tandem-Tenant header, unlimited.
func DefaultConfig() Config { return Config{Header: "X-Tandem-Tenant"} }

// Validate checks limits.
func (c *Config) Validate() error {
	var errs []error
	for name, l := range c.Limits {
		if l.RequestsPerSecond < 0 || l.Burst < 0 || l.MaxInFlight < 0 {
			errs = append(errs, fmt.Errorf("tenants.limits.%s: limits must not be negative", name))
		}
	}
	if c.Default.RequestsPerSecond < 0 || c.Default.Burst < 0 || c.Default.MaxInFlight < 0 {
		errs = append(errs, errors.New("tenants.default: limits must not be negative"))
	}
	return errors.Join(errs...)
}

// DefaultTenant names requests that carry no tenant.
const DefaultTenant = "default"

// maxTenants bounds the tenants tracked; header-named tenants beyond it
// share one state, so clients cannot grow memory without limit.
const maxTenants = 10000

const overflowTenant = "overflow"

// Refusal is why a request was not admitted.
type Refusal string

const (
	RefusedRate     Refusal = "tenant-rate"
	RefusedInFlight Refusal = "tenant-in-flight"
	RefusedKey      Refusal = "unknown-key"
)

type state struct {
	limiter  *rate.Limiter // nil: unlimited
	max      int64
	inFlight atomic.Int64
}

// Tenants tracks tenants. It is safe for concurrent use.
type Tenants struct {
	cfg      Config
	keys     map[string]string
	mu       sync.RWMutex
	states   map[string]*state
	inFlight atomic.Int64
}

// New loads the keys file, if any.
func New(cfg Config) (*Tenants, error) {
	t := &Tenants{cfg: cfg, states: map[string]*state{}}
	if cfg.KeysFile != "" {
		data, err := os.ReadFile(cfg.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("tenant keys: %w", err)
		}
		var f struct {
			Keys map[string]string `json:"keys"`
		}
		if err := yaml.UnmarshalStrict(data, &f); err != nil {
			return nil, fmt.Errorf("tenant keys %s: %w", cfg.KeysFile, err)
		}
		t.keys = f.Keys
	}
	return t, nil
}

// Identify names the tenant of r; ok is false when a key is required and
// r has no known one.
func (t *Tenants) Identify(r *http.Request) (name string, ok bool) {
	if t.keys != nil {
		auth := r.Header.Get("Authorization")
		if key, found := strings.CutPrefix(auth, "Bearer "); found {
			if name, known := t.keys[key]; known {
				return name, true
			}
		}
		return DefaultTenant, !t.cfg.RequireKey
	}
	if t.cfg.Header != "" {
		if v := r.Header.Get(t.cfg.Header); v != "" {
			return v, true
		}
	}
	return DefaultTenant, true
}

func (t *Tenants) get(name string) *state {
	t.mu.RLock()
	s := t.states[name]
	t.mu.RUnlock()
	if s != nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s = t.states[name]; s != nil {
		return s
	}
	if len(t.states) >= maxTenants {
		name = overflowTenant
		if s = t.states[name]; s != nil {
			return s
		}
	}
	l, ok := t.cfg.Limits[name]
	if !ok {
		l = t.cfg.Default
	}
	s = &state{max: int64(l.MaxInFlight)}
	if l.RequestsPerSecond > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(l.RequestsPerSecond), max(l.Burst, 1))
	}
	t.states[name] = s
	return s
}

// Ticket is an admitted request; Release it when the request ends.
type Ticket struct {
	t *Tenants
	s *state
}

// Release ends the request. It is safe on a zero Ticket.
func (k Ticket) Release() {
	if k.s != nil {
		k.s.inFlight.Add(-1)
		k.t.inFlight.Add(-1)
	}
}

// Admit takes a request of tenant name.
func (t *Tenants) Admit(name string, now time.Time) (Ticket, Refusal) {
	s := t.get(name)
	if s.limiter != nil && !s.limiter.AllowN(now, 1) {
		return Ticket{}, RefusedRate
	}
	if n := s.inFlight.Add(1); s.max > 0 && n > s.max {
		s.inFlight.Add(-1)
		return Ticket{}, RefusedInFlight
	}
	t.inFlight.Add(1)
	return Ticket{t: t, s: s}, ""
}

// OverFairShare reports whether tenant name holds more than its share of
// the open requests (total divided by the tenants with open requests).
func (t *Tenants) OverFairShare(name string) bool {
	mine := t.get(name).inFlight.Load()
	total := t.inFlight.Load()
	t.mu.RLock()
	active := 0
	for _, s := range t.states {
		if s.inFlight.Load() > 0 {
			active++
		}
	}
	t.mu.RUnlock()
	return active > 1 && mine*int64(active) > total
}
