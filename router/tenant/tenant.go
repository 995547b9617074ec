// Package tenant decides who sent a request, what priority it gets, and
// enforces per-tenant rate limits, concurrency limits and fair shares.
//
// Identity is computed once per request, before its body is read
// (Identify), in this order:
//
//  1. With a keys file (Config.KeysFile), the API key alone names the
//     tenant: Authorization: Bearer <key> (what OpenAI clients send), or a
//     bare key in one of Config.KeyHeaders. A missing or unknown key is
//     refused (the router answers 401 without reading the body). Keys are
//     held as SHA-256 digests only and the file is reread when it changes.
//  2. Without keys, Config.Header (off by default) names the tenant, but
//     only on connections from Config.TrustedPeers when those are set (the
//     TCP peer, never X-Forwarded-For, which any client can write).
//  3. Otherwise the request belongs to DefaultTenant.
//
// The tenant's Policy (its List entry, else Config.Default) gives the
// request's priority. A client's priority (header or body) counts only for
// a tenant with AllowPriorityOverride and never more important than its
// MaxPriority (Identity.Priority), so shedding and fair share cannot be
// escaped by a client-set value.
//
// Each tenant has a token bucket (requests a second and a burst) and a cap
// on open requests; either refusal is a 429. OverFairShare tells the
// router, when every engine is saturated, whether a tenant holds more than
// its share of the open requests, so the heaviest tenants are shed first.
package tenant

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultTenant names requests that carry no tenant.
const DefaultTenant = "default"

// UnlistedLabel is the metrics label of header-named tenants that have no
// List entry: clients choose those names, so they must not become labels.
const UnlistedLabel = "unlisted"

// maxTenants bounds the tenants tracked; header-named tenants beyond it
// share one state, so clients cannot grow memory without limit.
const maxTenants = 10000

const overflowTenant = "overflow"

// Refusal is why a request was not admitted.
type Refusal string

const (
	RefusedRate     Refusal = "tenant-rate"
	RefusedInFlight Refusal = "tenant-in-flight"
)

type state struct {
	limiter  *rate.Limiter // nil: unlimited
	max      int64
	inFlight atomic.Int64
}

// Tenants tracks tenants. It is safe for concurrent use.
type Tenants struct {
	cfg      Config
	policies map[string]*Policy
	peers    []netip.Prefix
	keys     atomic.Pointer[keyring] // nil: no keys file
	keysMu   sync.Mutex              // serializes reloads
	keysSum  [sha256.Size]byte       // of the file last loaded
	mu       sync.RWMutex
	states   map[string]*state
	inFlight atomic.Int64
}

// New checks cfg and loads the keys file, if any.
func New(cfg Config) (*Tenants, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Tenants{cfg: cfg, states: map[string]*state{}, policies: map[string]*Policy{}}
	for i := range cfg.List {
		t.policies[cfg.List[i].Name] = &t.cfg.List[i].Policy
	}
	for _, p := range cfg.TrustedPeers {
		prefix, _ := parsePeer(p) // checked by Validate
		t.peers = append(t.peers, prefix)
	}
	if _, err := t.ReloadKeys(); err != nil {
		return nil, err
	}
	return t, nil
}

// Identity is who sent a request, resolved once per request.
type Identity struct {
	// Name is the tenant.
	Name string
	// Label is Name for configured tenants (List, keys file, default)
	// and UnlistedLabel for other header-named ones.
	Label  string
	policy *Policy
}

// Priority is the request's priority: the tenant's, unless the tenant may
// override it and the client asked (asked), then the client's value made
// no more important than the tenant's MaxPriority.
func (id Identity) Priority(requested int, asked bool) int {
	p := id.policy
	if p == nil {
		p = &Policy{}
	}
	if !asked || !p.AllowPriorityOverride {
		return p.Priority
	}
	return max(requested, p.MaxPriority)
}

// MaySetPriority reports whether the tenant's requests may set their own
// priority (Policy.AllowPriorityOverride).
func (id Identity) MaySetPriority() bool { return id.policy != nil && id.policy.AllowPriorityOverride }

// Identify names the tenant of r from its headers and peer address only;
// ok is false when a key is required and r has no known one.
func (t *Tenants) Identify(r *http.Request) (id Identity, ok bool) {
	if k := t.keys.Load(); k != nil {
		name, known := k.lookup(t.presentedKey(r))
		if !known {
			return Identity{}, false
		}
		return t.identity(name, true), true
	}
	if t.cfg.Header != "" && t.trusted(r.RemoteAddr) {
		if v := r.Header.Get(t.cfg.Header); v != "" {
			return t.identity(v, false), true
		}
	}
	return t.identity(DefaultTenant, true), true
}

func (t *Tenants) identity(name string, configured bool) Identity {
	p, listed := t.policies[name]
	if !listed {
		p = &t.cfg.Default
	}
	label := name
	if !listed && !configured {
		label = UnlistedLabel
	}
	return Identity{Name: name, Label: label, policy: p}
}

// presentedKey is the key r carries: Authorization's Bearer token (the
// scheme is case-insensitive, RFC 6750), else the first KeyHeaders value.
func (t *Tenants) presentedKey(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); len(auth) > len("Bearer ") && strings.EqualFold(auth[:len("Bearer ")], "Bearer ") {
		return strings.TrimSpace(auth[len("Bearer "):])
	}
	for _, h := range t.cfg.KeyHeaders {
		if v := r.Header.Get(h); v != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// trusted reports whether the TCP peer at remoteAddr ("ip:port") may name
// a tenant by header.
func (t *Tenants) trusted(remoteAddr string) bool {
	if len(t.peers) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range t.peers {
		if p.Contains(a) {
			return true
		}
	}
	return false
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
	l, ok := t.policies[name]
	if !ok {
		l = &t.cfg.Default
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

// String describes the identity rules in force, for the startup log.
func (t *Tenants) String() string {
	switch {
	case t.keys.Load() != nil:
		return fmt.Sprintf("API keys from %s", t.cfg.KeysFile)
	case t.cfg.Header != "" && len(t.peers) > 0:
		return fmt.Sprintf("header %s from %d trusted networks", t.cfg.Header, len(t.peers))
	case t.cfg.Header != "":
		return "header " + t.cfg.Header + " from any peer"
	}
	return "every request is tenant " + DefaultTenant
}
