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
	DownLooks              []Look
}

// looks are down-window looks given as seconds and replicas, in pairs.
func looks(pairs ...int) []Look {
	var out []Look
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Look{At: at(pairs[i]), Replicas: int32(pairs[i+1])})
	}
	return out
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want got
	}{
		{
			name: "roles at their maximum per unit ask for more units than the in-flight target",
			in:   Input{Now: t0, Policy: policy(), Current: 2, Ready: 2, Signals: load(15), UnitsWanted: 3},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledUp},
		},
		{
			name: "roles asking for fewer units than the in-flight target do not hold it back",
			in:   Input{Now: t0, Policy: policy(), Current: 2, Ready: 2, Signals: load(35), UnitsWanted: 3},
			want: got{Replicas: 4, Desired: 4, Reason: ReasonScaledUp},
		},
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
			want: got{Replicas: 2, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(20), DownLooks: looks(20, 1)},
		},
		{
			name: "load under target waits for the down window",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 2)}},
			want: got{Replicas: 4, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(0), DownLooks: looks(0, 2, 100, 1)},
		},
		{
			name: "a look asking for more than earlier looks of the window replaces them",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4, Signals: load(25),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 2, 50, 1)}},
			want: got{Replicas: 4, Desired: 3, Reason: ReasonWaitingDownWindow, BelowSince: at(0), DownLooks: looks(100, 3)},
		},
		{
			name: "after the down window the group goes to the most any look of the last window asked for, and the window goes on",
			// 8 units; this look wants 1, one 200 s ago 3.
			in: Input{Now: at(300), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 8, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(100, 3)}},
			want: got{Replicas: 3, Desired: 1, Reason: ReasonScaledDown, BelowSince: at(0), DownLooks: looks(100, 3, 300, 1)},
		},
		{
			name: "a look older than the window no longer holds units",
			// The look at 0 s asked for 5; 300 s later it is out of the window.
			in: Input{Now: at(300), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 8, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 5, 100, 3)}},
			want: got{Replicas: 3, Desired: 1, Reason: ReasonScaledDown, BelowSince: at(0), DownLooks: looks(100, 3, 300, 1)},
		},
		{
			name: "after a scale-down the look that asked for the new units holds them until it leaves the window",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = time.Minute }), Current: 3, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(90, 3)}},
			want: got{Replicas: 3, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(0), DownLooks: looks(90, 3, 100, 1)},
		},
		{
			name: "looks above units set by hand hold them until they leave the window, and never scale up",
			// Someone set 3 units while looks of the window asked for 5 and 4.
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = time.Minute }), Current: 3, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(90, 5, 95, 4)}},
			want: got{Replicas: 3, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(0), DownLooks: looks(90, 5, 95, 4, 100, 1)},
		},
		{
			name: "a window with no look left in the last window's time begins again",
			in: Input{Now: at(400), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 8, Signals: load(5),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(50, 3)}},
			want: got{Replicas: 8, Desired: 1, Reason: ReasonWaitingDownWindow, BelowSince: at(400), DownLooks: looks(400, 1)},
		},
		{
			name: "a look equal to the current units keeps a running down window",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 3, Signals: load(30),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 2)}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonWithinTargets, BelowSince: at(0), DownLooks: looks(0, 2)},
		},
		{
			name: "a look equal to the current units ends a window whose looks have all left it",
			in: Input{Now: at(400), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 3, Signals: load(30),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 2)}},
			want: got{Replicas: 3, Desired: 3, Reason: ReasonWithinTargets},
		},
		{
			name: "a look above the current units ends a running down window",
			in: Input{Now: at(100), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second; p.UpWindow = time.Minute }), Current: 3, Signals: load(35),
				Previous: Previous{BelowSince: at(0), DownLooks: looks(0, 2)}},
			want: got{Replicas: 3, Desired: 4, Reason: ReasonWaitingUpWindow, AboveSince: at(100)},
		},
		{
			name: "a router that did not answer blocks scale-down",
			in: Input{Now: at(300), Policy: policy(func(p *Policy) { p.DownWindow = 300 * time.Second }), Current: 4,
				Signals:  Signals{At: t0, Routers: 1, Failed: 1, InFlight: 5},
				Previous: Previous{BelowSince: at(0), DownLooks: looks(100, 2)}},
			want: got{Replicas: 4, Desired: 1, Reason: ReasonPartialSignals, BelowSince: at(0), DownLooks: looks(100, 2, 300, 1)},
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
				Signals: Signals{At: at(60), Routers: 1}, Previous: Previous{BelowSince: at(0), DownLooks: looks(30, 0)}},
			want: got{Replicas: 0, Desired: 0, Reason: ReasonScaledDown, BelowSince: at(0), DownLooks: looks(60, 0)},
		},
		{
			name: "cold start: growing load is sized for the load expected when new units serve",
			// 100 -> 160 in flight over 10 s is 6/s, beyond the noise
			// 3 × sqrt(260) ≈ 48; a 60 s cold start expects 160 + 360.
			in: Input{Now: at(10), Policy: policy(func(p *Policy) { p.ColdStart = time.Minute; p.Max = 100 }), Current: 16, Ready: 16,
				Signals:  Signals{At: at(10), Routers: 1, InFlight: 160},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 100}}},
			want: got{Replicas: 52, Desired: 52, Reason: ReasonScaledUp},
		},
		{
			name: "cold start: a rise within the gauge's noise is not extrapolated",
			// The recorded night: 30 -> 34 in flight in 15 s is 4, under
			// 3 × sqrt(64) = 24; extrapolated by 90 s it would be 58.
			in: Input{Now: at(15), Policy: policy(func(p *Policy) { p.ColdStart = 90 * time.Second; p.InFlightPerUnit = 24 }), Current: 2, Ready: 2,
				Signals:  Signals{At: at(15), Routers: 1, InFlight: 34},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 30}}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonWithinTargets},
		},
		{
			name: "cold start: a rise just beyond the gauge's noise is extrapolated",
			// 30 -> 60 in 15 s: 30 over 3 × sqrt(90) ≈ 28.5; 2/s × 90 s
			// expects 240, 10 units.
			in: Input{Now: at(15), Policy: policy(func(p *Policy) { p.ColdStart = 90 * time.Second; p.InFlightPerUnit = 24; p.Max = 16 }), Current: 2, Ready: 2,
				Signals:  Signals{At: at(15), Routers: 1, InFlight: 60},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 30}}},
			want: got{Replicas: 10, Desired: 10, Reason: ReasonScaledUp},
		},
		{
			name: "held requests with a unit ready ask for no slot of the in-flight target",
			// 50 in flight of which 30 wait in the routers: the engines
			// carry 20, two units' worth.
			in: Input{Now: t0, Policy: policy(), Current: 2, Ready: 2,
				Signals: Signals{At: t0, Routers: 1, InFlight: 50, Held: 30, Requests: 50}},
			want: got{Replicas: 2, Desired: 2, Reason: ReasonWithinTargets},
		},
		{
			name: "held requests while no unit is ready count one slot each but are not extrapolated",
			// 10 -> 60 held in 10 s while both units start: 6 units for the
			// 60 held, not 60 + 5/s × 60 s.
			in: Input{Now: at(10), Policy: policy(func(p *Policy) { p.ColdStart = time.Minute }), Current: 2, Ready: 0,
				Signals:  Signals{At: at(10), Routers: 1, InFlight: 60, Held: 60},
				Previous: Previous{Signals: &Signals{At: at(0), Routers: 1, InFlight: 10, Held: 10}}},
			want: got{Replicas: 6, Desired: 6, Reason: ReasonScaledUp},
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
			want: got{Replicas: 3, Desired: 3, Reason: ReasonScaledDown, BelowSince: t0, DownLooks: looks(0, 3)},
		},
		{
			name: "TTFT well under its bound leaves the count to the in-flight target",
			// In-flight asks for 1 of 8; the bound no longer asks for 7.
			in: Input{Now: t0, Policy: policy(func(p *Policy) { p.TTFTP90 = time.Second }), Current: 8, Ready: 8,
				Signals: Signals{At: t0, Routers: 1, InFlight: 10, TTFTP90: 100 * time.Millisecond, HasTTFT: true}},
			want: got{Replicas: 1, Desired: 1, Reason: ReasonScaledDown, BelowSince: t0, DownLooks: looks(0, 1)},
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
			want: got{Replicas: 2, Desired: 2, Reason: ReasonScaledDown, BelowSince: t0, DownLooks: looks(0, 2)},
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
			g := got{Replicas: d.Replicas, Desired: d.Desired, Reason: d.Reason, AboveSince: d.AboveSince, BelowSince: d.BelowSince, DownLooks: d.DownLooks}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("Decide (-want +got):\n%s\nmessage: %s", diff, d.Message)
			}
			if d.Message == "" {
				t.Error("decision without a message")
			}
		})
	}
}

