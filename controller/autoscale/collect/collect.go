// Package collect gathers the autoscaler's signals from the routers' own
// /metrics pages, with no Prometheus server: every interval it scrapes
// each router replica, keeps each replica's recent samples for the signal
// window, and on request sums one ServingGroup's figures over the
// replicas that answered the latest round.
//
// It reads these series of the router's exposition (router/metrics.go):
//
//	tandem_router_endpoint_in_flight_requests{endpoint}   gauge, per engine
//	tandem_router_endpoint_queued_tokens{endpoint}        gauge, per engine
//	tandem_router_flow_queue_length{model}                gauge, requests held in the router
//	tandem_router_scale_from_zero_held_requests{model}    gauge, requests held for a model with no ready endpoint
//	tandem_router_requests_total{model,code}              counter
//	tandem_router_time_to_first_token_seconds_bucket{model,le}  histogram
//
// Engine-level gauges are attributed to a group by endpoint name: the
// router's Kubernetes discovery names an endpoint <namespace>/<pod>, and
// the caller passes the group's pod names in that form. Model-level series
// are attributed by the group's servedModelNames. Counters and the
// histogram are turned into window figures by subtracting the newest
// sample at least a window older than the latest (or the oldest kept); a
// counter that went down means the router restarted, and its new value is
// taken as the delta.
//
// Engines (engines.go) reads the one signal the routers cannot give, the
// engines' inter-token latency histograms, from the engines' own /metrics.
//
// Prometheus (prometheus.go) answers the same Signals from a Prometheus
// server's query API instead, for clusters that already have one; Roles
// and the engines' ITL still come from scraping.
//
// Samples live in memory only; they are measurements, not state: after a
// restart the first window's rates are missing (requests count as zero,
// TTFT is absent) until a second round has been scraped.
package collect

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Target is one router replica's metrics page.
type Target struct {
	// Name identifies the replica across rounds (e.g. its pod).
	Name string
	URL  string
}

// Collector scrapes routers and answers Signals.
type Collector struct {
	// Targets lists the router replicas to scrape this round.
	Targets func(ctx context.Context) ([]Target, error)
	Client  *http.Client
	// Interval between rounds; Window is the span TTFT and request counts
	// are measured over.
	Interval, Window time.Duration
	// MaxBytes caps one metrics page.
	MaxBytes int64
	Now      func() time.Time

	mu      sync.Mutex
	routers map[string]*router
	round   time.Time
	// failed are the targets that did not answer the latest round.
	failed int
}

type router struct {
	samples []*sample // oldest first
	ok      bool      // answered the latest round
}

type sample struct {
	at       time.Time
	inFlight map[string]float64 // by endpoint
	queued   map[string]float64 // by endpoint
	held     map[string]float64 // by model
	requests map[string]float64 // by model, summed over codes
	ttft     map[string][]autoscale.Bucket
	// prompt and cached are the estimated prompt tokens routed and those
	// the chosen engine held, by model (counters); rate each endpoint's
	// learned prefill rate.
	prompt, cached map[string]float64
	rate           map[string]float64
}

// Start scrapes every Interval until ctx ends (a controller-runtime
// Runnable).
func (c *Collector) Start(ctx context.Context) error {
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		c.Scrape(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// NeedLeaderElection: only the leader decides, so only it scrapes.
func (c *Collector) NeedLeaderElection() bool { return true }

// Scrape runs one round over all targets, in parallel.
func (c *Collector) Scrape(ctx context.Context) {
	now := c.now()
	targets, err := c.Targets(ctx)
	if err != nil {
		c.mu.Lock()
		c.round, c.failed = now, 0
		for _, r := range c.routers {
			r.ok = false
			c.failed++
		}
		c.mu.Unlock()
		return
	}
	got := make([]*sample, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.fetch(ctx, tg.URL)
			if err == nil {
				s.at = now
				got[i] = s
			}
		}()
	}
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routers == nil {
		c.routers = map[string]*router{}
	}
	live := map[string]bool{}
	// The round is dated when its figures become visible, so a reader
	// waiting for the next one waits from here.
	c.round, c.failed = c.now(), 0
	for i, tg := range targets {
		live[tg.Name] = true
		r := c.routers[tg.Name]
		if r == nil {
			r = &router{}
			c.routers[tg.Name] = r
		}
		r.ok = got[i] != nil
		if !r.ok {
			c.failed++
			continue
		}
		r.samples = c.prune(append(r.samples, got[i]), now)
	}
	for name := range c.routers {
		if !live[name] {
			delete(c.routers, name) // the replica is gone; its load went with it
		}
	}
}

// prune drops samples no window computation needs: all but the newest one
// at least a window old.
func (c *Collector) prune(s []*sample, now time.Time) []*sample {
	keep := 0
	for i := range s {
		if !s[i].at.After(now.Add(-c.Window)) {
			keep = i
		}
	}
	return s[keep:]
}

func (c *Collector) fetch(ctx context.Context, url string) (*sample, error) {
	body, err := fetchPage(ctx, c.Client, url, c.Interval, c.MaxBytes)
	if err != nil {
		return nil, err
	}
	return parse(body), nil
}

// fetchPage GETs one metrics page, at most maxBytes of it, within timeout.
func fetchPage(ctx context.Context, client *http.Client, url string, timeout time.Duration, maxBytes int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return body, nil
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Signals sums one group's figures over the routers that answered the
// latest round. endpoints are the group's engines as the router names
// them (<namespace>/<pod>); models its served model names.
func (c *Collector) Signals(models []string, endpoints []string) autoscale.Signals {
	c.mu.Lock()
	defer c.mu.Unlock()
	sig := autoscale.Signals{At: c.round, Failed: c.failed}
	var ttft [][]autoscale.Bucket
	for _, r := range c.routers {
		if !r.ok || len(r.samples) == 0 {
			continue
		}
		sig.Routers++
		last, base := r.samples[len(r.samples)-1], r.samples[0]
		for _, e := range endpoints {
			sig.InFlight += last.inFlight[e]
			sig.QueuedTokens += last.queued[e]
		}
		for _, m := range models {
			sig.Held += last.held[m]
			if base != last {
				sig.Requests += counterDelta(last.requests[m], base.requests[m])
				ttft = append(ttft, autoscale.Delta(last.ttft[m], base.ttft[m]))
			}
		}
	}
	sig.InFlight += sig.Held
	if q, ok := autoscale.Quantile(0.9, autoscale.Sum(ttft...)); ok {
		sig.TTFTP90, sig.HasTTFT = time.Duration(q*float64(time.Second)), true
	}
	return sig
}

func counterDelta(now, before float64) float64 {
	if now < before {
		return now // reset
	}
	return now - before
}
