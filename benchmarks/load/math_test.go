package load

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPercentile(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	cases := []struct {
		p, want float64
	}{
		{0, 1}, {50, 5.5}, {90, 9.1}, {99, 9.91}, {100, 10},
	}
	for _, tc := range cases {
		if got := Percentile(x, tc.p); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Percentile(1..10, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile([]float64{7}, 90); got != 7 {
		t.Errorf("one value: %v, want 7", got)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("no values: want NaN")
	}
}

func TestSummarizeAndMedian(t *testing.T) {
	got := Summarize([]float64{4, 1, 3, 2})
	want := Summary{N: 4, Mean: 2.5, P50: 2.5, P90: 3.7, P99: 3.97, Max: 4}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Summarize (-want +got):\n%s", diff)
	}
	if got := Median([]float64{3, math.NaN(), 1, 2}); got != 2 {
		t.Errorf("Median ignoring NaN = %v, want 2", got)
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("Median of an even count = %v, want 2.5", got)
	}
}

func TestFindKnee(t *testing.T) {
	pts := []SweepPoint{ // out of order on purpose
		{Rate: 8, Throughput: 7, P90TTFT: 3000},
		{Rate: 2, Throughput: 2, P90TTFT: 100},
		{Rate: 4, Throughput: 4, P90TTFT: 1000},
	}
	cases := []struct {
		name  string
		pts   []SweepPoint
		bound float64
		want  Knee
	}{
		// Between rates 4 and 8: f = (2000−1000)/(3000−1000) = 0.5.
		{"interpolated", pts, 2000, Knee{Throughput: 5.5, Rate: 6}},
		// 1000 is not above the bound: the bracket is still (4, 8), f = 0.
		{"bound equal to a point", pts, 1000, Knee{Throughput: 4, Rate: 4}},
		{"never crossed", pts, 5000, Knee{Throughput: 7, Rate: 8, Censored: "above"}},
		{"crossed at once", pts, 50, Knee{Throughput: 2, Rate: 2, Censored: "below"}},
		{"nothing finished past the knee", []SweepPoint{{1, 1, 10}, {2, 0, math.NaN()}}, 100, Knee{Throughput: 1, Rate: 1}},
		{"no points", nil, 100, Knee{Censored: "below"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, FindKnee(tc.pts, tc.bound)); diff != "" {
				t.Errorf("FindKnee (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRateSteps(t *testing.T) {
	got, err := ParseRateSteps("5@30s, 10@1m,20")
	if err != nil {
		t.Fatal(err)
	}
	want := []RateStep{{5, 30 * time.Second}, {10, time.Minute}, {20, 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "0", "-1", "x", "5,10", "5@-1s", "5@soon,1", "Inf"} {
		if _, err := ParseRateSteps(bad); err == nil {
			t.Errorf("ParseRateSteps(%q) succeeded", bad)
		}
	}
}

func schedule(t *testing.T, a Arrival, n int) []time.Duration {
	t.Helper()
	out, err := a.Schedule(make([]Request, n), 1)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestScheduleConstantAndSteps(t *testing.T) {
	// 2 req/s for 2 s, then 4 req/s: 0, 0.5, 1, 1.5, 2, then every 0.25 s.
	a := Arrival{Kind: Constant, Steps: []RateStep{{2, 2 * time.Second}, {4, 0}}}
	got := schedule(t, a, 7)
	want := []time.Duration{0, 500, 1000, 1500, 2000, 2250, 2500}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestScheduleBurst(t *testing.T) {
	got := schedule(t, Arrival{Kind: Burst, BurstSize: 3, Steps: []RateStep{{6, 0}}}, 7)
	want := []time.Duration{0, 0, 0, 500, 500, 500, 1000}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Poisson gaps: deterministic per seed, non-decreasing, mean rate near the
// asked rate, and faster after a step up.
func TestSchedulePoisson(t *testing.T) {
	a := Arrival{Kind: Poisson, Steps: []RateStep{{10, 100 * time.Second}, {100, 0}}}
	got := schedule(t, a, 6000)
	if diff := cmp.Diff(got, schedule(t, a, 6000)); diff != "" {
		t.Errorf("not deterministic:\n%s", diff)
	}
	first, n := 0, 0
	for i, d := range got {
		if i > 0 && d < got[i-1] {
			t.Fatalf("offset %d goes back in time", i)
		}
		if d < 100*time.Second {
			first = i + 1
		} else {
			n++
		}
	}
	if first < 900 || first > 1100 {
		t.Errorf("%d arrivals in the first 100 s at 10/s, want about 1000", first)
	}
	if r := MeanRate(got[first:]); r < 90 || r > 110 {
		t.Errorf("rate %v after the step, want about 100", r)
	}
	if got := schedule(t, Arrival{Kind: Concurrency, Concurrency: 2}, 3); got != nil {
		t.Errorf("closed loop schedule %v, want nil", got)
	}
}

func TestArrivalValidate(t *testing.T) {
	bad := []Arrival{
		{Kind: "nope"},
		{Kind: Poisson},
		{Kind: Burst, Steps: []RateStep{{1, 0}}},
		{Kind: Concurrency},
		{Kind: TraceTimes},
		{Kind: Constant, Steps: []RateStep{{math.NaN(), 0}}},
	}
	for _, a := range bad {
		if err := a.Validate(); err == nil {
			t.Errorf("%+v: Validate succeeded", a)
		}
	}
}
