package autoscalebench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHPADesired(t *testing.T) {
	h := &HPA{Target: 2, Min: 1, Max: 20, Tolerance: 0.1}
	cases := []struct {
		name               string
		current, reporting int
		total              float64
		want               int
	}{
		{"on target", 4, 4, 8, 4},
		{"within the 10% tolerance above", 4, 4, 8.6, 4},
		{"within the 10% tolerance below", 4, 4, 7.4, 4},
		{"just past the tolerance", 4, 4, 8.9, 5}, // ceil(4 × 1.1125)
		{"double the target", 4, 4, 16, 8},
		{"half the target", 4, 4, 4, 2},
		{"no queue at all asks for 0", 4, 4, 0, 0},
		// 2 of 4 units starting: on scale-up they count as 0, so
		// ceil(4 × (16/4)/2) = 8, not ceil(4 × (16/2)/2) = 16.
		{"starting units count as 0 on scale-up", 4, 2, 16, 8},
		// Up on the ready units (4 per unit = 2×), but with the two
		// starting at 0 the average is exactly the target: no change.
		{"the missing rule reverses the direction", 4, 2, 8, 4},
		// Down on the ready ones (0.5 per unit); the starting two count
		// at the target: (2 + 4)/4/2 = 0.75 → ceil(3).
		{"starting units count at the target on scale-down", 4, 2, 2, 3},
		{"no unit reports", 3, 0, 0, 3},
		{"from zero units: min", 0, 0, 5, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.Desired(tc.current, tc.reporting, tc.total); got != tc.want {
				t.Errorf("Desired(%d, %d, %v) = %d, want %d", tc.current, tc.reporting, tc.total, got, tc.want)
			}
		})
	}
}

func TestHPADecideStabilisesAndLimits(t *testing.T) {
	h := &HPA{Target: 2, Min: 1, Max: 40, Tolerance: 0.1, DownWindowSec: 300, PeriodSec: 15}
	type step struct {
		at, current int
		total       float64
	}
	steps := []step{
		{0, 2, 40},    // wants 20; the scale-up limit allows max(4, 2+4) = 6
		{15, 6, 24},   // wants 12 = 2×6
		{30, 12, 24},  // on target
		{45, 12, 0},   // wants 1, but 12 was wanted 15 s ago
		{300, 12, 0},  // 12 at t=30 is still inside the 300 s window
		{331, 12, 0},  // t=30 and t=15 left the window; t=45..300 wanted 1
		{346, 1, 100}, // wants 100 → capped at +4 (100%: 2), so 5
	}
	var got []int
	for _, s := range steps {
		got = append(got, h.Decide(s.at, s.current, s.current, s.total))
	}
	want := []int{6, 12, 12, 12, 12, 1, 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("units per period (-want +got):\n%s", diff)
	}
}
