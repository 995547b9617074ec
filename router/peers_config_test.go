package router

import (
	"strings"
	"testing"
	"time"
)

func TestPeersConfigValidation(t *testing.T) {
	cases := []struct {
		name  string
		peers PeersConfig
		want  string // a substring of the error; "" for none
	}{
		{"off by default", PeersConfig{}, ""},
		{"a static list", PeersConfig{Address: ":9091", Static: []string{"10.0.0.1:9091", "10.0.0.2:9091"}}, ""},
		{"a headless Service", PeersConfig{Address: ":9091", Service: "tandem-router-peers.serving.svc.cluster.local"}, ""},
		{"no peers to talk to", PeersConfig{Address: ":9091"}, "set static or service"},
		{"no fixed port", PeersConfig{Address: ":0", Service: "s"}, "want a fixed port"},
		{"not an address", PeersConfig{Address: "9091", Service: "s"}, "want host:port"},
		{"a static peer without a port", PeersConfig{Address: ":9091", Static: []string{"10.0.0.1"}}, `peers.static "10.0.0.1"`},
		{"a TTL shorter than two intervals", PeersConfig{Address: ":9091", Service: "s", Interval: Duration{time.Second}, TTL: Duration{time.Second}},
			"at least two intervals"},
		{"the API's port", PeersConfig{Address: ":8080", Service: "s"}, "must differ from listen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Peers = tc.peers
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
