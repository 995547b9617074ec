package controllerbench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMedian(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name   string
		values []float64
		want   float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one run missing counts as slowest", []float64{nan, 1, 2}, 2},
		{"most runs missing", []float64{nan, 1, nan}, nan},
		{"none", nil, nan},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Median(tc.values), cmpopts.EquateNaNs()); diff != "" {
				t.Errorf("Median(%v) (-want +got):\n%s", tc.values, diff)
			}
		})
	}
}

func TestPrint(t *testing.T) {
	shapes := Assign(4, 1)
	run := func(running time.Duration, complete bool) Result {
		r := Result{Groups: 4, Units: TotalUnits(shapes), Pods: TotalPods(shapes), Fleet: FleetFor(16, 0, 0, 0), Complete: complete}
		for s := range numStages {
			r.Totals[s] = 16
			if s >= GroupUnitsReady {
				r.Totals[s] = 4
			}
			for range r.Totals[s] {
				r.Reached[s] = append(r.Reached[s], running)
			}
		}
		if !complete {
			r.Reached[PodRunning] = r.Reached[PodRunning][:10]
		}
		r.Reconcile = Histogram{Count: 10, Sum: 0.2, Buckets: []Bucket{{0.01, 5}, {0.1, 10}, {math.Inf(1), 10}}}
		r.Controller = Memory{Peak: 100 << 20, Current: 90 << 20}
		r.CPU = map[string]time.Duration{"tandem-controller": time.Second}
		return r
	}
	var out strings.Builder
	env := Env{Command: "tandem-bench controller --groups 4", Cores: 2, Seed: 1, Timeout: time.Minute, Platform: "linux/amd64", Date: time.Unix(0, 0)}
	if err := Print(&out, env, []Result{run(2*time.Second, true), run(3*time.Second, true), run(0, false)}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"4 ServingGroups, 6 units, 16 pods",
		"command: tandem-bench controller --groups 4",
		"cores: 2, seed: 1, runs: 3",
		"run 1  run 2  run 3  median",
		// Run 3 never got all pods Running: its cell is empty and the
		// median is the slower of the two others.
		"2.00   3.00      —    3.00    ≤ 60 s",
		"100    100    100     100  < 300 MB",
		"run 3 did not finish: pods created 16/16, pods bound 16/16, pods Running 10/16",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
