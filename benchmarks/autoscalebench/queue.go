package autoscalebench

import "math"

// Class is one kind of request as the model sees it.
type Class struct {
	Name string
	// Rate is the requests per second one engine sustains (the M/M/c
	// server's μ).
	Rate float64
	// Prefill is the TTFT of a request that waits for nothing, seconds.
	Prefill float64
	// Decode is the time from first token to the last, seconds.
	Decode float64
	// Uncached prompt tokens of one request (what a queue of them holds).
	Uncached float64
}

// Model is the serving pool's queueing model: every ready engine is one
// server of an M/M/c queue (the router balances across all of them),
// fed by the step's arrivals; work beyond what the engines serve in a
// step waits in a FIFO backlog.
type Model struct {
	Shared, Chat Class
	// EnginesPerUnit is engines (servers) per unit.
	EnginesPerUnit int
	// Bound is the TTFT bound of the SLO, seconds.
	Bound float64
	// MaxWait is the longest a request waits in the backlog before it is
	// refused (the router's bounded hold, then 503).
	MaxWait float64
}

// maxRho caps the utilisation the stationary formulas see: past it the
// backlog, not the M/M/c wait, carries the overload.
const maxRho = 0.99

// ErlangC is the probability that an arrival waits in an M/M/c queue
// with c servers and offered load a = λ/μ (a < c), from Erlang B's
// recurrence, which stays stable for large c.
func ErlangC(c int, a float64) float64 {
	if c <= 0 {
		return 1
	}
	rho := a / float64(c)
	if rho >= 1 {
		return 1
	}
	b := 1.0
	for k := 1; k <= c; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b / (1 - rho*(1-b))
}

// Wait is the M/M/c queueing delay of one step: P(W > x) = P·e^(−R·x).
type Wait struct {
	P float64 // probability of waiting at all (Erlang C)
	R float64 // decay rate, 1/s: c·μ·(1−ρ)
}

// Mean is E[W].
func (w Wait) Mean() float64 {
	if w.P == 0 {
		return 0
	}
	return w.P / w.R
}

// Within is P(W ≤ x).
func (w Wait) Within(x float64) float64 {
	if x < 0 {
		return 0
	}
	return 1 - w.P*math.Exp(-w.R*x)
}

// work is the engine-seconds a mix of requests needs.
func (m Model) work(a Arrivals) float64 { return a.Shared/m.Shared.Rate + a.Chat/m.Chat.Rate }

// waitFor is the queueing delay when c engines serve the mix a in one
// second (utilisation capped at maxRho).
func (m Model) waitFor(c int, a Arrivals) Wait {
	w := m.work(a)
	if c == 0 || w == 0 {
		return Wait{}
	}
	rho := min(w/float64(c), maxRho)
	mu := a.Total() / w // the mix's per-engine rate
	return Wait{P: ErlangC(c, rho*float64(c)), R: float64(c) * mu * (1 - rho)}
}

// Attainment is the share of requests meeting the bound when units serve
// a steady rate (no backlog); 0 when the engines cannot keep up.
func (m Model) Attainment(units int, rate, sharedFraction float64) float64 {
	c := units * m.EnginesPerUnit
	a := Arrivals{Shared: rate * sharedFraction, Chat: rate * (1 - sharedFraction)}
	if c == 0 || m.work(a) >= float64(c)*maxRho {
		return 0
	}
	w := m.waitFor(c, a)
	return sharedFraction*w.Within(m.Bound-m.Shared.Prefill) + (1-sharedFraction)*w.Within(m.Bound-m.Chat.Prefill)
}

// NeedUnits is the fewest units meeting the bound for 99% of a steady
// rate, at most limit (limit+1 when even limit does not).
func (m Model) NeedUnits(rate, sharedFraction float64, limit int) int {
	for n := 1; n <= limit; n++ {
		if m.Attainment(n, rate, sharedFraction) >= 0.99 {
			return n
		}
	}
	return limit + 1
}

// ttftEdges are the router's TTFT histogram bucket edges
// (router/metrics.go ttftBuckets), so the p90 the autoscaler reads is
// interpolated exactly as it is from a real router.
var ttftEdges = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640}

