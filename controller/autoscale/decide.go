package autoscale

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Reasons of a decision, written to status.autoscaling.reason.
const (
	ReasonScaledUp           = "ScaledUp"
	ReasonScaledDown         = "ScaledDown"
	ReasonScaledFromZero     = "ScaledFromZero"
	ReasonWithinTargets      = "WithinTargets"
	ReasonWaitingUpWindow    = "WaitingForScaleUpWindow"
	ReasonWaitingDownWindow  = "WaitingForScaleDownWindow"
	ReasonBelowMin           = "BelowMinReplicas"
	ReasonAboveMax           = "AboveMaxReplicas"
	ReasonAtMax              = "AtMaxReplicas"
	ReasonSignalsUnavailable = "SignalsUnavailable"
	ReasonPartialSignals     = "PartialSignals"
	// ReasonConflict: a HorizontalPodAutoscaler (or KEDA's) also targets
	// the group; the autoscaler stands down (controller, not Decide).
	ReasonConflict = "ConflictingAutoscaler"
)

// Policy is spec.autoscaling in the units Decide works in. A zero target
// is unset.
type Policy struct {
	Min, Max            int32
	TTFTP90             time.Duration
	ITLP90              time.Duration
	InFlightPerUnit     float64
	QueuedTokensPerUnit float64
	UpWindow            time.Duration
	DownWindow          time.Duration
	ColdStart           time.Duration
}

// PolicyFrom reads a ServingGroup's autoscaling spec. With roles set the
// ITL bound sizes the decode instances (RatioPolicyFrom), not the units:
// units grow for it only through UnitsWanted, when decode is at its
// maximum per unit.
func PolicyFrom(s *v1alpha1.AutoscalingSpec) Policy {
	p := Policy{
		Min: s.MinReplicas, Max: s.MaxReplicas,
		UpWindow:   time.Duration(s.ScaleUpWindowSeconds) * time.Second,
		DownWindow: time.Duration(s.ScaleDownWindowSeconds) * time.Second,
		ColdStart:  time.Duration(s.ColdStartSeconds) * time.Second,
	}
	if t := s.Targets.TTFTP90Milliseconds; t != nil {
		p.TTFTP90 = time.Duration(*t) * time.Millisecond
	}
	if t := s.Targets.ITLP90Milliseconds; t != nil && s.Roles == nil {
		p.ITLP90 = time.Duration(*t) * time.Millisecond
	}
	if t := s.Targets.InFlightRequestsPerUnit; t != nil {
		p.InFlightPerUnit = float64(*t)
	}
	if t := s.Targets.QueuedTokensPerUnit; t != nil {
		p.QueuedTokensPerUnit = float64(*t)
	}
	return p
}

// Signals are one look at the group's load, summed over routers.
type Signals struct {
	At time.Time
	// Routers answered; Failed did not.
	Routers, Failed int
	InFlight        float64
	QueuedTokens    float64
	// Held is the part of InFlight waiting in the routers' queues.
	Held float64
	// Requests answered for the group's models during the window.
	Requests float64
	// TTFTP90 is valid when HasTTFT.
	TTFTP90 time.Duration
	HasTTFT bool
	// ITLP90 is the engines' p90 inter-token latency, valid when HasITL;
	// Engines answered its scrape, EnginesFailed did not.
	ITLP90                 time.Duration
	HasITL                 bool
	Engines, EnginesFailed int
}

// ITL is the engines' p90 inter-token latency over the signal window.
type ITL struct {
	P90 time.Duration
	OK  bool // some engine produced tokens in the window
	// Engines answered the scrape; Failed did not.
	Engines, Failed int
}

// WithITL is s with the engines' ITL measurement.
func (s Signals) WithITL(m ITL) Signals {
	s.ITLP90, s.HasITL, s.Engines, s.EnginesFailed = m.P90, m.OK, m.Engines, m.Failed
	return s
}

func (s Signals) demand() bool { return s.InFlight > 0 || s.Held > 0 || s.Requests > 0 }

// Input is everything one decision reads.
type Input struct {
	Now     time.Time
	Policy  Policy
	Current int32 // spec.replicas
	Ready   int32 // status.readyReplicas
	Signals Signals
	// Previous is the last decision's record (from status); its signals
	// give the growth rate.
	Previous Previous
	// UnitsWanted is what the prefill and decode roles ask for when one of
	// them at its per-unit maximum cannot carry its load
	// (RatioDecision.UnitsWanted); 0 is none.
	UnitsWanted int32
}

