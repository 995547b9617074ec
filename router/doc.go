// Package router is tandem-router: an OpenAI-compatible front
// (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics)
// that sends each completion request to the engine expected to answer it
// first, and hands long prompts of disaggregated models from a prefill to
// a decode engine.
//
// The request path is in handler.go, in order: parse the body once
// (package request), admit the tenant (package tenant), hold a request
// for a model whose ServingGroup has no ready endpoint yet until one is
// (hold.go: scale from zero), pick the endpoint
// (prefix hashes from package prefix, candidates and plugins from package
// schedule), proxy with fallbacks (proxy.go) and the prefill/decode
// hand-off (pd.go), record metrics (metrics.go).
//
// Picking: for each endpoint of the model, the TTFT model predicts
//
//	TTFT = (prefill work queued there + this prompt's tokens not cached there
//	        + a penalty when its KV cache or batch is nearly full) / its prefill rate
//
// from the prefix index (which blocks of the prompt the engine holds), the
// engine's scraped metrics, the router's own counters and a prefill rate
// learned from observed TTFTs. The default policy adds to it what the
// request costs in the batch it joins and what it costs the sequences
// decoding there, keeps the request on the endpoint holding its longest
// prefix while that endpoint's cost is within 3× the cheapest, and
// otherwise takes the cheapest (schedule/features.go, the affinity picker
// in schedule/plugins.go). The other presets — random, round-robin, least-request, prefix — exist to
// compare against.
//
// Around the request path: discovery (package discovery) replaces the
// endpoint set (package endpoint) without restarts; a scraper reads each
// engine's /metrics on an interval; in exact mode vLLM's KV events (package
// kvevents) keep an exact index keyed by token ids (package kvindex), and
// a request's token ids come from the engine's /tokenize (package tokenize,
// exact.go). README.md documents configuration, metrics and the design
// choices.
package router
