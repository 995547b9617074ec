package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/schedule"
)

// main registers exactly the plugins the router package's tests use.
func TestRegisteredPlugins(t *testing.T) {
	if diff := cmp.Diff(schedule.DefaultPlugins().Names(), registerPlugins().Names()); diff != "" {
		t.Errorf("plugins (-tests +main):\n%s", diff)
	}
}

func TestLoadConfigFromFlags(t *testing.T) {
	cases := []struct {
		name    string
		f       flags
		wantErr string
	}{
		{name: "no discovery", f: flags{}, wantErr: "no discovery"},
		{name: "both discoveries", f: flags{endpoints: "e.yaml", kubernetes: true}, wantErr: "not both"},
		{name: "bad policy", f: flags{endpoints: "e.yaml", policy: "fastest"}, wantErr: "unknown policy"},
		{name: "static with overrides", f: flags{endpoints: "e.yaml", listen: ":9", policy: "prefix"}},
		{name: "kubernetes", f: flags{kubernetes: true, namespace: "ns"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(tc.f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.f.listen != "" && cfg.Listen != tc.f.listen || tc.f.policy != "" && cfg.Policy != tc.f.policy {
				t.Errorf("flags not applied: %+v", cfg)
			}
			if tc.f.kubernetes && (cfg.Discovery.Kubernetes == nil || cfg.Discovery.Kubernetes.Namespace != "ns") {
				t.Errorf("kubernetes discovery %+v", cfg.Discovery)
			}
		})
	}
}
