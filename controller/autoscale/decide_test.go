package autoscale

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// policy is an in-flight target of 10 per unit, 1..8 units, no windows.
func policy(edit ...func(*Policy)) Policy {
	p := Policy{Min: 1, Max: 8, InFlightPerUnit: 10}
	for _, e := range edit {
		e(&p)
	}
	return p
}

func load(inFlight float64) Signals {
	return Signals{At: t0, Routers: 2, InFlight: inFlight, Requests: inFlight}
}

// got is the part of a Decision the cases compare.
type got struct {
	Replicas, Desired      int32
	Reason                 string
	AboveSince, BelowSince time.Time
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want got
	}{
		{
			name: "load over target scales up at once without an up window",
			in:   Input{Now: t0, Policy: policy(), Current: 2, Ready: 2, Signals: load(35)},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonScaledUp},
		},
		{
			name: "load over target waits for the up window",
			in: Input{Now: at(20), Policy: policy(func(p *Policy) { p.UpWindow = 30 * time.Second }), Current: 2, Signals: load(35),
				Previous: Previous{AboveSince: at(0)}},
			want: got{Replicas: 2, Desired: 4, Reason: ReasonWaitingUpWindow, AboveSince: at(0)},
		},
		{
			name: "load over target for the whole up window scales up",
			in: Input{Now: at(30), Policy: policy(func(p *Policy) { p.UpWindow = 30 * time.Second }), Current: 2, Signals: load(35),
				Previous: Previous{AboveSince: at(0)}},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonScaledUp},
		},
		{
			name: "first look over target starts the up window",
			in:   Input{Now: at(5), Policy: policy(func(p *Policy) { p.UpWindow = 30 * time.Second }), Current: 2, Signals: load(35)},
			want: got{Replicas: 2, Desired: 4, Reason: ReasonWaitingUpWindow, AboveSince: at(5)},
		},
		{
			name: "a fall below target restarts a running up window",
			in: Input{Now: at(20), Policy: policy(func(p *Policy) { p.UpWindow = 30 * time.Second; p.DownWindow = time.Minute }), Current: 2, Signals: load(5),
				Previous: Previous{AboveSince: at(0)}},
			want: got{Replicas: 2, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(20)},
		},
		{
			name: "load under target waits for the down window",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4, Signals: load(5),
				Previous: Previous{BelowSince: at(0)}},
			want: got{Replicas: 4, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(0)},
		},
		{
			name: "after the down window one unit goes and the window restarts",
			in: Input{Now: at(300), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4, Signals: load(5),
				Previous: Previous{BelowSince: at(0)}},
			want: got{Replicas: 3, Desired: 1, Reason: ReasonScaledDown, BelowSince: at(300)},
		},
		{
			name: "a router that did not answer blocks scale-down",
			in: Input{Now: at(300), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4,
				Signals:  Signals{At: t0, Routers: 1, Failed: 1, InFlight: 5},
				Previous: Previous{BelowSince: at(0)}},
			want: got{Replicas: 4, Desired: 1, Reason: ReasonPartialSignals, BelowSince: at(0)},
		},
		{
			name: "a router that did not answer does not block scale-up",
			in:   Input{Now: t0, Policy: policy(), Current: 1, Signals: Signals{At: t0, Routers: 1, Failed: 1, InFlight: 25}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledUp},
		},
		{
			name: "load exactly at target keeps the units",
			in:   Input{Now: t0, Policy: policy(), Current: 3, Signals: load(30)},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonWithinTargets},
		},
		{
			name: "recommendation above max is capped",
			in:   Input{Now: t0, Policy: policy(), Current: 2, Signals: load(500)},
			want: got{Replicas: 8, Desired: 8, Reason: ReasonScaledUp},
		},
		{
			name: "at max with more wanted says so",
			in:   Input{Now: t0, Policy: policy(), Current: 8, Signals: load(500)},
			want: got{Replicas: 8, Desired: 8, Reason: ReasonAtMax},
		},
		{
			name: "below min is raised at once even without signals",
			in:   Input{Now: t0, Policy: policy(func(p *Policy) { p.Min = 3 }), Current: 1},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonBelowMin},
		},
		{
			name: "above max is lowered at once",
			in:   Input{Now: t0, Policy: policy(), Current: 12, Signals: load(500)},
			want: got{Replicas: 8, Desired: 8, Reason: ReasonAboveMax},
		},
		{
			name: "no router answered keeps the units",
			in:   Input{Now: t0, Policy: policy(), Current: 5, Signals: Signals{At: t0, Failed: 2}},
			want: got{Replicas: 5, Desired: 5, Reason: ReasonSignalsUnavailable},
		},
		{
			name: "from zero a held request brings one unit at once, up window or not",
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.Min = 0; p.UpWindow = time.Minute }), Current: 0,
				Signals: Signals{At: t0, Routers: 1, InFlight: 1, Held: 1}},
			want: got{Replicas: 1, Desired: 1, Reason: ReasonScaledFromZero},
		},
		{
			name: "from zero a large held queue brings what it needs",
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.Min = 0 }), Current: 0,
				Signals: Signals{At: t0, Routers: 1, InFlight: 30, Held: 30}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledFromZero},
		},
		{
			name: "from zero a refused request counts as demand",
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.Min = 0 }), Current: 0,
				Signals: Signals{At: t0, Routers: 1, Requests: 1}},
			want: got{Replicas: 1, Desired: 1, Reason: ReasonScaledFromZero},
		},
		{
			name: "at zero without demand stays at zero",
			in:   Input{Now: t0, Policy: policy(func(p *Policy) { p.Min = 0 }), Current: 0, Signals: Signals{At: t0, Routers: 1}},
			want: got{Replicas: 0, Desired: 0, Reason: ReasonWithinTargets},
		},
		{
			name: "idle group with min 0 goes to zero after the down window",
			in: Input{Now: at(60), Policy: policy(func(p *Policy) { p.Min = 0; p.DownWindow = time.Minute }), Current: 1,
				Signals: Signals{At: at(60), Routers: 1}, Previous: Previous{BelowSince: at(0)}},
			want: got{Replicas: 0, Desired: 0, Reason: ReasonScaledDown, BelowSince: at(60)},
		},
		{
			name: "cold start: growing load is sized for the load expected when new units serve",
			// 20 -> 30 in-flight over 10 s is 1/s; 60 s cold start expects 90.
			in: Input{Now: at(10), Policy: policy(func(p *Policy) { p.ColdStart = time.Minute; p.Max = 20 }), Current: 3,
				Signals:  Signals{At: at(10), Routers: 1, InFlight: 30},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 20}}},
			want: got{Replicas: 9, Desired: 9, Reason: ReasonScaledUp},
		},
		{
			name: "cold start: falling load is not extrapolated down",
			in: Input{Now: at(10), Policy: policy(func(p *Policy) { p.ColdStart = time.Minute }), Current: 3,
				Signals:  Signals{At: at(10), Routers: 1, InFlight: 30},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 50}}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonWithinTargets},
		},
		{
			name: "cold start: a previous look older than the growth horizon is ignored",
			in: Input{Now: at(3600), Policy: policy(func(p *Policy) { p.ColdStart = time.Minute }), Current: 3,
				Signals:  Signals{At: at(3600), Routers: 1, InFlight: 30},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 0}}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonWithinTargets},
		},
		{
			name: "queued tokens target",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, QueuedTokensPerUnit: 8000}, Current: 1,
				Signals: Signals{At: t0, Routers: 1, InFlight: 3, QueuedTokens: 20000}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledUp},
		},
		{
			name: "the most demanding target wins",
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.QueuedTokensPerUnit = 8000 }), Current: 1,
				Signals: Signals{At: t0, Routers: 1, InFlight: 15, QueuedTokens: 40000}},
			want: got{Replicas: 5, Desired: 5, Reason: ReasonScaledUp},
		},
		{
			name: "TTFT over its bound grows the ready units in proportion",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, TTFTP90: time.Second}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 2500 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 5, Desired: 5, Reason: ReasonScaledUp},
		},
		{
			name: "TTFT over its bound while units still start asks for no more than are coming",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, TTFTP90: time.Second}, Current: 4, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 1500 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonWithinTargets},
		},
		{
			name: "TTFT within tolerance of its bound keeps the units",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, TTFTP90: time.Second}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 1050 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonWithinTargets},
		},
		{
			name: "TTFT under half its bound may lose one unit",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, TTFTP90: time.Second}, Current: 4, Ready: 4,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 100 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledDown, BelowSince: t0},
		},
		{
			name: "TTFT bound without samples but with demand keeps the units",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, TTFTP90: time.Second}, Current: 4, Ready: 4,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10}},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonWithinTargets},
		},
		{
			name: "a TTFT bound under load does not let an in-flight target shrink the group",
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.TTFTP90 = time.Second }), Current: 4, Ready: 4,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 800 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonWithinTargets},
		},
		{
			// 75 ms against 50: 1.5 × 2 ready units.
			name: "ITL over its bound grows the ready units in proportion",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, ITLP90: 50 * time.Millisecond}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 40, ITLP90: 75 * time.Millisecond, HasITL: true, Engines: 2}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledUp},
		},
		{
			name: "ITL within tolerance of its bound keeps the units",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, ITLP90: 50 * time.Millisecond}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 40, ITLP90: 54 * time.Millisecond, HasITL: true, Engines: 2}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonWithinTargets},
		},
		{
			name: "ITL under half its bound may lose one unit",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, ITLP90: 50 * time.Millisecond}, Current: 3, Ready: 3,
				Signals: Signals{At: t0, Routers: 1, InFlight: 4, ITLP90: 20 * time.Millisecond, HasITL: true, Engines: 3}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonScaledDown, BelowSince: t0},
		},
		{
			name: "ITL under its bound does not overrule a TTFT bound that is exceeded",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, ITLP90: 50 * time.Millisecond, TTFTP90: time.Second}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 40, ITLP90: 10 * time.Millisecond, HasITL: true,
					TTFTP90: 2 * time.Second, HasTTFT: true}},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonScaledUp},
		},
		{
			name: "ITL bound without samples but with demand keeps the units",
			in: Input{Now: t0, Policy: Policy{Min: 1, Max: 8, ITLP90: 50 * time.Millisecond}, Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 40, EnginesFailed: 2}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonWithinTargets},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.in)
			g := got{Replicas: d.Replicas, Desired: d.Desired, Reason: d.Reason, AboveSince: d.AboveSince, BelowSince: d.BelowSince}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("Decide (-want +got):\n%s\nmessage: %s", diff, d.Message)
			}
			if d.Message == "" {
				t.Error("decision without a message")
			}
		})
	}
}

// TestScaleDownTakesOneWindowPerUnit walks a load drop through successive
// decisions, feeding each decision's record into the next, as the
// controller does through status.
func TestScaleDownTakesOneWindowPerUnit(t *testing.T) {
	p := policy(func(p *Policy) { p.DownWindow = time.Minute })
	cur, prev := int32(4), Previous{}
	var steps []int32
	for s := 0; s <= 200; s += 10 {
		d := Decide(Input{Now: at(s), Policy: p, Current: cur, Ready: cur, Signals: Signals{At: at(s), Routers: 1, InFlight: 5}, Previous: prev})
		if d.Replicas != cur {
			steps = append(steps, int32(s))
		}
		cur, prev = d.Replicas, Previous{AboveSince: d.AboveSince, BelowSince: d.BelowSince}
	}
	if diff := cmp.Diff([]int32{60, 120, 180}, steps); diff != "" {
		t.Errorf("seconds at which a unit went (-want +got):\n%s", diff)
	}
	if cur != 1 {
		t.Errorf("ended at %d units, want 1 (minReplicas)", cur)
	}
}