// Previous is what the last decision left in status.
type Previous struct {
	Signals    *Signals
	AboveSince time.Time
	BelowSince time.Time
	// DownLooks are the running down window's looks (downLooks).
	DownLooks []Look
}

// Look is a recommendation below the current units, recorded for the
// down window.
type Look struct {
	At       time.Time
	Replicas int32
}

// Decision is what to do and why.
type Decision struct {
	// Replicas is the value spec.replicas should have.
	Replicas int32
	// Desired is the recommendation before stabilisation, within bounds.
	Desired         int32
	Reason, Message string
	AboveSince      time.Time
	BelowSince      time.Time
	// DownLooks are what the next look's Previous.DownLooks must be; nil
	// outside a down window.
	DownLooks []Look
}

// growthHorizon is the longest gap between two looks over which a growth
// rate is still believed; after a controller outage the old sample says
// nothing about the trend.
const growthHorizon = 10 * time.Minute

// ttftTolerance keeps a latency bound (TTFT, ITL) from scaling up on
// noise.
const ttftTolerance = 1.1

// Decide returns the units for the group (see the package doc).
func Decide(in Input) Decision {
	p, cur, sig := in.Policy, in.Current, in.Signals
	// 1. Bounds.
	if cur < p.Min {
		return Decision{Replicas: p.Min, Desired: p.Min, Reason: ReasonBelowMin,
			Message: fmt.Sprintf("%d units is below minReplicas %d", cur, p.Min)}
	}
	if cur > p.Max {
		return Decision{Replicas: p.Max, Desired: p.Max, Reason: ReasonAboveMax,
			Message: fmt.Sprintf("%d units is above maxReplicas %d", cur, p.Max)}
	}
	// 2. No signals.
	if sig.Routers == 0 {
		return Decision{Replicas: cur, Desired: cur, Reason: ReasonSignalsUnavailable,
			Message: fmt.Sprintf("no router answered (%d failed); keeping %d units", sig.Failed, cur)}
	}
	desired, why := recommend(in)
	// 3. From zero.
	if cur == 0 {
		if !sig.demand() {
			return Decision{Replicas: 0, Desired: 0, Reason: ReasonWithinTargets, Message: "no demand; staying at 0 units"}
		}
		desired = clamp(max(desired, 1), p)
		return Decision{Replicas: desired, Desired: desired, Reason: ReasonScaledFromZero,
			Message: fmt.Sprintf("demand at 0 units (%s): %d units", why, desired)}
	}
	return stabilise(in, desired, why)
}

// recommend is step 4 and 5: the units the signals ask for, within bounds,
// and the figures behind it.
func recommend(in Input) (int32, string) {
	p, sig := in.Policy, in.Signals
	var parts []string
	best := int32(-1)
	consider := func(n int32, what string) {
		parts = append(parts, what)
		best = max(best, n)
	}
	if p.InFlightPerUnit > 0 {
		now, load := inFlightLoad(in)
		consider(ceilUnits(load/p.InFlightPerUnit), fmt.Sprintf("in-flight %s per unit %g", describeLoad(now, load, p.ColdStart), p.InFlightPerUnit))
	}
	if p.QueuedTokensPerUnit > 0 {
		load := predict(in, sig.QueuedTokens, func(s *Signals) float64 { return s.QueuedTokens })
		consider(ceilUnits(load/p.QueuedTokensPerUnit), fmt.Sprintf("queued tokens %s per unit %g", describeLoad(sig.QueuedTokens, load, p.ColdStart), p.QueuedTokensPerUnit))
	}
	if p.TTFTP90 > 0 && sig.HasTTFT {
		consider(byLatencyBound(in, sig.TTFTP90, p.TTFTP90), fmt.Sprintf("p90 TTFT %v against bound %v", sig.TTFTP90.Round(time.Millisecond), p.TTFTP90))
	}
	if p.ITLP90 > 0 && sig.HasITL {
		consider(byLatencyBound(in, sig.ITLP90, p.ITLP90), fmt.Sprintf("p90 ITL %v against bound %v", sig.ITLP90.Round(time.Millisecond), p.ITLP90))
	}
	if in.UnitsWanted > 0 {
		consider(in.UnitsWanted, fmt.Sprintf("a role at its maximum instances per unit asks for %d units", in.UnitsWanted))
	}
	if !sig.demand() {
		return p.Min, "no demand"
	}
	if best < 0 { // only latency bounds, and no sample of either in the window
		return in.Current, "no latency samples"
	}
	return clamp(best, p), strings.Join(parts, "; ")
}

