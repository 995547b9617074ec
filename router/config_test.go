package router

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/schedule"
)

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{
			name: "overrides keep the other defaults",
			yaml: "policy: prefix\nscrape:\n  interval: 100ms\nprefillDecode:\n  noPrefill: fail\n",
			check: func(t *testing.T, c Config) {
				want := DefaultConfig()
				want.Policy, want.Scrape.Interval, want.PD.NoPrefill = "prefix", Duration{100 * time.Millisecond}, "fail"
				if diff := cmp.Diff(want, c); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "an explicit profile",
			yaml: "profile:\n  filters: [{name: healthy}]\n  scorers: [{name: ttft, weight: 2}, {name: kv-usage}]\n  picker: {name: max-score, args: {explore: 0.05}}\n",
			check: func(t *testing.T, c Config) {
				if c.Profile == nil || len(c.Profile.Scorers) != 2 || c.Profile.Scorers[0].Weight != 2 || string(c.Profile.Picker.Args) != `{"explore":0.05}` {
					t.Errorf("profile %+v", c.Profile)
				}
				if _, err := New(c, Options{Plugins: schedule.DefaultPlugins()}); err != nil {
					t.Error(err)
				}
			},
		},
		{name: "unknown field", yaml: "polcy: tandem\n", wantErr: `unknown field "polcy"`},
		{name: "unknown policy", yaml: "policy: fastest\n", wantErr: "unknown policy"},
		{name: "bad duration", yaml: "scrape: {interval: 5}\n", wantErr: "duration"},
		{name: "two discoveries", yaml: "discovery: {static: {file: x}, kubernetes: {}}\n", wantErr: "not both"},
		{name: "bad values", yaml: "retry: {maxAttempts: 0}\nprefix: {blockBytes: 0}\n", wantErr: "maxAttempts"},
		{name: "negative cost weight", yaml: "cost: {stallWeight: -1}\n", wantErr: "cost.stallWeight -1: must not be negative"},
		{name: "rate spread below 1", yaml: "rateSpread: 0.5\n", wantErr: "rateSpread 0.5: must be at least 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "router.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadConfig(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// The example in README.md is a valid configuration.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n# router.yaml")
	if !ok {
		t.Fatal("README.md has no router.yaml example")
	}
	example, _, _ := strings.Cut(rest, "```")
	path := filepath.Join(t.TempDir(), "router.yaml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err != nil {
		t.Errorf("README example: %v", err)
	}
}
