package flow

import (
	"time"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// Load is what the rule reads of one endpoint.
type Load struct {
	// QueuedTokens is the router's own prefill backlog there; Rate the
	// endpoint's learned prefill rate in tokens a second.
	QueuedTokens float64
	Rate         float64
	// InFlight is the requests open there, this router's and its peers';
	// Limit the endpoint's learned concurrency limit (0: none yet).
	InFlight float64
	Limit    float64
	// Fresh says whether the engine's scrape is recent; Waiting,
	// KVUsage and CacheTokens (its KV cache size, 0: not reported) are
	// from it.
	Fresh       bool
	Waiting     float64
	KVUsage     float64
	CacheTokens float64
	// ContextTokens is the KV the router's requests open there will hold
	// (prompts and max_tokens).
	ContextTokens float64
}

// Rule says when an endpoint is at its efficient load (doc.go).
type Rule struct {
	// QueueDelay is the longest prefill backlog, in time at the learned
	// rate, a new request may be sent behind.
	QueueDelay time.Duration
	// KVUsage is the KV cache usage at which an engine that is also
	// queueing is full.
	KVUsage float64
	// KVFill: an endpoint whose open requests would hold this share of
	// its KV cache is full (0: off).
	KVFill float64
}

// AtLoad reports whether l is at its efficient load, and which test said so.
func (r Rule) AtLoad(l Load) (bool, Reason) {
	if r.QueueDelay > 0 && l.Rate > 0 && l.QueuedTokens >= l.Rate*r.QueueDelay.Seconds() {
		return true, ReasonBacklog
	}
	if l.Fresh && r.KVUsage > 0 && l.Waiting > 0 && l.KVUsage >= r.KVUsage {
		return true, ReasonKV
	}
	if l.Limit > 0 && l.InFlight >= l.Limit {
		return true, ReasonLimit
	}
	if r.KVFill > 0 && l.Fresh && l.CacheTokens > 0 && l.ContextTokens >= r.KVFill*l.CacheTokens {
		return true, ReasonContext
	}
	return false, ""
}

// Reason names the test that found an endpoint at its efficient load.
type Reason string

const (
	ReasonBacklog Reason = "backlog"
	ReasonKV      Reason = "kv"
	ReasonLimit   Reason = "limit"
	ReasonContext Reason = "context"
)

// LoadOf reads e's load; scrapes older than staleAfter are not fresh.
func LoadOf(e *endpoint.Endpoint, now time.Time, staleAfter time.Duration) Load {
	// Other replicas' requests weigh on the engine as much as this one's
	// (package peers); without peers their share is zero.
	l := Load{
		QueuedTokens:  float64(e.QueuedTokens.Load() + e.Peers.QueuedTokens.Load()),
		Rate:          e.Rate.TokensPerSecond(),
		InFlight:      float64(e.InFlight.Load() + e.Peers.InFlight.Load()),
		Limit:         e.Limit.Value(),
		ContextTokens: float64(e.ContextTokens.Load()),
	}
	if m, ok := e.Engine(now, staleAfter); ok {
		l.Fresh, l.Waiting, l.KVUsage, l.CacheTokens = true, m.Waiting, m.KVUsage, float64(m.CacheTokens)
	}
	return l
}
