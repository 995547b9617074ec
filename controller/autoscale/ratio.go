package autoscale

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// Reasons of a shape decision.
const (
	ReasonShapeResized   = "RolesResized"
	ReasonShapeWithin    = "RolesWithinTargets"
	ReasonShapeWaitDown  = "RolesWaitingForScaleDownWindow"
	ReasonShapeNoUnits   = "RolesNoUnits"
	ReasonShapeNoSignals = "RolesSignalsUnavailable"
	ReasonShapePartial   = "RolesPartialSignals"
	ReasonShapeRoleAtMax = "RolesAtMaxInstances"
	ReasonShapeNoRate    = "RolesPrefillRateUnknown"
)

// RoleBounds are one role's instances per unit: Min is at least the
// role's gang minimum (minReplicas), Max what a unit's topology domain
// can hold.
type RoleBounds struct {
	Min, Max int32
}

// RatioPolicy sizes the prefill and decode roles of a disaggregated group
// inside each unit (see "Prefill and decode" in the package doc).
type RatioPolicy struct {
	Prefill, Decode RoleBounds
	// PrefillUtilisation is the share of a prefill instance's measured
	// rate the autoscaler plans to use (0 < u ≤ 1). Below 1 it leaves
	// headroom: a prefill queue fed close to its rate makes TTFT grow
	// without bound.
	PrefillUtilisation float64
	// DecodeRequestsPerInstance is the running requests one decode
	// instance carries within the ITL bound (the batch size at which a
	// profile of the engine meets it).
	DecodeRequestsPerInstance float64
	// ITLP90 bounds the p90 inter-token latency at the decode instances;
	// 0 is unset (step 3).
	ITLP90 time.Duration
	// DownWindow and ColdStart as in Policy: an instance is removed only
	// after fewer have sufficed for DownWindow, and a growing load is
	// sized ColdStart ahead.
	DownWindow, ColdStart time.Duration
}

// Role names the prefill/decode shape is decided for (the router's
// router/endpoint.RoleFromName reads the same names).
const (
	RolePrefill = "prefill"
	RoleDecode  = "decode"
)

// RatioPolicyFrom reads spec.autoscaling.roles of a group with the given
// roles; ok is false without it. A role's minimum is never below its gang
// minimum (minReplicas, replicas when unset), whatever the bounds say.
func RatioPolicyFrom(s *v1alpha1.AutoscalingSpec, roles []v1alpha1.RoleSpec) (p RatioPolicy, ok bool) {
	if s == nil || s.Roles == nil {
		return RatioPolicy{}, false
	}
	r := s.Roles
	p = RatioPolicy{
		Prefill:                   RoleBounds{Min: max(r.Prefill.MinInstances, GangMinimum(roles, RolePrefill)), Max: r.Prefill.MaxInstances},
		Decode:                    RoleBounds{Min: max(r.Decode.MinInstances, GangMinimum(roles, RoleDecode)), Max: r.Decode.MaxInstances},
		PrefillUtilisation:        float64(r.Prefill.UtilizationPercent) / 100,
		DecodeRequestsPerInstance: float64(r.Decode.RequestsPerInstance),
		DownWindow:                time.Duration(s.ScaleDownWindowSeconds) * time.Second,
		ColdStart:                 time.Duration(s.ColdStartSeconds) * time.Second,
	}
	if r.Prefill.UtilizationPercent == 0 {
		p.PrefillUtilisation = 0.8 // the CRD default, for objects built without it
	}
	if t := s.Targets.ITLP90Milliseconds; t != nil {
		p.ITLP90 = time.Duration(*t) * time.Millisecond
	}
	p.Prefill.Max, p.Decode.Max = max(p.Prefill.Max, p.Prefill.Min), max(p.Decode.Max, p.Decode.Min)
	return p, true
}

// GangMinimum is a role's minReplicas, its replicas when unset (the CRD
// default of both is 1); 0 for a role the group lacks.
func GangMinimum(roles []v1alpha1.RoleSpec, name string) int32 {
	for _, r := range roles {
		if r.Name != name {
			continue
		}
		if r.MinReplicas != nil {
			return *r.MinReplicas
		}
		return max(r.Replicas, 1)
	}
	return 0
}

