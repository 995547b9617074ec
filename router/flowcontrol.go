package router

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/tandem-serving/tandem/router/flow"
)

// newFlowGate is the flow control gate of cfg, or nil when it is off.
func (rt *Router) newFlowGate() *flow.Gate {
	f := &rt.cfg.Flow
	if !f.Enabled {
		return nil
	}
	rule := flow.Rule{QueueDelay: f.QueueDelay.Duration, KVUsage: f.KVUsage, KVFill: f.KVFill}
	stale := rt.cfg.Scrape.StaleAfter.Duration
	room := func(model string, now time.Time, s flow.Subset) (int, int) {
		pool := rt.reg.Snapshot().Pool(model)
		if pool == nil {
			return math.MaxInt, 0
		}
		eps := flow.Of(pool.Serving, s)
		n, candidates := 0, 0
		for _, e := range eps {
			if e.Removed() || !e.Breaker.Ready() {
				continue // not a candidate
			}
			candidates++
			if at, _ := rule.AtLoad(flow.LoadOf(e, now, stale)); !at {
				n++
			}
		}
		if candidates == 0 {
			return math.MaxInt, len(eps) // pick answers 503; do not hold
		}
		return n, len(eps)
	}
	return flow.NewGate(flow.Config{
		MaxWait: f.MaxWait.Duration, MaxQueue: f.MaxQueue, Tick: f.Tick.Duration, LIFOAfter: f.LIFOAfter.Duration,
		OverloadAfter: f.OverloadAfter.Duration, OverloadWait: f.OverloadWait.Duration, QuietFactor: f.QuietFactor,
	}, room, flowObserver{rt.metrics})
}

// wait holds the request in its model's queue while every endpoint of the
// model is at its efficient load (package flow). The ticket's Done lets
// the next one go; it is a no-op when flow control is off or the model is
// unknown (pick answers that).
func (rt *Router) wait(ctx context.Context, c *call, r *http.Request) (flow.Ticket, *apiError) {
	if rt.flow == nil || rt.reg.Snapshot().Pool(c.req.Model) == nil {
		return flow.Ticket{}, nil
	}
	ticket, refused := rt.flow.Admit(ctx, c.req.Model, c.tenant, rt.priority(c, r))
	c.model = c.req.Model // the queue's refusals are counted under the model
	switch refused {
	case flow.RefusedFull:
		return ticket, tooMany(string(refused), "every endpoint of `"+c.req.Model+"` is at its efficient load and its queue is full; retry later")
	case flow.RefusedOverload:
		return ticket, tooMany(string(refused), "every endpoint of `"+c.req.Model+"` has been at its efficient load for flowControl.overloadAfter; retry later")
	case flow.RefusedTimeout:
		return ticket, tooMany(string(refused), "every endpoint of `"+c.req.Model+"` stayed at its efficient load for flowControl.maxWait ("+
			rt.cfg.Flow.MaxWait.String()+"); retry later")
	case flow.RefusedCanceled:
		return ticket, &apiError{Status: statusClientClosed, Type: "ClientClosedRequest", Message: "the client went away while queued", Reason: "queue-canceled"}
	}
	if err := rt.setEnginePriority(c, ticket); err != nil {
		return ticket, err
	}
	return ticket, nil
}

// Engine priority orders, flowControl.enginePriority.
const (
	EnginePriorityOff         = ""
	EnginePriorityLowerFirst  = "lower-first"
	EnginePriorityHigherFirst = "higher-first"
)

// setEnginePriority writes the request's `priority` member for engines
// that schedule their waiting requests by it. The resolved priority is
// doubled and a request whose tenant was above its share when let go
// (flow.Ticket.Favoured false) gets one more, so fairness orders requests
// within a priority and never across priorities. vLLM reads lower values
// first (--scheduling-policy priority; it refuses a non-zero value under
// the default fcfs); SGLang with --enable-priority-scheduling reads higher
// first unless --schedule-low-priority-values-first
// (python/sglang/srt/managers/schedule_policy.py, SchedulePolicy's
// priority_sign). The client's own value never reaches the engine: it is
// replaced.
func (rt *Router) setEnginePriority(c *call, k flow.Ticket) *apiError {
	order := rt.cfg.Flow.EnginePriority
	if order == EnginePriorityOff {
		return nil
	}
	p := 2 * c.priority
	if !k.Favoured {
		p++
	}
	if order == EnginePriorityHigherFirst {
		p = -p
	}
	return c.writePriority(p)
}

// teach tells d's endpoint's concurrency limit how long its first token
// took, once it came: slow is later than flowControl.ttftTarget plus the
// request's own prefill at the learned rate, so a long prompt's honest
// TTFT is not taken for congestion.
func (rt *Router) teach(d *dispatch) {
	target := rt.cfg.Flow.TTFTTarget.Duration
	if rt.flow == nil || target <= 0 {
		return
	}
	ttft := time.Since(d.sent)
	own := time.Duration(float64(d.queued) / d.e.Rate.TokensPerSecond() * float64(time.Second))
	d.e.Limit.Observe(time.Now(), d.e.InFlight.Load()+d.e.Peers.InFlight.Load(), ttft > target+own, target)
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer (only metrics see it).
const statusClientClosed = 499

// flowObserver feeds the flow metrics.
type flowObserver struct{ m *Metrics }

func (o flowObserver) Length(model string, n int) {
	o.m.flowQueue.WithLabelValues(model).Set(float64(n))
}
func (o flowObserver) Waited(model string, d time.Duration) {
	o.m.flowWait.WithLabelValues(model).Observe(d.Seconds())
}
func (o flowObserver) Quiet(model string, n int) {
	o.m.flowQuiet.WithLabelValues(model).Set(float64(n))
}
func (o flowObserver) Dropped(model string, why flow.Refusal) {
	o.m.flowDrops.WithLabelValues(model, string(why)).Inc()
}
