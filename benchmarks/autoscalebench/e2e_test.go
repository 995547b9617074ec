package autoscalebench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyDay is a 30-minute day on 16 GPUs with one burst: big enough that
// every scaler acts, small enough to run in milliseconds.
func tinyDay() []string {
	return []string{"--day", "30m", "--trough", "20", "--peak", "80", "--bursts", "0.5", "--burst-hold", "2m",
		"--gpus", "16", "--cold-start", "30", "--gang-sizes", "4,2", "--gang-mean", "300", "--sample", "30"}
}

func TestTinyDayEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots") // created by the run
	var out, errs bytes.Buffer
	if err := run(append(tinyDay(), "--plots", dir, "--events", "--hpa-in-flight"), &out, &errs); err != nil {
		t.Fatalf("run: %v\nstderr: %s", err, errs.String())
	}
	text := out.String()
	for _, want := range []string{"MODEL, not the local cluster", "static-peak", "hpa-queue", "hpa-in-flight", "tandem", "goals (issue 16)", "event tandem"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	for _, name := range []string{"autoscale-gpus.svg", "autoscale-batch-share.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s is not an SVG", name)
		}
	}
}

func TestTinyDayAccounting(t *testing.T) {
	c := DefaultConfig()
	c.Curve = Curve{Day: 1800, Trough: 20, Peak: 80, Bursts: []float64{900}, BurstFactor: 3, BurstRamp: 30, BurstHold: 120}
	c.GPUs, c.ColdStart, c.GangSizes, c.GangMeanSec, c.SampleSec = 16, 30, []int{4, 2}, 300, 30
	d, rs, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3", len(rs))
	}
	static := rs[0]
	if want := float64(d.StaticUnits * c.UnitGPUs * 1800); static.ServingGPUSec != want || static.ScaleEvents != 0 {
		t.Errorf("static: %v serving GPU-s and %d events, want %v and 0", static.ServingGPUSec, static.ScaleEvents, want)
	}
	for _, r := range rs {
		if r.Requests != static.Requests {
			t.Errorf("%s saw %v requests, static %v: not the same arrivals", r.Scaler, r.Requests, static.Requests)
		}
		if r.PartialGangSteps != 0 {
			t.Errorf("%s: %d steps with a partial gang", r.Scaler, r.PartialGangSteps)
		}
		if r.ServingGPUSec+r.BatchGPUSec > r.ClusterGPUSec+1e-9 {
			t.Errorf("%s: serving %v + batch %v GPU-s exceed the cluster's %v", r.Scaler, r.ServingGPUSec, r.BatchGPUSec, r.ClusterGPUSec)
		}
		if a := r.Attainment(); a < 0 || a > 1 || math.IsNaN(a) {
			t.Errorf("%s: attainment %v", r.Scaler, a)
		}
		if r.Met+r.Refused+r.Unserved > r.Requests+1e-6 {
			t.Errorf("%s: met %v + refused %v + unserved %v > %v requests", r.Scaler, r.Met, r.Refused, r.Unserved, r.Requests)
		}
		if len(r.Samples) != 1800/30 {
			t.Errorf("%s: %d samples, want 60", r.Scaler, len(r.Samples))
		}
	}
	// Both autoscalers start at the night's need and must grow for the burst.
	for _, r := range rs[1:] {
		if r.ScaleEvents == 0 || r.MaxUnits <= d.InitialUnits {
			t.Errorf("%s never scaled up: %d events, at most %d units", r.Scaler, r.ScaleEvents, r.MaxUnits)
		}
	}
}

func TestRunRefusesBadConfigs(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"gang larger than the cluster", []string{"--gpus", "8", "--gang-sizes", "16"}, "does not fit"},
		{"burst outside the day", []string{"--bursts", "1.2"}, "fraction of the day"},
		{"no target for tandem", []string{"--ttft-target", "0", "--in-flight-per-unit", "-1"}, "needs a target"},
		{"engines do not divide the unit", []string{"--unit-gpus", "3", "--gpus-per-engine", "2"}, "must divide"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			err := run(append(tinyDay(), tc.args...), &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
