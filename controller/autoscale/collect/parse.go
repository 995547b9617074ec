package collect

import (
	"strconv"

	"github.com/tandem-serving/tandem/controller/autoscale"
	"github.com/tandem-serving/tandem/router/promtext"
)

// The router series the collector reads (router/metrics.go).
const (
	seriesInFlight = "tandem_router_endpoint_in_flight_requests"
	seriesQueued   = "tandem_router_endpoint_queued_tokens"
	seriesHeld     = "tandem_router_flow_queue_length"
	seriesHeldZero = "tandem_router_scale_from_zero_held_requests"
	seriesRequests = "tandem_router_requests_total"
	seriesTTFT     = "tandem_router_time_to_first_token_seconds_bucket"
	// For the prefill/decode shape (roles.go).
	seriesPrompt = "tandem_router_prompt_tokens_total"
	seriesCached = "tandem_router_cached_tokens_total"
	seriesRate   = "tandem_router_prefill_rate_tokens_per_second"
)

// parse reads the series above from one router's page; everything else,
// and malformed lines, are skipped (the page is outside input).
func parse(text []byte) *sample {
	s := &sample{
		inFlight: map[string]float64{}, queued: map[string]float64{},
		held: map[string]float64{}, requests: map[string]float64{},
		ttft:   map[string][]autoscale.Bucket{},
		prompt: map[string]float64{}, cached: map[string]float64{}, rate: map[string]float64{},
	}
	promtext.Each(text, func(name, labels []byte, v float64) {
		switch string(name) {
		case seriesInFlight:
			if e, ok := promtext.Label(labels, "endpoint"); ok {
				s.inFlight[e] += v
			}
		case seriesQueued:
			if e, ok := promtext.Label(labels, "endpoint"); ok {
				s.queued[e] += v
			}
		case seriesHeld, seriesHeldZero:
			if m, ok := promtext.Label(labels, "model"); ok {
				s.held[m] += v
			}
		case seriesRequests:
			if m, ok := promtext.Label(labels, "model"); ok {
				s.requests[m] += v
			}
		case seriesPrompt, seriesCached:
			if m, ok := promtext.Label(labels, "model"); ok {
				if string(name) == seriesPrompt {
					s.prompt[m] += v
				} else {
					s.cached[m] += v
				}
			}
		case seriesRate:
			if e, ok := promtext.Label(labels, "endpoint"); ok {
				s.rate[e] = v
			}
		case seriesTTFT:
			m, ok := promtext.Label(labels, "model")
			le, ok2 := promtext.Label(labels, "le")
			if !ok || !ok2 {
				return
			}
			ub, err := strconv.ParseFloat(le, 64)
			if err != nil {
				return
			}
			s.ttft[m] = append(s.ttft[m], autoscale.Bucket{UpperBound: ub, Count: v})
		}
	})
	return s
}
