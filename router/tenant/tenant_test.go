package tenant

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func req(header ...string) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://x/v1/completions", nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func TestIdentify(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte("keys:\n  sk-a: team-a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	byHeader, _ := New(DefaultConfig())
	byKey, err := New(Config{KeysFile: keys})
	if err != nil {
		t.Fatal(err)
	}
	strict, _ := New(Config{KeysFile: keys, RequireKey: true})
	cases := []struct {
		name   string
		t      *Tenants
		r      *http.Request
		want   string
		wantOK bool
	}{
		{"header", byHeader, req("X-Tandem-Tenant", "blue"), "blue", true},
		{"no header", byHeader, req(), DefaultTenant, true},
		{"known key", byKey, req("Authorization", "Bearer sk-a"), "team-a", true},
		{"unknown key", byKey, req("Authorization", "Bearer sk-x"), DefaultTenant, true},
		{"keys ignore the header", byKey, req("X-Tandem-Tenant", "blue"), DefaultTenant, true},
		{"unknown key refused when required", strict, req("Authorization", "Bearer sk-x"), DefaultTenant, false},
		{"known key when required", strict, req("Authorization", "Bearer sk-a"), "team-a", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.t.Identify(tc.r)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("Identify = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAdmit(t *testing.T) {
	ts, _ := New(Config{Limits: map[string]Limits{
		"rate":   {RequestsPerSecond: 1, Burst: 2},
		"in-use": {MaxInFlight: 1},
	}})
	now := time.Unix(100, 0)
	var got []Refusal
	for range 3 {
		_, r := ts.Admit("rate", now)
		got = append(got, r)
	}
	if got[0] != "" || got[1] != "" || got[2] != RefusedRate {
		t.Errorf("rate limit with burst 2: %q", got)
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
	ts, _ := New(DefaultConfig())
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
