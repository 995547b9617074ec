package autoscalebench

import (
	"math"
	"time"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Tandem drives controller/autoscale.Decide as the controller does
// (controller/autoscaler.go): one router answering, signals summed over
// the window, and the previous decision kept as status keeps it (the
// window timestamps and the rounded signal counts), nothing more.
type Tandem struct {
	Policy autoscale.Policy
	// epoch maps simulated seconds to the times Decide reads.
	epoch time.Time
	prev  autoscale.Previous
	// Last is the last decision, for its reason.
	Last autoscale.Decision
}

// NewTandem is the autoscaler with policy p.
func NewTandem(p autoscale.Policy) *Tandem {
	return &Tandem{Policy: p, epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// TandemSignals are the window's figures the routers would report.
type TandemSignals struct {
	InFlight, QueuedTokens, Held, Requests float64
	// TTFT buckets summed over the window (cumulative, ttftEdges then +Inf).
	Buckets []float64
}

// Decide is one decision at second now.
func (a *Tandem) Decide(now, current, readyUnits int, s TandemSignals) int {
	at := a.epoch.Add(time.Duration(now) * time.Second)
	sig := autoscale.Signals{
		At: at, Routers: 1,
		InFlight: s.InFlight, QueuedTokens: s.QueuedTokens, Held: s.Held, Requests: s.Requests,
	}
	if p90, ok := autoscale.Quantile(0.9, buckets(s.Buckets)); ok {
		sig.TTFTP90, sig.HasTTFT = time.Duration(p90*float64(time.Second)), true
	}
	d := autoscale.Decide(autoscale.Input{
		Now: at, Policy: a.Policy, Current: int32(current), Ready: int32(readyUnits),
		Signals: sig, Previous: a.prev,
	})
	a.Last = d
	// What decisionStatus writes and previous() reads back.
	a.prev = autoscale.Previous{
		AboveSince: d.AboveSince, BelowSince: d.BelowSince, DownLooks: truncateLooks(d.DownLooks),
		Signals: &autoscale.Signals{
			At: at.Truncate(time.Second), Routers: 1,
			InFlight: math.Round(sig.InFlight), QueuedTokens: math.Round(sig.QueuedTokens), Requests: math.Round(sig.Requests),
		},
	}
	return int(d.Replicas)
}

// truncateLooks is the looks as status keeps them: metav1.Time is whole
// seconds.
func truncateLooks(looks []autoscale.Look) []autoscale.Look {
	out := make([]autoscale.Look, len(looks))
	for i, l := range looks {
		out[i] = autoscale.Look{At: l.At.Truncate(time.Second), Replicas: l.Replicas}
	}
	return out
}

func buckets(counts []float64) []autoscale.Bucket {
	out := make([]autoscale.Bucket, len(counts))
	for i, c := range counts {
		ub := math.Inf(1)
		if i < len(ttftEdges) {
			ub = ttftEdges[i]
		}
		out[i] = autoscale.Bucket{UpperBound: ub, Count: c}
	}
	return out
}
