package routerbench

import (
	"context"
	"strings"
	"testing"
)

func TestRunTokenize(t *testing.T) {
	rows, err := RunTokenize(context.Background(), TokenizeConfig{Sizes: []int{400}, Iterations: 3, Reps: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want one per step", len(rows))
	}
	for i, step := range tokenizeSteps {
		r := rows[i]
		if r.Step != step || r.Tokens < 100 || r.P50 <= 0 || r.P99 < r.P50 || r.Ratio <= 0 {
			t.Errorf("row %d: %+v", i, r)
		}
	}
	var b strings.Builder
	if err := PrintTokenize(&b, rows); err != nil || strings.Count(b.String(), "\n") != 5 {
		t.Errorf("table:\n%s", b.String())
	}
}
