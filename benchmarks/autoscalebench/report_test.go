package autoscalebench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrintGoalVerdicts(t *testing.T) {
	c := DefaultConfig()
	d := c.Derive()
	hour := 3600.0
	res := func(name string, met, serving, batch float64, partial int) Result {
		return Result{Scaler: name, Requests: 1000, Met: met, ServingGPUSec: serving * hour, BatchGPUSec: batch * hour,
			ClusterGPUSec: 100 * hour, PartialGangSteps: partial, BurstCapacity: []int{0, -1}}
	}
	rs := []Result{
		res(Static, 1000, 50, 50, 0),
		res("under", 990, 35, 52, 0),  // 0.99, 0.70 × static, 52/65 = 0.8: all met, on the edges
		res("over", 989, 35.5, 51, 1), // just short of each: 51/64.5 = 0.791
	}
	var b bytes.Buffer
	if err := Print(&b, Header{Command: "tandem-bench autoscale", Platform: "test"}, c, d, rs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	_, goals, ok := strings.Cut(out, "goals (issue 16)")
	if !ok {
		t.Fatalf("no goals in the output:\n%s", out)
	}
	var got [][]string
	for _, line := range strings.Split(goals, "\n")[2:] {
		if f := strings.Fields(line); len(f) > 0 {
			got = append(got, f)
		}
	}
	want := [][]string{
		{Static, "1.0000", "met", "n/a", "(is", "the", "baseline)", "1.000", "met", "0", "met"},
		{"under", "0.9900", "met", "0.700", "met", "0.800", "met", "0", "met"},
		{"over", "0.9890", "NOT", "MET", "0.710", "NOT", "MET", "0.791", "NOT", "MET", "1", "NOT", "MET"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("goal rows (-want +got):\n%s\n%s", diff, out)
	}
	if !strings.Contains(out, "0,-") {
		t.Errorf("a burst never reached should print as -:\n%s", out)
	}
}
