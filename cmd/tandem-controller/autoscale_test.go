package main

import (
	"strings"
	"testing"
	"time"
)

func TestAutoscaleFlagsCheck(t *testing.T) {
	ok := autoscaleFlags{interval: 15 * time.Second, window: time.Minute}
	cases := []struct {
		name string
		edit func(f *autoscaleFlags)
		want string // "" for accepted
	}{
		{"defaults", func(*autoscaleFlags) {}, ""},
		{"a Prometheus server", func(f *autoscaleFlags) { f.prometheus = "http://prometheus.monitoring:9090" }, ""},
		{"window below the interval", func(f *autoscaleFlags) { f.window = time.Second }, "--autoscale-window"},
		{"not a URL of a server", func(f *autoscaleFlags) { f.prometheus = "prometheus:9090" }, "--autoscale-prometheus-url"},
		{"token without a server", func(f *autoscaleFlags) { f.promToken = "/var/run/token" }, "needs --autoscale-prometheus-url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := ok
			tc.edit(&f)
			err := f.check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("check() = %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("check() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
