package autoscalebench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCurveRate(t *testing.T) {
	c := Curve{Day: 1000, Trough: 10, Peak: 110, Bursts: []float64{100}, BurstFactor: 3, BurstRamp: 30, BurstHold: 60}
	diurnal := func(at float64) float64 { return 10 + 100*(1-math.Cos(2*math.Pi*at/1000))/2 }
	cases := []struct {
		name string
		at   float64
		want float64
	}{
		{"night trough", 0, 10},
		{"mid-day peak", 500, 110},
		{"burst start", 100, diurnal(100)},
		{"half way up the ramp", 115, 2 * diurnal(115)},
		{"top of the ramp", 130, 3 * diurnal(130)},
		{"holding", 170, 3 * diurnal(170)},
		{"half way down", 205, 2 * diurnal(205)},
		{"after the burst", 221, diurnal(221)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Rate(tc.at); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Rate(%v) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
	if got := c.BurstEnd(100); got != 220 {
		t.Errorf("BurstEnd(100) = %v, want 220", got)
	}
}

func TestArriveIsSeededAndPoisson(t *testing.T) {
	c := Curve{Day: 2000, Trough: 5, Peak: 200}
	a, b := Arrive(c, 2000, 0.25, 7), Arrive(c, 2000, 0.25, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different arrivals (-first +second):\n%s", diff)
	}
	if cmp.Equal(a, Arrive(c, 2000, 0.25, 8)) {
		t.Fatal("another seed gave the same arrivals")
	}
	var want, shared, all float64
	for i, s := range a {
		want += c.Rate(float64(i))
		shared += s.Shared
		all += s.Total()
	}
	if math.Abs(all/want-1) > 0.01 {
		t.Errorf("arrived %v requests, the curve says %v", all, want)
	}
	if math.Abs(shared/all-0.25) > 0.01 {
		t.Errorf("shared share %v, want 0.25", shared/all)
	}
}