// byLatencyBound is what a p90 latency bound asks for: over it by more
// than the tolerance, the ready units scaled by p90/bound (never fewer
// than the current units, so units still starting are not doubled while
// they load); between half of it and the tolerance, the current units.
// Under half of it the bound holds no unit: with a queue target set (in
// flight, queued tokens) that target says how many may go, since TTFT at
// light load is flat and says nothing about the number; with only
// latency bounds, one unit less. (Asking for one unit less whatever the
// queue target said made every scale-down one unit per window: 32 to 16
// units took 16 windows.)
func byLatencyBound(in Input, p90, bound time.Duration) int32 {
	ratio := float64(p90) / float64(bound)
	switch {
	case ratio > ttftTolerance:
		return max(in.Current, ceilUnits(float64(max(in.Ready, 1))*ratio))
	case ratio < 0.5:
		if in.Policy.InFlightPerUnit > 0 || in.Policy.QueuedTokensPerUnit > 0 {
			return -1
		}
		return in.Current - 1
	}
	return in.Current
}

// inFlightLoad is the in-flight figure the in-flight target reads, now
// and predicted (step 4). Requests the routers hold are waiting for a slot
// the engines free, not using one: with some unit ready they are left out
// (the engines' in-flight at saturation already asks for current units /
// utilisation, and the TTFT bound sees the wait), and they are never
// extrapolated, since a queue grows while nothing drains it whatever the
// load does. With no unit ready they are the only sign of the load and
// count one slot each.
func inFlightLoad(in Input) (now, load float64) {
	held := min(max(in.Signals.Held, 0), in.Signals.InFlight)
	engines := in.Signals.InFlight - held
	load = predict(in, engines, func(s *Signals) float64 { return max(s.InFlight-s.Held, 0) })
	if in.Ready == 0 {
		return in.Signals.InFlight, load + held
	}
	return engines, load
}

// growthNoise is how many standard deviations of a count's own noise a
// change between two looks must exceed before it is taken for growth. A
// gauge of requests in flight (or tokens queued) is roughly Poisson at a
// steady load, so two looks at the same load differ by about
// sqrt(now + previous); three of those is a change steady load makes
// about one look in a thousand.
const growthNoise = 3

// predict extrapolates a growing load by coldStart (step 4): the change
// since the previous look, believed only beyond the gauge's noise, as a
// rate times the cold start.
func predict(in Input, now float64, of func(*Signals) float64) float64 {
	prev := in.Previous.Signals
	if prev == nil || in.Policy.ColdStart == 0 {
		return now
	}
	dt := in.Signals.At.Sub(prev.At)
	if dt <= 0 || dt > growthHorizon {
		return now
	}
	was := of(prev)
	rise := now - was
	if rise <= growthNoise*math.Sqrt(max(now+was, 1)) {
		return now
	}
	return now + rise/dt.Seconds()*in.Policy.ColdStart.Seconds()
}

func describeLoad(now, predicted float64, coldStart time.Duration) string {
	if predicted == now {
		return fmt.Sprintf("%g", now)
	}
	return fmt.Sprintf("%g (%.0f expected in the %v cold start)", now, predicted, coldStart)
}

