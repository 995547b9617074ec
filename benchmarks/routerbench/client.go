package routerbench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Loop is the overhead benchmark's load of small requests for Warmup and then a measured Window. Closed loop (Rate 0):
// Concurrency workers, each sending one request after another. Open loop
// (Rate > 0): a request every 1/Rate seconds, whatever is in flight, so
// latency is measured at a fixed offered rate. Request k (counted over
// all) goes to URLs[k mod len] with Bodies[k mod len]: a round-robin
// spread when the URLs are engines, one URL when it is a router.
type Loop struct {
	URLs   []string
	Bodies [][]byte
	// Stream says the bodies ask for streamed answers: an answer that is
	// not an event stream is then an error ("not_stream").
	Stream      bool
	Concurrency int
	Rate        float64
	Warmup      time.Duration
	Window      time.Duration
	// Mark, if set, is called right after the window opens (end false)
	// and right after it closes (end true), to read CPU counters.
	Mark func(end bool)
}

// LoopResult is what the workers measured inside the window: requests
// that completed while it was open.
type LoopResult struct {
	// Latencies of the successful requests, send to last byte.
	Latencies []time.Duration
	Errors    map[string]int
	// Window is the measured span, as timed by the caller's clock.
	Window time.Duration
}

// NewLoadTransport is a client transport for many small requests: one
// kept-alive connection per worker and target, no compression, no proxy.
func NewLoadTransport(concurrency int) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0, // no limit
		MaxIdleConnsPerHost:   concurrency + 8,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

const (
	phaseWarmup int32 = iota
	phaseWindow
	phaseDone
)

// Run drives the loop on hc until the window closes and every request
// sent has finished.
func (c Loop) Run(ctx context.Context, hc *http.Client) LoopResult {
	var (
		phase atomic.Int32
		next  atomic.Uint64
		mu    sync.Mutex
		res   = LoopResult{Errors: map[string]int{}}
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// one sends request k and records it if it ended inside the window.
	one := func(k uint64, lat *[]time.Duration, errs map[string]int) {
		url, body := c.URLs[k%uint64(len(c.URLs))], c.Bodies[k%uint64(len(c.Bodies))]
		start := time.Now()
		kind := send(ctx, hc, url, body, c.Stream)
		d := time.Since(start)
		if phase.Load() != phaseWindow {
			return
		}
		if kind == "" {
			*lat = append(*lat, d)
		} else {
			errs[kind]++
		}
	}
	merge := func(lat []time.Duration, errs map[string]int) {
		mu.Lock()
		res.Latencies = append(res.Latencies, lat...)
		for k, n := range errs {
			res.Errors[k] += n
		}
		mu.Unlock()
	}
	if c.Rate > 0 {
		wg.Go(func() { c.pace(ctx, &phase, &wg, one, merge) })
	} else {
		for range c.Concurrency {
			wg.Go(func() {
				lat := make([]time.Duration, 0, 1<<14)
				errs := map[string]int{}
				for phase.Load() != phaseDone && ctx.Err() == nil {
					one(next.Add(1)-1, &lat, errs)
				}
				merge(lat, errs)
			})
		}
	}
	sleep(ctx, c.Warmup)
	phase.Store(phaseWindow)
	began := time.Now()
	if c.Mark != nil {
		c.Mark(false)
	}
	sleep(ctx, c.Window)
	phase.Store(phaseDone)
	res.Window = time.Since(began)
	if c.Mark != nil {
		c.Mark(true)
	}
	wg.Wait()
	return res
}

// pace sends request k at k/Rate seconds from its start, each in its own
// goroutine, until the window closes. A late tick sends at once (no
// catching up in bursts beyond what is due).
func (c Loop) pace(ctx context.Context, phase *atomic.Int32, wg *sync.WaitGroup,
	one func(uint64, *[]time.Duration, map[string]int), merge func([]time.Duration, map[string]int)) {
	start := time.Now()
	gap := time.Duration(float64(time.Second) / c.Rate)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := uint64(0); phase.Load() != phaseDone && ctx.Err() == nil; k++ {
		if d := time.Until(start.Add(time.Duration(k) * gap)); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		wg.Go(func() {
			var lat []time.Duration
			errs := map[string]int{}
			one(k, &lat, errs)
			merge(lat, errs)
		})
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

var jsonType = []string{"application/json"}

// send posts body to url and reads the whole answer (for a stream, to its
// end); it returns the error kind, "" for a 200 answer of the kind asked.
func send(ctx context.Context, hc *http.Client, url string, body []byte, stream bool) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "request"
	}
	req.Header["Content-Type"] = jsonType
	resp, err := hc.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "connect"
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		return "http_" + strconv.Itoa(resp.StatusCode)
	case err != nil:
		return "read"
	case stream && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		return "not_stream"
	}
	return ""
}
