package load

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Policies the harness itself spreads requests with when it is given
// several targets (engines without a router).
const (
	// PolicyRandom picks a target uniformly at random (seeded).
	PolicyRandom = "random"
	// PolicyRoundRobin takes targets in turn, in request order.
	PolicyRoundRobin = "round-robin"
	// PolicySticky sends every request of a prefix family (Request.Key) to
	// the same target, by hash: prefix affinity with no load awareness.
	PolicySticky = "sticky"
)

// Policies lists the built-in policies.
var Policies = []string{PolicyRandom, PolicyRoundRobin, PolicySticky}

// Assign picks a target index for every request, in request order, so the
// choice depends only on the workload, the policy and the seed — not on
// timing. With one target every request goes to it.
func Assign(policy string, reqs []Request, targets int, seed uint64) ([]int, error) {
	if targets < 1 {
		return nil, fmt.Errorf("no targets")
	}
	out := make([]int, len(reqs))
	if targets == 1 {
		return out, nil
	}
	r := newRNG(seed, purposePolicy)
	for i := range reqs {
		switch policy {
		case PolicyRandom:
			out[i] = r.intn(targets)
		case PolicyRoundRobin:
			out[i] = i % targets
		case PolicySticky:
			out[i] = int(mix(reqs[i].Key) % uint64(targets))
		default:
			return nil, fmt.Errorf("policy %q: want one of %v", policy, Policies)
		}
	}
	return out, nil
}

// Plan is one load run, ready to execute.
type Plan struct {
	Requests []Request
	// Offsets are send times from the start; nil for closed loop.
	Offsets []time.Duration
	// Concurrency is the closed loop's requests in flight.
	Concurrency int
	Targets     []string
	// Assigned is the target index of every request (Assign).
	Assigned []int
	Client   *Client
	// Timeout bounds each request.
	Timeout time.Duration
}

// Execute sends the plan's requests and waits for all of them. A request
// whose After names an earlier request is sent only once that one has
// finished (successfully or not), however early its own arrival time is.
// It returns the results in request order and the span from the first send
// to the last end. Requests not sent because ctx ended are marked
// "not_sent".
func Execute(ctx context.Context, p Plan) ([]Result, time.Duration) {
	n := len(p.Requests)
	results := make([]Result, n)
	done := make([]chan struct{}, n)
	for i := range done {
		done[i] = make(chan struct{})
	}
	start := time.Now()
	send := func(i int) {
		defer close(done[i])
		r := &p.Requests[i]
		target := p.Targets[p.Assigned[i]]
		if r.After >= 0 && r.After < n {
			select {
			case <-done[r.After]:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			results[i] = Result{Index: i, Target: target, Err: "not_sent"}
			return
		}
		rctx, cancel := context.WithTimeout(ctx, p.Timeout)
		results[i] = p.Client.Do(rctx, target, r, start)
		cancel()
	}
	var wg sync.WaitGroup
	if p.Offsets == nil {
		closedLoop(&wg, n, p.Concurrency, send)
	} else {
		openLoop(ctx, &wg, p.Offsets, start, send)
	}
	wg.Wait()
	return results, span(results)
}

// closedLoop keeps c requests in flight, taking them in index order, so a
// request's predecessor was always taken before it: waiting on it cannot
// deadlock the workers.
func closedLoop(wg *sync.WaitGroup, n, c int, send func(int)) {
	var next atomic.Int64
	for range min(c, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				send(i)
			}
		})
	}
}

// openLoop sends each request at its offset, whatever is still in flight.
func openLoop(ctx context.Context, wg *sync.WaitGroup, offsets []time.Duration, start time.Time, send func(int)) {
	order := make([]int, len(offsets))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return offsets[order[a]] < offsets[order[b]] })
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for _, i := range order {
		if d := time.Until(start.Add(offsets[i])); d > 0 && ctx.Err() == nil {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		wg.Go(func() { send(i) })
	}
}

// span is from the first send to the last end among sent requests.
func span(results []Result) time.Duration {
	var first, last time.Duration
	sent := slices.DeleteFunc(slices.Clone(results), func(r Result) bool { return r.Err == "not_sent" })
	for k, r := range sent {
		end := r.Start + r.E2E
		if k == 0 || r.Start < first {
			first = r.Start
		}
		if end > last {
			last = end
		}
	}
	return last - first
}
