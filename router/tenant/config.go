package tenant

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Policy is what the router grants one tenant: limits (zero is unlimited)
// and the priority its requests get.
type Policy struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Burst             int     `json:"burst"`
	MaxInFlight       int     `json:"maxInFlight"`
	// Priority is the priority of the tenant's requests (lower is more
	// important, as in vLLM); shedding and flow control read it.
	Priority int `json:"priority"`
	// AllowPriorityOverride lets the tenant's requests set their own
	// priority (the priority header, else the body's "priority"). Without
	// it a client's value is ignored.
	AllowPriorityOverride bool `json:"allowPriorityOverride"`
	// MaxPriority is the most important priority an override may ask
	// for: a request asking for a lower number gets MaxPriority.
	MaxPriority int `json:"maxPriority"`
}

// Entry is one configured tenant.
type Entry struct {
	Name   string `json:"name"`
	Policy `json:",inline"`
}

// Config configures tenants. Identity comes from, in order: an API key
// (KeysFile), else the Header when it is set and the peer is trusted,
// else the tenant is "default".
type Config struct {
	// KeysFile is YAML mapping API keys to tenants (see ParseKeys). With
	// it every request needs a known key (401 otherwise) and the key alone
	// names the tenant.
	KeysFile string `json:"keysFile"`
	// KeyHeaders are headers besides Authorization (Bearer) that may
	// carry a bare key, e.g. api-key (Azure OpenAI clients) or x-api-key.
	KeyHeaders []string `json:"keyHeaders"`
	// Header, when set, names the tenant on requests from TrustedPeers
	// (e.g. set by an authenticating gateway). Off by default; not
	// allowed with KeysFile.
	Header string `json:"header"`
	// TrustedPeers are the networks (CIDRs) whose connections may name a
	// tenant by Header; empty trusts every peer. The peer is the TCP peer
	// address, never X-Forwarded-For.
	TrustedPeers []string `json:"trustedPeers"`
	// Default applies to tenants without an entry in List.
	Default Policy  `json:"default"`
	List    []Entry `json:"list"`
}

// DefaultConfig identifies no one: every request is the default tenant,
// unlimited, priority 0, and client-set priorities are ignored.
func DefaultConfig() Config { return Config{} }

// Validate reports every impossible setting.
func (c *Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.KeysFile != "" && c.Header != "",
		"tenants.header: with tenants.keysFile the API key alone names the tenant; remove one of them")
	check(len(c.TrustedPeers) > 0 && c.Header == "", "tenants.trustedPeers: only used with tenants.header")
	for i, p := range c.TrustedPeers {
		if _, err := parsePeer(p); err != nil {
			errs = append(errs, fmt.Errorf("tenants.trustedPeers[%d]: %w", i, err))
		}
	}
	for i, h := range c.KeyHeaders {
		check(strings.TrimSpace(h) == "" || strings.EqualFold(h, "Authorization"),
			"tenants.keyHeaders[%d] %q: want a header name other than Authorization (always read)", i, h)
	}
	errs = append(errs, c.Default.validate("tenants.default"))
	seen := map[string]bool{}
	for i, e := range c.List {
		where := fmt.Sprintf("tenants.list[%d]", i)
		check(strings.TrimSpace(e.Name) == "", "%s.name is required", where)
		check(seen[e.Name], "%s: duplicate tenant %q", where, e.Name)
		check(e.Name == overflowTenant, "%s: %q is reserved", where, e.Name)
		seen[e.Name] = true
		errs = append(errs, e.validate(where))
	}
	return errors.Join(errs...)
}

func (p *Policy) validate(where string) error {
	if p.RequestsPerSecond < 0 || p.Burst < 0 || p.MaxInFlight < 0 {
		return fmt.Errorf("%s: limits must not be negative", where)
	}
	if p.AllowPriorityOverride && p.Priority < p.MaxPriority {
		return fmt.Errorf("%s: priority %d is more important than maxPriority %d", where, p.Priority, p.MaxPriority)
	}
	return nil
}

// parsePeer takes a CIDR or a bare address (one host).
func parsePeer(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("want a CIDR like 10.0.0.0/8: %w", err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want a CIDR like 10.0.0.0/8 or an address: %w", err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Forwardable is headers without those that carry a router API key
// (Authorization and KeyHeaders) when a keys file is set: a key is the
// client's credential for the router, and engines (and their logs) must
// not see it. Without keys, headers is returned as it is.
func (c *Config) Forwardable(headers []string) []string {
	if c.KeysFile == "" {
		return headers
	}
	var out []string
	for _, h := range headers {
		secret := strings.EqualFold(h, "Authorization")
		for _, k := range c.KeyHeaders {
			secret = secret || strings.EqualFold(h, k)
		}
		if !secret {
			out = append(out, h)
		}
	}
	return out
}