// Served is what one step of the pool did.
type Served struct {
	Requests float64 // served (first token) this step
	Met      float64 // of them, expected to meet the bound
	Refused  float64
	// Buckets are the cumulative TTFT counts at ttftEdges, then +Inf.
	Buckets []float64
	// Waiting requests: the backlog plus the M/M/c queue (L = λ·E[W]).
	Waiting float64
	// InFlight is every request in the pool: waiting, prefilling,
	// decoding (Little's law on the step's rate).
	InFlight     float64
	QueuedTokens float64
}

// cohort is the unserved part of one step's arrivals.
type cohort struct {
	at  int
	req Arrivals
}

// Pool is the serving pool's queue state.
type Pool struct {
	M       Model
	backlog []cohort
}

// Step serves one second with c ready engines: first the backlog, oldest
// first, then the step's arrivals; whatever does not fit waits, and
// whatever has waited longer than MaxWait is refused. A request served
// from the backlog waits the whole seconds since it arrived (1 s
// resolution) plus the M/M/c delay of the step it is served in.
func (p *Pool) Step(t, c int, in Arrivals) Served {
	m := p.M
	out := Served{Buckets: make([]float64, len(ttftEdges)+1)}
	kept := p.backlog[:0]
	for _, co := range p.backlog {
		if float64(t-co.at) > m.MaxWait {
			out.Refused += co.req.Total()
			continue
		}
		kept = append(kept, co)
	}
	p.backlog = kept
	p.backlog = append(p.backlog, cohort{at: t, req: in})

	capacity := float64(c)
	type portion struct {
		req  Arrivals
		wait float64
	}
	var served []portion
	var done Arrivals
	kept = p.backlog[:0]
	for _, co := range p.backlog {
		w := m.work(co.req)
		switch {
		case w == 0:
			continue
		case capacity >= w:
			capacity -= w
			served = append(served, portion{co.req, float64(t - co.at)})
		case capacity > 0:
			f := capacity / w
			capacity = 0
			part := Arrivals{Shared: co.req.Shared * f, Chat: co.req.Chat * f}
			served = append(served, portion{part, float64(t - co.at)})
			kept = append(kept, cohort{co.at, Arrivals{Shared: co.req.Shared - part.Shared, Chat: co.req.Chat - part.Chat}})
		default:
			kept = append(kept, co)
		}
	}
	p.backlog = kept
	for _, s := range served {
		done.Shared += s.req.Shared
		done.Chat += s.req.Chat
	}
	wt := m.waitFor(c, done)
	for _, s := range served {
		for _, cl := range []struct {
			n float64
			k Class
		}{{s.req.Shared, m.Shared}, {s.req.Chat, m.Chat}} {
			if cl.n == 0 {
				continue
			}
			base := cl.k.Prefill + s.wait
			out.Requests += cl.n
			out.Met += cl.n * wt.Within(m.Bound-base)
			for i, e := range ttftEdges {
				out.Buckets[i] += cl.n * wt.Within(e-base)
			}
			out.Buckets[len(ttftEdges)] += cl.n
		}
	}
	var backlogN, backlogTokens float64
	for _, co := range p.backlog {
		backlogN += co.req.Total()
		backlogTokens += co.req.Shared*m.Shared.Uncached + co.req.Chat*m.Chat.Uncached
	}
	queued := wt.Mean() // seconds a served request waits on average
	out.Waiting = backlogN + done.Total()*queued
	out.QueuedTokens = backlogTokens + queued*(done.Shared*m.Shared.Uncached+done.Chat*m.Chat.Uncached)
	out.InFlight = out.Waiting + done.Shared*(m.Shared.Prefill+m.Shared.Decode) + done.Chat*(m.Chat.Prefill+m.Chat.Decode)
	return out
}

// Backlog is the requests waiting for an engine beyond this step.
func (p *Pool) Backlog() float64 {
	n := 0.0
	for _, co := range p.backlog {
		n += co.req.Total()
	}
	return n
}
