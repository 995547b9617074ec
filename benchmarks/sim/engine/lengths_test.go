package engine

import (
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLogNormalLengths(t *testing.T) {
	l := DefaultLengths()
	const maxTokens, n = 1000, 20000
	var sum float64
	capped := 0
	draws := make([]int, n)
	for i := range n {
		d := l.Draw(splitmix64(uint64(i)), maxTokens)
		if d < 1 || d > maxTokens {
			t.Fatalf("draw %d = %d, outside [1, %d]", i, d, maxTokens)
		}
		if d == maxTokens {
			capped++
		}
		sum += float64(d)
		draws[i] = d
	}
	slices.Sort(draws)
	// Analytic values for ln X ~ N(ln 0.3 − 1/2, 1), X the fraction of
	// max_tokens: P(X ≥ 1) = 1 − Φ(1.704) = 0.044; E[min(X, 1)] =
	// 0.3 Φ(0.704) + 0.044 = 0.272; median e^(ln 0.3 − 1/2) = 0.182.
	got := struct{ Mean, Capped, Median float64 }{
		Mean:   sum / n / maxTokens,
		Capped: float64(capped) / n,
		Median: float64(draws[n/2]) / maxTokens,
	}
	want := struct{ Mean, Capped, Median float64 }{0.272, 0.044, 0.182}
	near := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 0.01 })
	if diff := cmp.Diff(want, got, near); diff != "" {
		t.Errorf("log-normal lengths, fractions of max_tokens (-want +got):\n%s", diff)
	}
}

func TestDrawEdges(t *testing.T) {
	l := DefaultLengths()
	cases := []struct {
		name      string
		l         Lengths
		maxTokens int
		want      int
	}{
		{"fixed lengths generate max_tokens", Lengths{Dist: LengthsFixed}, 300, 300},
		{"the zero value is fixed", Lengths{}, 300, 300},
		{"one token cannot be shorter", l, 1, 1},
		{"sigma 0 is the mean exactly", Lengths{Dist: LengthsLogNormal, MeanFraction: 0.25, Sigma: 0}, 400, 100},
		{"a mean beyond max_tokens is capped", Lengths{Dist: LengthsLogNormal, MeanFraction: 5, Sigma: 0}, 400, 400},
	}
	for _, tc := range cases {
		if got := tc.l.Draw(12345, tc.maxTokens); got != tc.want {
			t.Errorf("%s: Draw = %d, want %d", tc.name, got, tc.want)
		}
	}
	if a, b := l.Draw(99, 500), l.Draw(99, 500); a != b {
		t.Errorf("the same seed drew %d and %d", a, b)
	}
	for _, bad := range []Lengths{{Dist: "uniform"}, {Dist: LengthsLogNormal}, {Dist: LengthsLogNormal, MeanFraction: 0.3, Sigma: -1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate accepted %+v", bad)
		}
	}
}

func TestStopAfter(t *testing.T) {
	lines, seqs, _ := run(t, smallParams(), []arrival{
		{0, "A", Request{Prompt: prompt(0, 3, 1), MaxTokens: 5, StopAfter: 2}},
		{0, "B", Request{Prompt: prompt(0, 3, 2), MaxTokens: 2, StopAfter: 9}},
	}, 3)
	want := []string{
		"A+3* | B+3* | run 2 wait 0 free 62",
		"A+1d! | B+1d! | run 0 wait 0 free 64",
		"run 0 wait 0 free 64",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	got := map[string]bool{"A": seqs["A"].Stopped(), "B": seqs["B"].Stopped()}
	if diff := cmp.Diff(map[string]bool{"A": true, "B": false}, got); diff != "" {
		t.Errorf("stopped on their own (-want +got):\n%s", diff)
	}
}
