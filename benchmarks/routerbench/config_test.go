package routerbench

import (
	"fmt"
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
				"listen": "127.0.0.1:9000", "policy": "tandem", "metrics": map[string]any{"address": ""},
				"discovery": map[string]any{"static": map[string]any{"file": "/tmp/x/endpoints.yaml"}},
			},
		},
		{
			name: "a base's metrics listener kept",
			base: "metrics: {address: 127.0.0.1:9464}\n",
			wantConfig: map[string]any{
				"listen": "127.0.0.1:9000", "policy": "tandem", "metrics": map[string]any{"address": "127.0.0.1:9464"},
				"discovery": map[string]any{"static": map[string]any{"file": "/tmp/x/endpoints.yaml"}},
			},
		},
		{
			name: "base settings kept",
			base: "scrape:\n  interval: 100ms\nratePrior: 5000\n",
			wantConfig: map[string]any{
				"listen": "127.0.0.1:9000", "policy": "tandem", "metrics": map[string]any{"address": ""},
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

func TestParsePolicies(t *testing.T) {
	files := map[string]string{"aff.yaml": "profile:\n  picker: {name: affinity}\n", "bad.yaml": "profile: [", "pen.yaml": "penalty: {kvTokens: 1}\n"}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: no such file", name)
	}
	labels, variants, err := ParsePolicies([]string{"prefix", "aff=aff.yaml", "tandem"}, read)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"prefix", "aff", "tandem"}, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if string(variants["aff"]) != files["aff.yaml"] || len(variants) != 1 {
		t.Errorf("variants %q", variants)
	}
	for _, tc := range []struct {
		name string
		list []string
		want string
	}{
		{"none", nil, "no router policy"},
		{"unknown preset", []string{"tandem", "sticky"}, `router policy "sticky"`},
		{"variant named like a preset", []string{"tandem=aff.yaml"}, "other than a preset"},
		{"unnamed variant", []string{"=aff.yaml"}, "name it"},
		{"missing file", []string{"x=nope.yaml"}, "no such file"},
		{"bad YAML", []string{"x=bad.yaml"}, "policy variant x: bad.yaml"},
		{"twice", []string{"tandem", "tandem"}, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParsePolicies(tc.list, read)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}

	// A variant's file goes over the base and the router gets no preset.
	preset, merged, err := resolve([]byte("penalty: {kvTokens: 9}\nretry: {maxAttempts: 2}\n"), map[string][]byte{"pen": []byte(files["pen.yaml"])}, "pen")
	if err != nil {
		t.Fatal(err)
	}
	f, err := MakeRouterFiles(merged, "a:1", preset, "e.yaml", "m", []string{"h:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := "discovery:\n  static:\n    file: e.yaml\nlisten: a:1\nmetrics:\n  address: \"\"\npenalty:\n  kvTokens: 1\nretry:\n  maxAttempts: 2\n"
	if diff := cmp.Diff(want, string(f.Config)); diff != "" {
		t.Errorf("variant config (-want +got):\n%s", diff)
	}
	if preset, _, _ := resolve(nil, nil, "tandem"); preset != "tandem" {
		t.Errorf("a preset resolves to %q", preset)
	}
}

func TestProfiles(t *testing.T) {
	noFiles := func(name string) ([]byte, error) { return nil, fmt.Errorf("open %s: no such file", name) }
	labels, variants, err := ParsePolicies([]string{"tandem", "tandem-exact"}, noFiles)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"tandem", "tandem-exact"}, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	preset, merged, err := resolve(nil, variants, "tandem-exact")
	if err != nil {
		t.Fatal(err)
	}
	f, err := MakeRouterFiles(merged, "a:1", preset, "e.yaml", "m", []string{"h:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := "discovery:\n  static:\n    file: e.yaml\nkvEvents:\n  enabled: true\n  tokenizer: engine\nlisten: a:1\nmetrics:\n  address: \"\"\npolicy: tandem\n"
	if diff := cmp.Diff(want, string(f.Config)); diff != "" {
		t.Errorf("tandem-exact config (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name     string
		base     string
		variants map[string][]byte
		want     bool
	}{
		{"presets only", "", nil, false},
		{"a profile", "", variants, true},
		{"the base", "kvEvents: {enabled: true}\n", nil, true},
		{"disabled in a variant", "", map[string][]byte{"x": []byte("kvEvents: {enabled: false}\n")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := WantsKVEvents([]byte(tc.base), tc.variants)
			if err != nil || got != tc.want {
				t.Errorf("WantsKVEvents = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := WantsKVEvents([]byte("kvEvents: ["), nil); err == nil {
		t.Error("bad YAML: want an error")
	}
}