// stabilise is step 6.
func stabilise(in Input, desired int32, why string) Decision {
	p, cur, now := in.Policy, in.Current, in.Now
	d := Decision{Replicas: cur, Desired: desired}
	switch {
	case desired > cur:
		d.AboveSince = in.Previous.AboveSince
		if d.AboveSince.IsZero() {
			d.AboveSince = now
		}
		if wait := p.UpWindow - now.Sub(d.AboveSince); wait > 0 {
			d.Reason = ReasonWaitingUpWindow
			d.Message = fmt.Sprintf("%s: %d units wanted, adding them in %v unless load falls", why, desired, wait.Round(time.Second))
			return d
		}
		d.Replicas, d.AboveSince = desired, time.Time{}
		d.Reason = ReasonScaledUp
		d.Message = fmt.Sprintf("%s: %d to %d units", why, cur, desired)
	case desired < cur:
		d.BelowSince, d.DownLooks = in.Previous.BelowSince, recentLooks(in.Previous.DownLooks, now, p.DownWindow)
		if len(d.DownLooks) == 0 { // no look below in the last window: a window begins
			d.BelowSince = now
		}
		d.DownLooks = addLook(d.DownLooks, Look{At: now, Replicas: desired})
		// The most any look of the last window asked for, once the looks
		// asking for the current units or more (made before a scale-down
		// to them) have left it; this look is below, so there is one.
		i := 0
		for d.DownLooks[i].Replicas >= cur {
			i++
		}
		to := d.DownLooks[i].Replicas
		wait := p.DownWindow - now.Sub(d.BelowSince)
		if i > 0 {
			wait = max(wait, d.DownLooks[i-1].At.Add(p.DownWindow).Sub(now))
		}
		if in.Signals.Failed > 0 {
			d.Reason = ReasonPartialSignals
			d.Message = fmt.Sprintf("%s: %d units would do, but %d of %d routers did not answer; not scaling down", why, desired, in.Signals.Failed, in.Signals.Failed+in.Signals.Routers)
			return d
		}
		if wait > 0 {
			d.Reason = ReasonWaitingDownWindow
			d.Message = fmt.Sprintf("%s: %d units would do, going to %d in %v unless load rises", why, desired, to, wait.Round(time.Second))
			return d
		}
		// The window goes on: while looks stay below, the units follow
		// the most the last window's looks asked for, look by look.
		d.Replicas = to
		d.Reason = ReasonScaledDown
		d.Message = fmt.Sprintf("%s: %d units would do; %d to %d units, the most any look of the last %v asked for", why, desired, cur, to, p.DownWindow)
	default:
		// An equal look neither starts nor ends a down window: a load
		// that sits at the current units between looks below them is
		// still not asking for more. The window ends when none of its
		// looks is left in the last window's time.
		if d.DownLooks = recentLooks(in.Previous.DownLooks, now, p.DownWindow); len(d.DownLooks) > 0 {
			d.BelowSince = in.Previous.BelowSince
		}
		d.Reason = ReasonWithinTargets
		d.Message = fmt.Sprintf("%s: %d units", why, cur)
		if cur == p.Max && overMax(in) {
			d.Reason = ReasonAtMax
			d.Message = fmt.Sprintf("%s: more than maxReplicas %d units wanted", why, p.Max)
		}
	}
	return d
}

// maxDownLooks bounds the looks kept in status.
const maxDownLooks = 16

// recentLooks are the looks of the last window: made after now - window.
func recentLooks(looks []Look, now time.Time, window time.Duration) []Look {
	var out []Look
	for _, l := range looks {
		if l.At.After(now.Add(-window)) {
			out = append(out, l)
		}
	}
	return out
}

// addLook records a look as a sliding maximum: a look asking for no more
// than a later one can never again be the window's most, so only looks
// asking for more units than every later look are kept, oldest (and
// largest) first. Past maxDownLooks the two oldest become one that asks
// for the larger number until the later time, which holds units longer,
// never shorter.
func addLook(looks []Look, l Look) []Look {
	for len(looks) > 0 && looks[len(looks)-1].Replicas <= l.Replicas {
		looks = looks[:len(looks)-1]
	}
	looks = append(looks, l)
	if len(looks) > maxDownLooks {
		looks[1].Replicas = looks[0].Replicas
		looks = looks[1:]
	}
	return looks
}

// overMax says whether the unclamped recommendation exceeds maxReplicas.
func overMax(in Input) bool {
	wide := in
	wide.Policy.Max = math.MaxInt32
	n, _ := recommend(wide)
	return n > in.Policy.Max
}

func ceilUnits(x float64) int32 {
	if x >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(math.Ceil(x - 1e-9)) // 4.0000000001 from float noise is 4
}

func clamp(n int32, p Policy) int32 { return min(max(n, p.Min), p.Max) }
