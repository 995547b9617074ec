package routerbench

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func TestMakeRouterFiles(t *testing.T) {
	cases := []struct {
		name       string
		base       string
		wantConfig map[string]any
		wantErr    string
	}{
		{
			name: "no base",
			wantConfig: map[string]any{
				"listen": "127.0.0.1:9000", "policy": "tandem",
				"discovery": map[string]any{"static": map[string]any{"file": "/tmp/x/endpoints.yaml"}},
			},
		},
		{
			name: "base settings kept",
			base: "scrape:\n  interval: 100ms\nratePrior: 5000\n",
			wantConfig: map[string]any{
				"listen": "127.0.0.1:9000", "policy": "tandem",
				"discovery": map[string]any{"static": map[string]any{"file": "/tmp/x/endpoints.yaml"}},
				"scrape":    map[string]any{"interval": "100ms"}, "ratePrior": float64(5000),
			},
		},
		{name: "base sets the listen address", base: "listen: :8080\n", wantErr: `"listen" is set by the benchmark`},
		{name: "base sets a profile", base: "profile: {}\n", wantErr: `"profile" is set by the benchmark`},
		{name: "base is not YAML", base: "listen: [", wantErr: "router config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files, err := MakeRouterFiles([]byte(tc.base), "127.0.0.1:9000", "tandem", "/tmp/x/endpoints.yaml", "m",
				[]string{"127.0.0.1:1", "127.0.0.1:2"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := yaml.Unmarshal(files.Config, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantConfig, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			var eps map[string]any
			if err := yaml.Unmarshal(files.Endpoints, &eps); err != nil {
				t.Fatal(err)
			}
			wantEps := map[string]any{
				"models":    []any{"m"},
				"endpoints": []any{map[string]any{"address": "127.0.0.1:1"}, map[string]any{"address": "127.0.0.1:2"}},
			}
			if diff := cmp.Diff(wantEps, eps); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := MakeRouterFiles(nil, "a:1", "tandem", "e", "m", nil); err == nil {
		t.Error("no engines: want an error")
	}
}

func TestCheckPolicies(t *testing.T) {
	if err := checkPolicies(Policies); err != nil {
		t.Errorf("every preset: %v", err)
	}
	for _, bad := range [][]string{nil, {"tandem", "sticky"}} {
		if err := checkPolicies(bad); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}