// RatioSignals are the role loads, summed over the routers that answered.
type RatioSignals struct {
	At              time.Time
	Routers, Failed int
	// UncachedTokensPerSecond is the prompt tokens per second the routers
	// sent to the group's models that no engine held in its prefix cache
	// (prompt_tokens_total minus cached_tokens_total over the window).
	UncachedTokensPerSecond float64
	// PrefillRate is what one prefill instance sustains, in uncached
	// tokens per second: the median of the routers' learned rates for the
	// group's prefill endpoints (prefill_rate_tokens_per_second); 0 when
	// none is known yet.
	PrefillRate float64
	// DecodeRunning is the open requests at the group's decode endpoints.
	DecodeRunning float64
	// DecodeITLP90 is valid when HasITL.
	DecodeITLP90 time.Duration
	HasITL       bool
}

// Shape is the instances per role in every unit.
type Shape struct {
	Prefill, Decode int32
}

func (s Shape) String() string { return fmt.Sprintf("%dP%dD", s.Prefill, s.Decode) }

// RatioInput is everything one shape decision reads.
type RatioInput struct {
	Now     time.Time
	Policy  RatioPolicy
	Units   int32 // the units the unit decision settled on
	Current Shape
	Signals RatioSignals
	// Previous is the last shape decision's record.
	Previous RatioPrevious
}

// RatioPrevious is what the last shape decision left.
type RatioPrevious struct {
	Signals                             *RatioSignals
	PrefillBelowSince, DecodeBelowSince time.Time
}

// RatioDecision is the shape to apply and why.
type RatioDecision struct {
	Shape   Shape // to apply now
	Desired Shape // the recommendation, within bounds, before stabilisation
	// UnitsWanted is the units the roles ask for when a role at its
	// per-unit maximum cannot carry its load in Units units (0 otherwise):
	// one more target for the unit decision, so the group grows by whole
	// units only when reshaping cannot absorb the load.
	UnitsWanted                         int32
	Reason, Message                     string
	PrefillBelowSince, DecodeBelowSince time.Time
}

// itlTolerance keeps the ITL bound from adding decode instances on noise.
const itlTolerance = 1.1

// DecideShape returns the instances per role per unit (package doc,
// "Prefill and decode").
func DecideShape(in RatioInput) RatioDecision {
	p, cur, sig := in.Policy, in.Current, in.Signals
	keep := RatioDecision{Shape: cur, Desired: cur}
	// 1. Nothing to shape, or nothing to shape it by.
	if in.Units == 0 {
		keep.Reason, keep.Message = ReasonShapeNoUnits, "no units; the shape is kept for the first one"
		return keep
	}
	if sig.Routers == 0 {
		keep.Reason, keep.Message = ReasonShapeNoSignals, fmt.Sprintf("no router answered (%d failed); keeping %s", sig.Failed, cur)
		return keep
	}
	// 2. Bounds first, whatever the signals say.
	bounded := Shape{Prefill: clampRole(cur.Prefill, p.Prefill), Decode: clampRole(cur.Decode, p.Decode)}
	// 3.–4. Per role: the total instances the load needs, predicted one
	// cold start ahead, spread over the units.
	var why []string
	units := float64(in.Units)
	prefillNeed, prefillKnown := 0.0, sig.PrefillRate > 0 && p.PrefillUtilisation > 0
	desired := bounded
	if prefillKnown {
		load := predictRole(in, sig.UncachedTokensPerSecond, func(s *RatioSignals) float64 { return s.UncachedTokensPerSecond })
		prefillNeed = load / (sig.PrefillRate * p.PrefillUtilisation)
		desired.Prefill = clampRole(ceilUnits(prefillNeed/units), p.Prefill)
		why = append(why, fmt.Sprintf("prefill %.0f uncached tok/s at %.0f tok/s × %g per instance", load, sig.PrefillRate, p.PrefillUtilisation))
	} else {
		why = append(why, "prefill rate not measured yet")
	}
	decodeNeed := 0.0
	if p.DecodeRequestsPerInstance > 0 {
		load := predictRole(in, sig.DecodeRunning, func(s *RatioSignals) float64 { return s.DecodeRunning })
		decodeNeed = load / p.DecodeRequestsPerInstance
		desired.Decode = clampRole(ceilUnits(decodeNeed/units), p.Decode)
		why = append(why, fmt.Sprintf("decode %.0f running at %g per instance", load, p.DecodeRequestsPerInstance))
	}
	// 5. The ITL bound: over it, decode grows in proportion from the
	// current instances (more sequences per instance is what slows each
	// token); it never shrinks decode by itself, since at light load ITL
	// is the step time, flat in the load.
	if p.ITLP90 > 0 && sig.HasITL {
		ratio := float64(sig.DecodeITLP90) / float64(p.ITLP90)
		if ratio > itlTolerance {
			byITL := clampRole(ceilUnits(float64(max(cur.Decode, 1))*ratio), p.Decode)
			desired.Decode = max(desired.Decode, byITL)
			decodeNeed = max(decodeNeed, float64(byITL)*units)
		}
		why = append(why, fmt.Sprintf("decode p90 ITL %v against bound %v", sig.DecodeITLP90.Round(time.Millisecond), p.ITLP90))
	}
	// 6. Units: a role that would need more than its maximum per unit asks
	// for whole units.
	var wanted int32
	if prefillKnown && p.Prefill.Max > 0 {
		wanted = max(wanted, ceilUnits(prefillNeed/float64(p.Prefill.Max)))
	}
	if p.Decode.Max > 0 {
		wanted = max(wanted, ceilUnits(decodeNeed/float64(p.Decode.Max)))
	}
	if wanted <= in.Units {
		wanted = 0
	}
	d := stabiliseShape(in, bounded, desired, strings.Join(why, "; "))
	d.UnitsWanted = wanted
	if wanted > 0 && d.Reason == ReasonShapeWithin {
		d.Reason = ReasonShapeRoleAtMax
		d.Message += fmt.Sprintf("; a role is at its maximum per unit: %d units wanted", wanted)
	}
	if !prefillKnown && d.Reason == ReasonShapeWithin {
		d.Reason = ReasonShapeNoRate
	}
	return d
}

