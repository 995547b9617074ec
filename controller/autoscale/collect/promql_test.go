package collect

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPromRegexAlt(t *testing.T) {
	names := []string{"team-a/llama.3-8b", `odd"name\x`, "m+1"}
	got := promRegexAlt(names)
	// Undo PromQL's double-quoted string escaping, then RE2 must match
	// each name exactly and nothing close to it.
	unq, err := strconv.Unquote(`"` + got + `"`)
	if err != nil {
		t.Fatalf("not a valid double-quoted string %q: %v", got, err)
	}
	re := regexp.MustCompile("^(?:" + unq + ")$")
	for _, n := range names {
		if !re.MatchString(n) {
			t.Errorf("%q does not match %q", unq, n)
		}
	}
	for _, n := range []string{"team-a/llamax3-8b", "mm1", "team-a/llama.3-8"} {
		if re.MatchString(n) {
			t.Errorf("%q matches %q", unq, n)
		}
	}
}

func TestBuildPromQueries(t *testing.T) {
	got := buildPromQueries([]string{"llama.3"}, []string{"ns/pod-0", "ns/pod-1"}, 2*time.Minute)
	want := promQueries{
		InFlight: `sum(tandem_router_endpoint_in_flight_requests{endpoint=~"ns/pod-0|ns/pod-1"})`,
		Queued:   `sum(tandem_router_endpoint_queued_tokens{endpoint=~"ns/pod-0|ns/pod-1"})`,
		Held:     `(sum(tandem_router_flow_queue_length{model=~"llama\\.3"}) or vector(0)) + (sum(tandem_router_scale_from_zero_held_requests{model=~"llama\\.3"}) or vector(0))`,
		Requests: `sum(increase(tandem_router_requests_total{model=~"llama\\.3"}[120s]))`,
		TTFTP90:  `histogram_quantile(0.9, sum by (le) (rate(tandem_router_time_to_first_token_seconds_bucket{model=~"llama\\.3"}[120s])))`,
		Routers:  `count(count by (instance, pod) (tandem_router_scheduling_duration_seconds_count))`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
}
