package autoscalebench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

func TestTandemCarriesStatusBetweenDecisions(t *testing.T) {
	a := NewTandem(autoscale.Policy{Min: 1, Max: 10, InFlightPerUnit: 10, DownWindow: time.Minute})
	type look struct {
		at, current, ready int
		inFlight           float64
	}
	looks := []look{
		{0, 2, 2, 50},   // 5 units at once (no up window, no earlier look)
		{15, 5, 2, 50},  // steady: nothing grows, nothing to predict
		{30, 5, 5, 25},  // 3 would do: the down window starts
		{45, 5, 5, 25},  // 3 again: the window's most from here on
		{75, 5, 5, 10},  // 45 s into the 60 s window, 1 would do
		{90, 5, 5, 10},  // window over: to 3, the look of 45 s carried in status
		{105, 3, 3, 10}, // the look of 45 s has left the window: to 1
	}
	var got []int
	var reasons []string
	for _, l := range looks {
		got = append(got, a.Decide(l.at, l.current, l.ready, TandemSignals{InFlight: l.inFlight, Requests: 100}))
		reasons = append(reasons, a.Last.Reason)
	}
	if diff := cmp.Diff([]int{5, 5, 5, 5, 5, 3, 1}, got); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	wantReasons := []string{autoscale.ReasonScaledUp, autoscale.ReasonWithinTargets, autoscale.ReasonWaitingDownWindow,
		autoscale.ReasonWaitingDownWindow, autoscale.ReasonWaitingDownWindow, autoscale.ReasonScaledDown, autoscale.ReasonScaledDown}
	if diff := cmp.Diff(wantReasons, reasons); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
}

func TestTandemReadsP90FromRouterBuckets(t *testing.T) {
	a := NewTandem(autoscale.Policy{Min: 1, Max: 10, TTFTP90: 500 * time.Millisecond})
	// 100 requests all between 1 s and 2.5 s: p90 = 1 + 1.5 × 0.9 = 2.35 s,
	// 4.7× the bound: ceil(2 ready × 4.7) = 10 units.
	b := make([]float64, len(ttftEdges)+1)
	for i, e := range ttftEdges {
		if e >= 2.5 {
			b[i] = 100
		}
	}
	b[len(ttftEdges)] = 100
	if got := a.Decide(0, 2, 2, TandemSignals{InFlight: 50, Requests: 100, Buckets: b}); got != 10 {
		t.Errorf("units = %d (%s: %s), want 10", got, a.Last.Reason, a.Last.Message)
	}
}
