package autoscalebench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tandem-serving/tandem/benchmarks/plot"
)

// Charts are the run's two plots over the day: GPUs (what the load
// needs by the model, what each scaler's serving held) and batch's share
// of the GPUs serving did not hold.
func Charts(c Config, rs []Result) []plot.Chart {
	return charts(fmt.Sprintf("tandem-bench autoscale (model): GPUs over a %.1f h day, %d GPUs", c.Curve.Day/3600, c.GPUs),
		"load: GPUs the model needs", c.GPUs, 3600, "hours into the day", rs)
}

// LocalCharts are Charts for the local-cluster run: minutes, the need
// from the configured per-unit rate.
func LocalCharts(c LocalConfig, rs []LocalResult) []plot.Chart {
	plain := make([]Result, len(rs))
	for i, r := range rs {
		plain[i] = r.Result
	}
	return charts(fmt.Sprintf("tandem-bench autoscale --cluster (local cluster, kwok nodes, simulated engines): %.0f s day, %d GPUs", c.Curve.Day, c.GPUs()),
		fmt.Sprintf("load: GPUs needed at %g req/s per unit", c.UnitRate), c.GPUs(), 60, "minutes into the day", plain)
}

func charts(title, needName string, gpuCount int, unitSec float64, xLabel string, rs []Result) []plot.Chart {
	x := func(t int) float64 { return float64(t) / unitSec }
	gpus := plot.Chart{Title: title, XLabel: xLabel, YLabel: "serving GPUs", Legend: plot.TopLeft}
	share := plot.Chart{
		Title:  "batch share of the GPUs serving does not hold",
		XLabel: xLabel, YLabel: "batch GPUs ÷ (cluster − serving)", Legend: plot.BottomLeft,
	}
	need := plot.Series{Name: needName, Style: plot.Dashed}
	for _, s := range rs[0].Samples {
		need.Points = append(need.Points, plot.Point{X: x(s.T), Y: float64(s.NeedGPUs)})
	}
	gpus.Series = append(gpus.Series, need)
	for _, r := range rs {
		serving := plot.Series{Name: r.Scaler + " serving"}
		sh := plot.Series{Name: r.Scaler}
		for _, s := range r.Samples {
			serving.Points = append(serving.Points, plot.Point{X: x(s.T), Y: float64(s.ServingGPUs)})
			if spare := gpuCount - s.ServingGPUs; spare > 0 {
				sh.Points = append(sh.Points, plot.Point{X: x(s.T), Y: float64(s.BatchGPUs) / float64(spare)})
			}
		}
		gpus.Series = append(gpus.Series, serving)
		if len(sh.Points) > 0 {
			share.Series = append(share.Series, sh)
		}
	}
	return []plot.Chart{gpus, share}
}

// SaveCharts writes autoscale-gpus.svg and autoscale-batch-share.svg
// into dir and returns their paths.
func SaveCharts(dir string, c Config, rs []Result) ([]string, error) {
	return saveCharts(dir, []string{"autoscale-gpus.svg", "autoscale-batch-share.svg"}, Charts(c, rs))
}

// SaveLocalCharts writes autoscale-cluster-gpus.svg and
// autoscale-cluster-batch-share.svg into dir and returns their paths.
func SaveLocalCharts(dir string, c LocalConfig, rs []LocalResult) ([]string, error) {
	return saveCharts(dir, []string{"autoscale-cluster-gpus.svg", "autoscale-cluster-batch-share.svg"}, LocalCharts(c, rs))
}

func saveCharts(dir string, names []string, charts []plot.Chart) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots folder: %w", err)
	}
	var paths []string
	for i, ch := range charts {
		p := filepath.Join(dir, names[i])
		if err := plot.Save(p, ch); err != nil {
			return paths, fmt.Errorf("chart %s: %w", names[i], err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