// stabiliseShape is step 7: a role grows at once (an instance's cold
// start is the delay already), shrinks by one instance per DownWindow,
// and never while some routers did not answer (their load is missing
// from the sums).
func stabiliseShape(in RatioInput, bounded, desired Shape, why string) RatioDecision {
	d := RatioDecision{Shape: bounded, Desired: desired}
	var notes []string
	role := func(name string, cur, want int32, since time.Time, set *int32, sinceOut *time.Time) {
		switch {
		case want > cur:
			*set = want
			notes = append(notes, fmt.Sprintf("%s %d to %d", name, cur, want))
		case want < cur:
			*sinceOut = since
			if since.IsZero() {
				*sinceOut = in.Now
			}
			if in.Signals.Failed > 0 {
				notes = append(notes, fmt.Sprintf("%s could be %d; not shrinking while %d routers do not answer", name, want, in.Signals.Failed))
				return
			}
			if wait := in.Policy.DownWindow - in.Now.Sub(*sinceOut); wait > 0 {
				notes = append(notes, fmt.Sprintf("%s could be %d; removing one in %v unless load rises", name, want, wait.Round(time.Second)))
				return
			}
			*set, *sinceOut = cur-1, in.Now
			notes = append(notes, fmt.Sprintf("%s %d to %d", name, cur, cur-1))
		}
	}
	role(RolePrefill, bounded.Prefill, desired.Prefill, in.Previous.PrefillBelowSince, &d.Shape.Prefill, &d.PrefillBelowSince)
	role(RoleDecode, bounded.Decode, desired.Decode, in.Previous.DecodeBelowSince, &d.Shape.Decode, &d.DecodeBelowSince)
	switch {
	case d.Shape != in.Current:
		d.Reason = ReasonShapeResized
	case desired.Prefill < bounded.Prefill || desired.Decode < bounded.Decode:
		d.Reason = ReasonShapeWaitDown
		if in.Signals.Failed > 0 {
			d.Reason = ReasonShapePartial
		}
	default:
		d.Reason = ReasonShapeWithin
	}
	d.Message = why + ": " + in.Current.String() + " per unit"
	if len(notes) > 0 {
		d.Message += "; " + strings.Join(notes, "; ")
	}
	if d.Shape != in.Current {
		d.Message += "; now " + d.Shape.String()
	}
	return d
}

// predictRole extrapolates a growing role load by the cold start, as
// predict does for units.
func predictRole(in RatioInput, now float64, of func(*RatioSignals) float64) float64 {
	prev := in.Previous.Signals
	if prev == nil || in.Policy.ColdStart == 0 {
		return now
	}
	dt := in.Signals.At.Sub(prev.At)
	if dt <= 0 || dt > growthHorizon {
		return now
	}
	rate := (now - of(prev)) / dt.Seconds()
	if rate <= 0 {
		return now
	}
	return now + rate*in.Policy.ColdStart.Seconds()
}

func clampRole(n int32, b RoleBounds) int32 {
	hi := b.Max
	if hi <= 0 {
		hi = math.MaxInt32
	}
	return min(max(n, b.Min), hi)
}