// walkDown feeds a steady in-flight load to successive decisions every
// 10 s, each decision's record into the next as the controller does
// through status, and returns the units after each scale-down and when.
func walkDown(p Policy, from int32, until int, inFlight func(s int) float64) (steps []int32, units []int32) {
	cur, prev := from, Previous{}
	for s := 0; s <= until; s += 10 {
		d := Decide(Input{Now: at(s), Policy: p, Current: cur, Ready: cur, Signals: Signals{At: at(s), Routers: 1, InFlight: inFlight(s)}, Previous: prev})
		if d.Replicas != cur {
			steps, units = append(steps, int32(s)), append(units, d.Replicas)
		}
		cur, prev = d.Replicas, Previous{AboveSince: d.AboveSince, BelowSince: d.BelowSince, DownLooks: d.DownLooks}
	}
	return steps, units
}

// TestSteadyLowLoadScalesDownInOneWindow: 4 units, a load one unit
// carries: every look of the window asks for 1, so after one window the
// group is at 1, not a unit per window.
func TestSteadyLowLoadScalesDownInOneWindow(t *testing.T) {
	p := policy(func(p *Policy) { p.DownWindow = time.Minute })
	steps, units := walkDown(p, 4, 200, func(int) float64 { return 5 })
	if diff := cmp.Diff([]int32{60}, steps); diff != "" {
		t.Errorf("seconds at which units went (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{1}, units); diff != "" {
		t.Errorf("units after each step (-want +got):\n%s", diff)
	}
}

// TestScaleDownAfterABurstFollowsTheWindowsLooks: after a burst at 32
// units the load falls over a minute, from 6 units' worth to 2. Once the
// window has run the group goes, look by look, to the most any look of the
// last minute asked for (Kubernetes' HPA scale-down stabilisation), not to
// the last look's 2 at once and not one window per step.
func TestScaleDownAfterABurstFollowsTheWindowsLooks(t *testing.T) {
	p := policy(func(p *Policy) { p.DownWindow = time.Minute; p.Max = 32 })
	steps, units := walkDown(p, 32, 300, func(s int) float64 {
		if s < 60 {
			return 55 - float64(s)*0.5 // 55 at 0 s (6 units) to 30 at 50 s (3 units)
		}
		return 20 // 2 units
	})
	// At 60 s the look of 0 s (6) has left the window; the most of the
	// rest is 5 (20 s), then 4 (40 s) once 20 s has left it, 3 (50 s),
	// then 2.
	if diff := cmp.Diff([]int32{60, 80, 100, 110}, steps); diff != "" {
		t.Errorf("seconds at which units went (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{5, 4, 3, 2}, units); diff != "" {
		t.Errorf("units after each step (-want +got):\n%s", diff)
	}
}

// TestDownLooksAreBounded: a load falling one unit per look past
// maxDownLooks keeps maxDownLooks looks, the oldest holding the largest
// figure until the later look's time.
func TestDownLooksAreBounded(t *testing.T) {
	var ls []Look
	for i := range maxDownLooks + 1 {
		ls = addLook(ls, Look{At: at(i), Replicas: int32(100 - i)})
	}
	if len(ls) != maxDownLooks {
		t.Fatalf("%d looks kept, want %d", len(ls), maxDownLooks)
	}
	if ls[0] != (Look{At: at(1), Replicas: 100}) || ls[1].Replicas != 98 {
		t.Errorf("oldest looks %+v %+v, want {1 s, 100} then 98", ls[0], ls[1])
	}
}

// TestEqualLooksDoNotRestartTheDownWindow: a load that sits on the
// current units between looks below them (noise around a unit's edge)
// still shrinks the group once the window has run; before, every equal
// look restarted it and the group kept its units.
func TestEqualLooksDoNotRestartTheDownWindow(t *testing.T) {
	p := policy(func(p *Policy) { p.DownWindow = time.Minute })
	// 3 units; the load alternates 25 (3 units) and 15 (2 units).
	steps, units := walkDown(p, 3, 60, func(s int) float64 {
		if s%20 == 0 {
			return 15
		}
		return 25
	})
	if diff := cmp.Diff([]int32{60}, steps); diff != "" {
		t.Errorf("seconds at which units went (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{2}, units); diff != "" {
		t.Errorf("units after each step (-want +got):\n%s", diff)
	}
}
