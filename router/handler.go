package router

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/tandem-serving/tandem/router/flow"
	"github.com/tandem-serving/tandem/router/prefix"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/schedule"
	"github.com/tandem-serving/tandem/router/tenant"
)

// serveCompletion is the whole request path, in order:
//
//  0. identify: the tenant, from its API key or trusted header, before
//     the body is read (an unknown key costs no read), once (package
//     tenant); everything after reads c.who and c.priority, never the
//     client's headers;
//  1. parse: read the body once into the call's buffer and parse it once
//     (package request), rendering the prompt on the way;
//  2. admit: the request's priority (the tenant's, or its own value when
//     the tenant may set it) and the tenant's rate and concurrency limits;
//  3. wait: for a model whose ServingGroup has no ready endpoint yet,
//     until one is ready (hold.go, bounded by scaleFromZero.maxWait);
//     while every endpoint of the model is at its efficient load,
//     in the router's queue for the model (flowcontrol.go, package flow);
//  4. pick: hash the prompt's blocks, score the model's endpoints, order
//     them (first choice, then fallbacks);
//  5. proxy: send to the first choice (with a prefill hand-off for
//     disaggregated models), retrying on the next candidate until a first
//     byte reaches the client;
//  6. record: status, latency and TTFT metrics.
func (rt *Router) serveCompletion(w http.ResponseWriter, r *http.Request, kind request.Kind) {
	c := rt.newCall(kind, r)
	defer rt.putCall(c)
	ctx := r.Context()
	if d := rt.cfg.Timeouts.Request.Duration; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	if err := rt.identify(c, r); err != nil {
		// Without it net/http reads up to 256 KB of the unread body (for
		// the connection's reuse) before it sends the answer.
		w.Header().Set("Connection", "close")
		rt.refuse(w, c, err)
		return
	}
	if err := rt.parse(c, r); err != nil {
		rt.refuse(w, c, err)
		return
	}
	if err := rt.admit(c, r); err != nil {
		rt.refuse(w, c, err)
		return
	}
	if err := rt.hold(ctx, c, r); err != nil { // hold.go: no ready endpoint yet
		rt.refuse(w, c, err)
		return
	}
	slot, err := rt.wait(ctx, c, r)
	if err != nil {
		rt.refuse(w, c, err)
		return
	}
	c.slot = slot
	defer slot.Done() // lets the next queued request of the model go
	if err := rt.pick(c, r); err != nil {
		rt.refuse(w, c, err)
		return
	}
	rt.metrics.scheduling.Observe(time.Since(c.start).Seconds())
	rt.proxy(ctx, w, r, c)
	rt.record(c)
}

// parse reads and parses the body.
func (rt *Router) parse(c *call, r *http.Request) *apiError {
	if err := c.readBody(r, rt.cfg.MaxBodyBytes); err != nil {
		return err
	}
	if err := request.Parse(c.kind, c.body, &c.req); err != nil {
		return badRequest(err.Param, err.Msg)
	}
	c.id = r.Header.Get("X-Request-Id")
	if c.id == "" {
		c.id = rt.idPrefix + strconv.FormatUint(rt.ids.Add(1), 16)
	}
	return nil
}

// identify names the tenant from the headers and the peer alone.
func (rt *Router) identify(c *call, r *http.Request) *apiError {
	who, ok := rt.tenants.Identify(r)
	if !ok {
		return unauthorized("Incorrect API key provided. Send a key known to the router as Authorization: Bearer <key>.")
	}
	c.who, c.tenant = who, who.Name
	rt.metrics.tenantRequests.WithLabelValues(who.Label).Inc()
	return nil
}

// admit resolves the priority and applies the tenant's limits.
func (rt *Router) admit(c *call, r *http.Request) *apiError {
	c.priority = rt.resolvePriority(c, r)
	if c.req.HasPriority && c.req.Priority != c.priority {
		if err := c.setBodyPriority(); err != nil {
			return err
		}
	}
	name := c.tenant
	ticket, refused := rt.tenants.Admit(name, c.start)
	switch refused {
	case tenant.RefusedRate:
		return tooMany(string(refused), "tenant "+name+" exceeds its request rate")
	case tenant.RefusedInFlight:
		return tooMany(string(refused), "tenant "+name+" has too many open requests")
	}
	c.ticket = ticket
	return nil
}

