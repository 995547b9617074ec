package router

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/kvindex"
	"github.com/tandem-serving/tandem/router/tokenize"
)

// Exact mode on the request path: the prompt's token ids as the engine sees
// them, from the token cache or the engine's /tokenize (package tokenize),
// chained into the hashes the exact index keys blocks by (package
// kvindex). Nothing here can fail a request: without token ids the
// approximate index routes it, and the reason is counted.

func (rt *Router) newTokenizer() *tokenize.Tokenizer {
	k := &rt.cfg.KVEvents
	tk := tokenize.New(tokenize.Config{
		Timeout: k.TokenizeTimeout.Duration, BlockTokens: k.BlockTokens, CacheTokens: k.TokenizeCacheTokens,
	}, &http.Client{Transport: rt.transport})
	tk.OnCall = func(d time.Duration, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		rt.metrics.tokenize.WithLabelValues(result).Observe(d.Seconds())
	}
	tk.OnMismatch = func(model string) {
		rt.metrics.tokMismatch.WithLabelValues(model).Inc()
		rt.log.Info("Chat template rewrites history: reusing cached conversation tokens is off", "model", model)
	}
	return tk
}

// exactTokens fills c.sreq's engine fields when the token ids can be had.
func (rt *Router) exactTokens(ctx context.Context, c *call) {
	c.tokKeys = tokenize.Keys(c.tokKeys[:0], &c.req)
	res, ok := rt.tokenizer.Cached(&c.req, c.tokKeys)
	switch {
	case ok && res.Source == tokenize.FromPrefix:
		if e := rt.tokenizeTarget(c.pool); e != nil {
			rt.tokenizer.Check(e.BaseURL, &c.req, c.tokKeys, res.Tokens)
		}
	case !ok:
		if skip := rt.undecided(c); skip != "" {
			rt.metrics.tokenSource.WithLabelValues(skip).Inc()
			return
		}
		e := rt.tokenizeTarget(c.pool)
		if e == nil {
			rt.metrics.tokFallback.WithLabelValues("no-endpoint").Inc()
			return
		}
		var err error
		if res, err = rt.tokenizer.Tokenize(ctx, e.BaseURL, &c.req, c.tokKeys); err != nil {
			rt.metrics.tokFallback.WithLabelValues(fallbackReason(err)).Inc()
			rt.log.V(2).Info("Tokenize failed; routing by the approximate index", "endpoint", e.Name, "err", err)
			return
		}
	}
	bt := rt.cfg.KVEvents.BlockTokens
	c.engineHashes = kvindex.AppendHashes(c.engineHashes[:0], res.Tokens, bt)
	c.sreq.EngineHashes, c.sreq.EngineBlockTokens, c.sreq.PromptTokens = c.engineHashes, bt, res.PromptTokens
	rt.metrics.tokenSource.WithLabelValues(string(res.Source)).Inc()
}

// undecided returns why the tokenize call can be skipped, or "": every
// exact index is degraded, or (tokenizeWhen undecided) the approximate
// index decides alone: no endpoint holds any of the prompt, or one holds
// all of it.
func (rt *Router) undecided(c *call) string {
	now := c.start
	anyExact := false
	for _, e := range c.pool.Serving {
		if e.Exact != nil && e.Exact.State(now) == kvindex.Exact {
			anyExact = true
			break
		}
	}
	if !anyExact {
		return "skipped-degraded"
	}
	if rt.cfg.KVEvents.TokenizeWhen == "always" {
		return ""
	}
	most := 0
	for _, e := range c.pool.Serving {
		if len(c.hashes) > 0 {
			most = max(most, e.Index.Match(c.hashes))
		}
	}
	switch {
	case most == 0:
		return "skipped-no-prefix"
	case most == len(c.hashes):
		return "skipped-whole-prompt"
	}
	return ""
}

// tokenizeTarget picks the endpoint to ask, in rotation among the pool's
// ready ones: they serve one model, so any tokenizes as all do.
func (rt *Router) tokenizeTarget(pool *endpoint.Pool) *endpoint.Endpoint {
	eps := pool.Serving
	if len(eps) == 0 {
		return nil
	}
	start := int(rt.tokenizeNext.Add(1) % uint64(len(eps)))
	for i := range eps {
		e := eps[(start+i)%len(eps)]
		if !e.Removed() && e.Breaker.Ready() {
			return e
		}
	}
	return nil
}

func fallbackReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, tokenize.ErrUnsupported):
		return "unsupported"
	}
	return "error"
}
