package router

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// ScaleFromZeroConfig says how the router holds requests for a model that
// discovery knows (a ServingGroup lists it in servedModelNames) while no
// endpoint of it is ready: a group scaled to zero units, or one whose
// first unit is still loading its weights.
type ScaleFromZeroConfig struct {
	// MaxWait bounds the hold. Past it the request gets 503 with
	// Retry-After (before any byte of a stream); 0 answers 503 at once.
	// The default, 60 s, covers a typical cold start (image cached, weights
	// of a 8B model from a local disk) with the autoscaler's reaction on
	// top; raise it where weights come over the network.
	MaxWait Duration `json:"maxWait"`
	// RetryAfter is the Retry-After of that 503, rounded up to seconds.
	RetryAfter Duration `json:"retryAfter"`
}

func defaultScaleFromZero() ScaleFromZeroConfig {
	return ScaleFromZeroConfig{MaxWait: Duration{time.Minute}, RetryAfter: Duration{10 * time.Second}}
}

func (s *ScaleFromZeroConfig) validate() []error {
	var errs []error
	if s.MaxWait.Duration < 0 {
		errs = append(errs, fmt.Errorf("scaleFromZero.maxWait %s: must not be negative", s.MaxWait))
	}
	if s.RetryAfter.Duration < time.Second {
		errs = append(errs, fmt.Errorf("scaleFromZero.retryAfter %s: must be at least 1s", s.RetryAfter))
	}
	return errs
}

// holdRecheck wakes held requests even without a registry update: an
// endpoint that learns its model names from the engine joins a pool
// through Registry.Refresh, which tells no listener.
const holdRecheck = time.Second

// holder knows the models discovery has seen declared and wakes the
// requests held for them whenever the endpoints change.
type holder struct {
	known atomic.Pointer[map[string]bool]
	// models caches the /v1/models body for one snapshot and known set.
	models  atomic.Pointer[modelsBody]
	created int64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
}

func newHolder(reg *endpoint.Registry) *holder {
	h := &holder{changed: make(chan struct{}), created: time.Now().Unix()}
	h.known.Store(&map[string]bool{})
	reg.OnChange(func(_, _ []*endpoint.Endpoint) { h.wake() })
	return h
}

func (h *holder) knows(model string) bool { return (*h.known.Load())[model] }

// watch is closed at the next change; take it before reading the state it
// guards, so a change between the two is not missed.
func (h *holder) watch() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

func (h *holder) wake() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// SetKnownModels replaces the model names that discovery knows are served
// here, ready endpoints or not (discovery.ModelSink). A request for one of
// them with no ready endpoint is held (ScaleFromZeroConfig); a request for
// any other model without endpoints gets 404.
func (rt *Router) SetKnownModels(models []string) {
	known := make(map[string]bool, len(models))
	for _, m := range models {
		known[m] = true
	}
	if old := *rt.held.known.Load(); len(old) == len(known) && allIn(old, known) {
		return
	}
	rt.held.known.Store(&known)
	rt.held.wake() // a model no longer known: its held requests get 404
}

func allIn(a, b map[string]bool) bool {
	for m := range a {
		if !b[m] {
			return false
		}
	}
	return true
}

