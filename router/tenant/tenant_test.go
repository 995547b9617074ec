package tenant

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// req is a request from peer (an "ip:port") with the given header pairs.
func req(peer string, header ...string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://x/v1/completions", nil)
	r.RemoteAddr = peer
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func writeKeys(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustNew(t *testing.T, cfg Config) *Tenants {
	t.Helper()
	ts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func digest(key string) string {
	d := sha256.Sum256([]byte(key))
	return digestPrefix + hex.EncodeToString(d[:])
}

const (
	gateway = "10.1.2.3:40000"
	stray   = "192.0.2.7:40000"
)

func TestIdentify(t *testing.T) {
	keys := writeKeys(t, "keys:\n  sk-a: team-a\n  \""+digest("sk-b")+"\": team-b\n")
	byKey := mustNew(t, Config{KeysFile: keys, KeyHeaders: []string{"api-key"}})
	anyPeer := mustNew(t, Config{Header: "X-Tandem-Tenant", List: []Entry{{Name: "blue"}}})
	gatewayOnly := mustNew(t, Config{Header: "X-Tandem-Tenant", TrustedPeers: []string{"10.0.0.0/8", "2001:db8::/32"}})
	nobody := mustNew(t, DefaultConfig())
	type got struct {
		Name, Label string
		OK          bool
	}
	cases := []struct {
		name string
		t    *Tenants
		r    *http.Request
		want got
	}{
		{"known key", byKey, req(stray, "Authorization", "Bearer sk-a"), got{"team-a", "team-a", true}},
		{"bearer scheme in any case", byKey, req(stray, "Authorization", "bearer sk-a"), got{"team-a", "team-a", true}},
		{"key held as a digest", byKey, req(stray, "Authorization", "Bearer sk-b"), got{"team-b", "team-b", true}},
		{"the digest itself is no key", byKey, req(stray, "Authorization", "Bearer "+digest("sk-b")), got{OK: false}},
		{"key in a key header", byKey, req(stray, "Api-Key", "sk-a"), got{"team-a", "team-a", true}},
		{"unknown key", byKey, req(stray, "Authorization", "Bearer sk-x"), got{OK: false}},
		{"no key", byKey, req(stray), got{OK: false}},
		{"basic auth is no key", byKey, req(stray, "Authorization", "Basic c2stYQ=="), got{OK: false}},
		{"a key ignores the tenant header", byKey, req(gateway, "Authorization", "Bearer sk-a", "X-Tandem-Tenant", "team-b"), got{"team-a", "team-a", true}},
		{"header from any peer", anyPeer, req(stray, "X-Tandem-Tenant", "blue"), got{"blue", "blue", true}},
		{"unlisted header tenant keeps its name, not its label", anyPeer, req(stray, "X-Tandem-Tenant", "x-123"), got{"x-123", UnlistedLabel, true}},
		{"no header", anyPeer, req(stray), got{DefaultTenant, DefaultTenant, true}},
		{"header from a trusted peer", gatewayOnly, req(gateway, "X-Tandem-Tenant", "blue"), got{"blue", UnlistedLabel, true}},
		{"header from a trusted IPv6 peer", gatewayOnly, req("[2001:db8::1]:5000", "X-Tandem-Tenant", "blue"), got{"blue", UnlistedLabel, true}},
		{"header from an untrusted peer ignored", gatewayOnly, req(stray, "X-Tandem-Tenant", "blue"), got{DefaultTenant, DefaultTenant, true}},
		{"X-Forwarded-For does not make a peer trusted", gatewayOnly, req(stray, "X-Tandem-Tenant", "blue", "X-Forwarded-For", "10.0.0.1"), got{DefaultTenant, DefaultTenant, true}},
		{"no header configured", nobody, req(gateway, "X-Tandem-Tenant", "blue"), got{DefaultTenant, DefaultTenant, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok := tc.t.Identify(tc.r)
			if diff := cmp.Diff(tc.want, got{id.Name, id.Label, ok}); diff != "" {
				t.Errorf("Identify (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	ts := mustNew(t, Config{
		Header:  "X-Tandem-Tenant",
		Default: Policy{Priority: 2},
		List: []Entry{
			{Name: "batch", Policy: Policy{Priority: 5}},
			{Name: "app", Policy: Policy{Priority: 3, AllowPriorityOverride: true, MaxPriority: 1}},
		},
	})
	cases := []struct {
		name      string
		tenant    string
		requested int
		asked     bool
		want      int
	}{
		{"default tenant gets the default policy", "", 0, false, 2},
		{"default tenant cannot override", "", -10, true, 2},
		{"listed tenant without the right keeps its own", "batch", 0, true, 5},
		{"allowed tenant without asking", "app", 0, false, 3},
		{"allowed tenant asks for less importance", "app", 7, true, 7},
		{"allowed tenant asks within its cap", "app", 1, true, 1},
		{"allowed tenant capped at maxPriority", "app", -100, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, _ := ts.Identify(req(stray, "X-Tandem-Tenant", tc.tenant))
			if got := id.Priority(tc.requested, tc.asked); got != tc.want {
				t.Errorf("Priority(%d, %v) = %d, want %d", tc.requested, tc.asked, got, tc.want)
			}
		})
	}
	if got := (Identity{}).Priority(-5, true); got != 0 {
		t.Errorf("zero Identity: Priority = %d, want 0 (no override)", got)
	}
}

func TestParseKeys(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		want    map[string]string // key → tenant, looked up
		wantErr string
	}{
		{name: "plain and digest", file: "keys:\n  sk-1: a\n  \"" + digest("sk-2") + "\": b\n", want: map[string]string{"sk-1": "a", "sk-2": "b"}},
		{name: "same key twice, same tenant", file: "keys:\n  sk-1: a\n  \"" + digest("sk-1") + "\": a\n", want: map[string]string{"sk-1": "a"}},
		{name: "same key, two tenants", file: "keys:\n  sk-1: a\n  \"" + digest("sk-1") + "\": b\n", wantErr: "one key names two tenants"},
		{name: "no tenant", file: "keys:\n  sk-1: \"\"\n", wantErr: "names no tenant"},
		{name: "short digest", file: "keys:\n  \"sha256:abcd\": a\n", wantErr: "needs 64 hex digits"},
		{name: "digest not hex", file: "keys:\n  \"sha256:" + strings.Repeat("zz", 32) + "\": a\n", wantErr: "is not hex"},
		{name: "unknown field", file: "tenants: {}\n", wantErr: "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeys([]byte(tc.file))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "sk-1") {
					t.Errorf("error %q quotes a key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for key := range tc.want {
				if name, ok := k.lookup(key); ok {
					got[key] = name
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lookups (-want +got):\n%s", diff)
			}
			if _, ok := k.lookup("sk-unknown"); ok {
				t.Error("an unknown key was found")
			}
		})
	}
}

// The keys file is reread when it changes; a broken edit keeps the keys
// in place.
func TestReloadKeys(t *testing.T) {
	path := writeKeys(t, "keys: {sk-old: team}\n")
	ts := mustNew(t, Config{KeysFile: path})
	known := func(key string) bool {
		_, ok := ts.Identify(req(stray, "Authorization", "Bearer "+key))
		return ok
	}
	if changed, err := ts.ReloadKeys(); changed || err != nil {
		t.Errorf("unchanged file: changed %v, err %v", changed, err)
	}
	if err := os.WriteFile(path, []byte("keys: {sk-new: team}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := ts.ReloadKeys(); !changed || err != nil {
		t.Fatalf("new file: changed %v, err %v", changed, err)
	}
	if known("sk-old") || !known("sk-new") {
		t.Errorf("after reload: old key known %v, new key known %v; want false, true", known("sk-old"), known("sk-new"))
	}
	if err := os.WriteFile(path, []byte("keys: [broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.ReloadKeys(); err == nil {
		t.Error("a broken file reloaded without error")
	}
	if !known("sk-new") {
		t.Error("a broken file dropped the keys in force")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "default", cfg: DefaultConfig()},
		{name: "header with peers", cfg: Config{Header: "X-Tenant", TrustedPeers: []string{"10.0.0.0/8", "192.0.2.1", "fd00::/8"}}},
		{name: "keys and header", cfg: Config{KeysFile: "k.yaml", Header: "X-Tenant"}, wantErr: "tenants.header: with tenants.keysFile"},
		{name: "peers without header", cfg: Config{TrustedPeers: []string{"10.0.0.0/8"}}, wantErr: "only used with tenants.header"},
		{name: "bad peer", cfg: Config{Header: "X-Tenant", TrustedPeers: []string{"10.0.0.0/33"}}, wantErr: "tenants.trustedPeers[0]"},
		{name: "authorization as key header", cfg: Config{KeyHeaders: []string{"authorization"}}, wantErr: "tenants.keyHeaders[0]"},
		{name: "negative limit", cfg: Config{List: []Entry{{Name: "a", Policy: Policy{Burst: -1}}}}, wantErr: "tenants.list[0]: limits must not be negative"},
		{name: "no name", cfg: Config{List: []Entry{{}}}, wantErr: "tenants.list[0].name is required"},
		{name: "duplicate", cfg: Config{List: []Entry{{Name: "a"}, {Name: "a"}}}, wantErr: `tenants.list[1]: duplicate tenant "a"`},
		{name: "priority above its own cap", cfg: Config{Default: Policy{Priority: 0, AllowPriorityOverride: true, MaxPriority: 2}}, wantErr: "tenants.default: priority 0 is more important than maxPriority 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	ts := mustNew(t, Config{List: []Entry{
		{Name: "rate", Policy: Policy{RequestsPerSecond: 1, Burst: 2}},
		{Name: "in-use", Policy: Policy{MaxInFlight: 1}},
	}})
	now := time.Unix(100, 0)
	var got []Refusal
	for range 3 {
		_, r := ts.Admit("rate", now)
		got = append(got, r)
	}
	if diff := cmp.Diff([]Refusal{"", "", RefusedRate}, got); diff != "" {
		t.Errorf("rate limit with burst 2 (-want +got):\n%s", diff)
	}
	if _, r := ts.Admit("rate", now.Add(time.Second)); r != "" {
		t.Errorf("a second later: %q, want admitted", r)
	}
	k, r := ts.Admit("in-use", now)
	if r != "" {
		t.Fatal(r)
	}
	if _, r := ts.Admit("in-use", now); r != RefusedInFlight {
		t.Errorf("second open request: %q, want %q", r, RefusedInFlight)
	}
	k.Release()
	if _, r := ts.Admit("in-use", now); r != "" {
		t.Errorf("after release: %q", r)
	}
	if _, r := ts.Admit("anyone", now); r != "" {
		t.Errorf("unlimited tenant refused: %q", r)
	}
}

func TestOverFairShare(t *testing.T) {
	ts := mustNew(t, DefaultConfig())
	now := time.Unix(100, 0)
	for range 6 {
		ts.Admit("heavy", now)
	}
	ts.Admit("light", now)
	if !ts.OverFairShare("heavy") || ts.OverFairShare("light") {
		t.Errorf("heavy over %v, light over %v; want true, false", ts.OverFairShare("heavy"), ts.OverFairShare("light"))
	}
	if ts.OverFairShare("alone") {
		t.Error("a tenant with no open requests is over its share")
	}
}

func TestForwardable(t *testing.T) {
	headers := []string{"Authorization", "X-Request-Id", "api-key", "Traceparent"}
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"no keys: all", Config{}, headers},
		{"keys: no credentials", Config{KeysFile: "k.yaml", KeyHeaders: []string{"Api-Key"}}, []string{"X-Request-Id", "Traceparent"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.cfg.Forwardable(headers)); diff != "" {
				t.Errorf("Forwardable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestString(t *testing.T) {
	keys := writeKeys(t, "keys: {sk-a: a}\n")
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{KeysFile: keys}, "API keys from " + keys},
		{Config{Header: "X-Tenant", TrustedPeers: []string{"10.0.0.0/8"}}, "header X-Tenant from 1 trusted networks"},
		{Config{Header: "X-Tenant"}, "header X-Tenant from any peer"},
		{DefaultConfig(), "every request is tenant default"},
	}
	for _, tc := range cases {
		if got := mustNew(t, tc.cfg).String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
