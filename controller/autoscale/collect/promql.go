package collect

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The PromQL text Prometheus.Signals sends (prometheus.go).

// promRegexAlt is an RE2 alternation matching exactly the given names,
// escaped for a double-quoted PromQL string: regexp.QuoteMeta makes each
// name literal for RE2, then backslashes and double quotes are escaped
// once more because PromQL unescapes the string before compiling it.
func promRegexAlt(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	s := strings.Join(quoted, "|")
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// promDuration renders a range selector duration in whole seconds.
func promDuration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return fmt.Sprintf("%ds", s)
}

// promQueries are one group's instant queries. Held adds two gauges, and
// an absent side would make "+" return nothing, hence "or vector(0)".
type promQueries struct {
	InFlight, Queued, Held, Requests, TTFTP90, Routers string
}

func buildPromQueries(models, endpoints []string, window time.Duration) promQueries {
	ep := promRegexAlt(endpoints)
	m := promRegexAlt(models)
	w := promDuration(window)
	return promQueries{
		InFlight: fmt.Sprintf(`sum(tandem_router_endpoint_in_flight_requests{endpoint=~"%s"})`, ep),
		Queued:   fmt.Sprintf(`sum(tandem_router_endpoint_queued_tokens{endpoint=~"%s"})`, ep),
		Held: fmt.Sprintf(`(sum(tandem_router_flow_queue_length{model=~"%s"}) or vector(0)) + (sum(tandem_router_scale_from_zero_held_requests{model=~"%s"}) or vector(0))`,
			m, m),
		Requests: fmt.Sprintf(`sum(increase(tandem_router_requests_total{model=~"%s"}[%s]))`, m, w),
		TTFTP90: fmt.Sprintf(`histogram_quantile(0.9, sum by (le) (rate(tandem_router_time_to_first_token_seconds_bucket{model=~"%s"}[%s])))`,
			m, w),
		// Replicas answering: a series every router exports from its
		// start (an unlabelled histogram), unlike the labelled counters,
		// which appear only after their first request; a router held at
		// zero units has answered none.
		Routers: `count(count by (instance, pod) (tandem_router_scheduling_duration_seconds_count))`,
	}
}