// KnownModels are the names SetKnownModels was last given, sorted.
func (rt *Router) KnownModels() []string {
	known := *rt.held.known.Load()
	out := make([]string, 0, len(known))
	for m := range known {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

type modelsBody struct {
	snap  *endpoint.Snapshot
	known *map[string]bool
	body  []byte
}

// modelsJSON is the body of GET /v1/models: the models with ready
// endpoints and those discovery knows without any. A model scaled to zero
// stays listed, so clients that pick a model from the list (chat UIs) can
// still ask for it, and that request brings it back.
func (rt *Router) modelsJSON() []byte {
	snap, known := rt.reg.Snapshot(), rt.held.known.Load()
	if c := rt.held.models.Load(); c != nil && c.snap == snap && c.known == known {
		return c.body
	}
	body := snap.ModelsJSON
	var cold []string
	for m := range *known {
		if snap.Pool(m) == nil {
			cold = append(cold, m)
		}
	}
	if len(cold) > 0 {
		body = mergeModels(snap.Models(), cold, rt.held.created)
	}
	rt.held.models.Store(&modelsBody{snap: snap, known: known, body: body})
	return body
}

// mergeModels writes the list in the registry's shape
// (endpoint.modelsJSON): OpenAI's model objects, sorted by id.
func mergeModels(ready, cold []string, created int64) []byte {
	type card struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	all := append(append([]string{}, ready...), cold...)
	slices.Sort(all)
	list := struct {
		Object string `json:"object"`
		Data   []card `json:"data"`
	}{Object: "list", Data: make([]card, 0, len(all))}
	for _, m := range all {
		list.Data = append(list.Data, card{ID: m, Object: "model", Created: created, OwnedBy: "tandem"})
	}
	b, _ := json.Marshal(list)
	return b
}

// Outcomes of a hold, the outcome label of
// tandem_router_scale_from_zero_wait_seconds.
const (
	holdServed   = "served"   // an endpoint appeared; the request went on
	holdTimeout  = "timeout"  // 503 after scaleFromZero.maxWait (or timeouts.request)
	holdGone     = "gone"     // the model stopped being known: 404
	holdCanceled = "canceled" // the client went away
)

// hold waits, for a model that discovery knows but that has no endpoint,
// until an endpoint of it appears, scaleFromZero.maxWait passes or the
// client leaves. Meanwhile the request counts in
// tandem_router_scale_from_zero_held_requests{model}, the demand the
// autoscaler reads to scale a group up from zero. Any other request
// passes at once: with endpoints it goes on, for an unknown model pick
// answers 404.
func (rt *Router) hold(ctx context.Context, c *call, r *http.Request) *apiError {
	model := c.req.Model
	if rt.reg.Snapshot().Pool(model) != nil || !rt.held.knows(model) {
		return nil
	}
	c.model = model // a refusal here counts under the model: demand too
	gauge := rt.metrics.zeroHeld.WithLabelValues(model)
	gauge.Inc()
	defer gauge.Dec()
	start := time.Now()
	outcome := rt.holdUntil(ctx, r.Context(), model)
	rt.metrics.zeroWait.WithLabelValues(model, outcome).Observe(time.Since(start).Seconds())
	switch outcome {
	case holdTimeout:
		e := unavailable("scale-from-zero-timeout", fmt.Sprintf(
			"model `%s` has no ready instance yet (its ServingGroup is scaling up from zero or still starting); waited %s, retry later",
			model, time.Since(start).Round(time.Second)))
		e.RetryAfter = int((rt.cfg.ScaleFromZero.RetryAfter.Duration + time.Second - 1) / time.Second)
		return e
	case holdCanceled:
		return &apiError{Status: statusClientClosed, Type: "ClientClosedRequest", Message: "the client went away while the model scaled up", Reason: "scale-from-zero-canceled"}
	}
	return nil // served, or gone: pick answers 404
}

// holdUntil is the wait itself; ctx carries timeouts.request, client is
// the client's own context.
func (rt *Router) holdUntil(ctx, client context.Context, model string) string {
	timer := time.NewTimer(rt.cfg.ScaleFromZero.MaxWait.Duration)
	defer timer.Stop()
	tick := time.NewTicker(holdRecheck)
	defer tick.Stop()
	for {
		changed := rt.held.watch()
		if rt.reg.Snapshot().Pool(model) != nil {
			return holdServed
		}
		if !rt.held.knows(model) {
			return holdGone
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-timer.C:
			return holdTimeout
		case <-ctx.Done():
			if client.Err() != nil {
				return holdCanceled
			}
			return holdTimeout // timeouts.request passed first
		}
	}
}

// retryAfter is the Retry-After header value of e.
func (e *apiError) retryAfter() string {
	if e.RetryAfter > 0 {
		return strconv.Itoa(e.RetryAfter)
	}
	return "1"
}
