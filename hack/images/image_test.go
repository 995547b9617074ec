package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func testMeta() Meta {
	return Meta{
		Name:     "tandem-router",
		Ref:      "ghcr.io/tandem-serving/tandem-router:v0.1.0",
		Source:   "https://github.com/tandem-serving/tandem",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Version:  "v0.1.0",
		Arch:     "amd64",
		Created:  time.Unix(1700000000, 0).UTC(),
	}
}

func TestCreatedFrom(t *testing.T) {
	cases := []struct {
		name, env string
		want      time.Time
		wantErr   bool
	}{
		{name: "unset is 1970", env: "", want: time.Unix(0, 0).UTC()},
		{name: "seconds", env: "1700000000", want: time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)},
		{name: "not a number", env: "yesterday", wantErr: true},
		{name: "negative", env: "-1", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CreatedFrom(tc.env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("created %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	want := v1.Config{
		Entrypoint: []string{"/usr/local/bin/tandem-router"},
		User:       "65532:65532",
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"},
		Labels: map[string]string{
			"org.opencontainers.image.source":   "https://github.com/tandem-serving/tandem",
			"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
			"org.opencontainers.image.version":  "v0.1.0",
			"org.opencontainers.image.title":    "tandem-router",
			"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
		},
	}
	cfg := testMeta().ConfigFile()
	if d := cmp.Diff(want, cfg.Config); d != "" {
		t.Errorf("config (-want +got):\n%s", d)
	}
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || !cfg.Created.Equal(testMeta().Created) {
		t.Errorf("platform %s/%s created %v, want linux/amd64 created %v", cfg.OS, cfg.Architecture, cfg.Created, testMeta().Created)
	}
}

func TestCheckConfig(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*v1.ConfigFile)
		want   []string
	}{
		{name: "as built", mutate: func(*v1.ConfigFile) {}},
		{name: "runs as root", mutate: func(c *v1.ConfigFile) { c.Config.User = "" },
			want: []string{`config: user "", want "65532:65532" (non-root, numeric)`}},
		{name: "user by name", mutate: func(c *v1.ConfigFile) { c.Config.User = "nonroot" },
			want: []string{`config: user "nonroot", want "65532:65532" (non-root, numeric)`}},
		{name: "shell entrypoint", mutate: func(c *v1.ConfigFile) { c.Config.Entrypoint = []string{"/bin/sh", "-c"} },
			want: []string{`config: entrypoint ["/bin/sh" "-c"], want ["/usr/local/bin/tandem-router"]`}},
		{name: "no revision label", mutate: func(c *v1.ConfigFile) { delete(c.Config.Labels, labelRevision) },
			want: []string{"config: label org.opencontainers.image.revision is missing"}},
		{name: "no title", mutate: func(c *v1.ConfigFile) { delete(c.Config.Labels, labelTitle) },
			want: []string{"config: label org.opencontainers.image.title is missing", `config: entrypoint ["/usr/local/bin/tandem-router"], want ["/usr/local/bin"]`}},
		{name: "windows", mutate: func(c *v1.ConfigFile) { c.OS = "windows" }, want: []string{`config: os "windows", want linux`}},
		{name: "no architecture", mutate: func(c *v1.ConfigFile) { c.Architecture = "" }, want: []string{"config: architecture is empty"}},
		{name: "no created time", mutate: func(c *v1.ConfigFile) { c.Created = v1.Time{} }, want: []string{"config: created is empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testMeta().ConfigFile()
			tc.mutate(cfg)
			if d := cmp.Diff(tc.want, checkConfig(*cfg)); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}
