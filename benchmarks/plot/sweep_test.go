package plot

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// run builds one run of a sweep.
func run(policy string, rep int, rate, p90, reqRate, hit float64) load.RunSummary {
	return load.RunSummary{
		Policy: policy, Rep: rep, Rate: load.Num(rate), RequestRate: load.Num(reqRate),
		TTFT: load.Latency{P90: load.Num(p90)}, HitRate: load.Num(hit),
		Oracle: load.OracleResult{Infinite: 0.95, LRU: 0.9},
	}
}

func sweepReport() *load.Report {
	return &load.Report{
		Workload:   load.Spec{Kind: load.Shared},
		Policies:   []string{"random", "sticky"},
		SweepRates: []float64{100, 200},
		TTFTBound:  200,
		Runs: []load.RunSummary{
			// Order as load.Run makes them: rate, then rep, then policy.
			run("random", 1, 99.5, 50, 99, 0.5),
			run("sticky", 1, 99.5, 20, 99, 0.9),
			run("random", 2, 99.5, 70, 98, 0.4),
			run("sticky", 2, 99.5, 30, 98, 0.8),
			run("random", 3, 99.5, 60, 97, 0.6),
			run("sticky", 3, 99.5, 10, 100, 0.85),
			run("random", 1, 201.25, 400, 150, 0.5),
			run("sticky", 1, 201.25, 90, 190, math.NaN()), // no hit rate measured
		},
	}
}

func TestSweepCharts(t *testing.T) {
	charts, err := SweepCharts("load", sweepReport())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Chart{}
	var files []string
	for _, n := range charts {
		got[n.File] = n.Chart
		files = append(files, n.File)
	}
	if diff := cmp.Diff([]string{"load-shared-ttft-p90.svg", "load-shared-throughput.svg", "load-shared-hit-rate.svg"}, files); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	// Medians over the three repetitions at 99.5 req/s, the single one at 201.25.
	wantTTFT := []Series{
		{Name: "random", Points: []Point{{99.5, 60}, {201.25, 400}}},
		{Name: "sticky", Points: []Point{{99.5, 20}, {201.25, 90}}},
	}
	ttft := got["load-shared-ttft-p90.svg"]
	if diff := cmp.Diff(wantTTFT, ttft.Series); diff != "" {
		t.Errorf("TTFT series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]HLine{{Name: "bound 200 ms", Y: 200}}, ttft.HLines); diff != "" {
		t.Errorf("TTFT bound (-want +got):\n%s", diff)
	}
	wantTput := []Series{
		{Name: "random", Points: []Point{{99.5, 98}, {201.25, 150}}},
		{Name: "sticky", Points: []Point{{99.5, 99}, {201.25, 190}}},
		{Name: "served = offered", Style: Dashed, Points: []Point{{100, 100}, {200, 200}}},
	}
	if diff := cmp.Diff(wantTput, got["load-shared-throughput.svg"].Series); diff != "" {
		t.Errorf("throughput series (-want +got):\n%s", diff)
	}
	hit := got["load-shared-hit-rate.svg"]
	wantHit := []Series{
		{Name: "random", Points: []Point{{99.5, 0.5}, {201.25, 0.5}}},
		{Name: "sticky", Points: []Point{{99.5, 0.85}}}, // the NaN is left out
	}
	if diff := cmp.Diff(wantHit, hit.Series); diff != "" {
		t.Errorf("hit rate series (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]HLine{{"oracle, infinite cache", 0.95}, {"oracle, pooled LRU", 0.9}}, hit.HLines); diff != "" {
		t.Errorf("oracle lines (-want +got):\n%s", diff)
	}
}

func TestWriteSweep(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots") // made by WriteSweep
	paths, err := WriteSweep(dir, "router-policies", sweepReport())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("wrote %v, want three charts", paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if root, _ := svgTexts(t, data); root != "svg" {
			t.Errorf("%s: root %q", p, root)
		}
	}
}

func TestSweepChartsNeedASweep(t *testing.T) {
	r := sweepReport()
	r.SweepRates = nil
	if _, err := SweepCharts("load", r); err == nil {
		t.Error("a report without a sweep: no error")
	}
	if _, err := SweepCharts("load", nil); err == nil {
		t.Error("no report: no error")
	}
}