// pick orders the model's endpoints for this request.
func (rt *Router) pick(c *call, r *http.Request) *apiError {
	pool := rt.reg.Snapshot().Pool(c.req.Model)
	if pool == nil {
		return notFound("model", "The model `"+c.req.Model+"` does not exist.")
	}
	c.pool, c.model = pool, pool.Model
	c.hashes = prefix.AppendHashes(c.hashes[:0], prefix.Seed(pool.Model), c.req.Prompt, rt.cfg.Prefix.BlockBytes)
	c.sreq = schedule.Request{
		Model: pool.Model, Hashes: c.hashes, PromptBytes: len(c.req.Prompt), Priority: c.priority,
		OutputTokens: c.req.MaxTokens,
	}
	if rt.tokenizer != nil {
		rt.exactTokens(r.Context(), c) // exact.go; on failure the approximate figures stand
	}
	// Flow control may keep some endpoints for other tenants (package
	// flow, "Quiet endpoints"); off, the subset is every endpoint.
	res := rt.profile.Schedule(&c.sreq, flow.Of(pool.Serving, c.slot.Subset), c.start, c.scratch)
	rt.metrics.picks.WithLabelValues(rt.policy, string(res.Reason)).Inc()
	if len(res.Order) == 0 {
		return unavailable("no-endpoint", "no ready endpoint serves model `"+pool.Model+"`")
	}
	if res.AllSaturated {
		if c.sreq.Priority >= rt.cfg.Shedding.MinPriority {
			return tooMany("saturated", "every endpoint of `"+pool.Model+"` is saturated; retry later")
		}
		if rt.cfg.Shedding.FairShare && rt.tenants.OverFairShare(c.tenant) {
			return tooMany("fair-share", "every endpoint is saturated and tenant "+c.tenant+" holds more than its share")
		}
	}
	c.order = res.Order
	first := &c.order[0]
	rt.metrics.promptTok.WithLabelValues(c.model).Add(first.CachedTokens + first.UncachedTokens)
	rt.metrics.cachedTok.WithLabelValues(c.model).Add(first.CachedTokens)
	return nil
}

// resolvePriority is the request's priority, once per request: the
// tenant's, unless the tenant may set its own (tenant.Policy), then the
// priority header, else the body's priority field, capped at the tenant's
// maxPriority.
func (rt *Router) resolvePriority(c *call, r *http.Request) int {
	if h := rt.cfg.Shedding.PriorityHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			if p, err := strconv.Atoi(v); err == nil {
				return c.who.Priority(p, true)
			}
		}
	}
	return c.who.Priority(c.req.Priority, c.req.HasPriority)
}

// setBodyPriority gives an engine that schedules by priority (vLLM
// --scheduling-policy priority) no client value the router did not grant:
// the body's priority member becomes the resolved priority for a tenant
// that may set its own, and is removed for any other. The router never
// adds the member: vLLM without priority scheduling refuses a non-zero
// one.
func (c *call) setBodyPriority() *apiError {
	var extra [][]byte
	if c.who.MaySetPriority() {
		extra = append(extra, strconv.AppendInt([]byte(`"priority":`), int64(c.priority), 10))
	}
	c.body = c.req.AppendBody(make([]byte, 0, len(c.body)+24), request.FieldSet(0).Set(request.FieldPriority), extra...)
	if err := request.Parse(c.kind, c.body, &c.req); err != nil {
		return badRequest(err.Param, err.Msg) // cannot happen: the members were valid
	}
	return nil
}

// priority is the request's resolved priority (admit sets it).
func (rt *Router) priority(c *call, _ *http.Request) int { return c.priority }

// refuse answers a request the router turns down itself.
func (rt *Router) refuse(w http.ResponseWriter, c *call, err *apiError) {
	writeError(w, err)
	c.status = err.Status
	rt.metrics.refused.WithLabelValues(err.Reason).Inc()
	rt.record(c)
}

// record updates the request metrics.
func (rt *Router) record(c *call) {
	rt.metrics.requests.WithLabelValues(c.model, codeLabel(c.status)).Inc()
	rt.metrics.duration.WithLabelValues(c.model).Observe(time.Since(c.start).Seconds())
	if c.streamed && c.firstByte > 0 {
		rt.metrics.ttft.WithLabelValues(c.model).Observe(c.firstByte.Seconds())
	}
}
