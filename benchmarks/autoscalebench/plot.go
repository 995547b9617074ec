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
	hours := func(t int) float64 { return float64(t) / 3600 }
	gpus := plot.Chart{
		Title:  fmt.Sprintf("tandem-bench autoscale (model): GPUs over a %.1f h day, %d GPUs", c.Curve.Day/3600, c.GPUs),
		XLabel: "hours into the day", YLabel: "serving GPUs", Legend: plot.TopLeft,
	}
	share := plot.Chart{
		Title:  "batch share of the GPUs serving does not hold",
		XLabel: "hours into the day", YLabel: "batch GPUs ÷ (cluster − serving)", Legend: plot.BottomLeft,
	}
	need := plot.Series{Name: "load: GPUs the model needs", Style: plot.Dashed}
	for _, s := range rs[0].Samples {
		need.Points = append(need.Points, plot.Point{X: hours(s.T), Y: float64(s.NeedGPUs)})
	}
	gpus.Series = append(gpus.Series, need)
	for _, r := range rs {
		serving := plot.Series{Name: r.Scaler + " serving"}
		sh := plot.Series{Name: r.Scaler}
		for _, s := range r.Samples {
			serving.Points = append(serving.Points, plot.Point{X: hours(s.T), Y: float64(s.ServingGPUs)})
			if spare := c.GPUs - s.ServingGPUs; spare > 0 {
				sh.Points = append(sh.Points, plot.Point{X: hours(s.T), Y: float64(s.BatchGPUs) / float64(spare)})
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
	names := []string{"autoscale-gpus.svg", "autoscale-batch-share.svg"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots folder: %w", err)
	}
	var paths []string
	for i, ch := range Charts(c, rs) {
		p := filepath.Join(dir, names[i])
		if err := plot.Save(p, ch); err != nil {
			return paths, fmt.Errorf("chart %s: %w", names[i], err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}
