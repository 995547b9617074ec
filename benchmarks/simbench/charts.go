package simbench

import (
	"fmt"
	"math"

	"github.com/tandem-serving/tandem/benchmarks/plot"
)

// Charts are the report's plots, named sim-*.svg: TTFT against prompt
// length, throughput and p50 latencies against concurrency, and the host's
// deviation from the model against the number of engines. Non-finite
// figures (nothing measured) are left out; a chart with nothing left is
// skipped.
func (r *Report) Charts() []plot.Named {
	var out []plot.Named
	add := func(file string, c plot.Chart) {
		var kept []plot.Series
		for _, s := range c.Series {
			if len(s.Points) > 0 {
				kept = append(kept, s)
			}
		}
		if c.Series = kept; len(kept) > 0 {
			out = append(out, plot.Named{File: file, Chart: c})
		}
	}
	scale := fmt.Sprintf("time scale %g", r.Config.TimeScale)
	if len(r.TTFT) > 0 {
		var measured, model, calib plot.Series
		measured = plot.Series{Name: "tandem-sim over HTTP, measured (median; " + scale + ")"}
		model = plot.Series{Name: "engine model (closed form)", Style: plot.Dashed}
		calib = plot.Series{Name: "calibration estimates in engine/doc.go (not GPU measurements)", Style: plot.Markers}
		for _, p := range r.TTFT {
			x := float64(p.PromptTokens)
			measured.Points = appendFinite(measured.Points, x, float64(p.Measured))
			model.Points = appendFinite(model.Points, x, float64(p.Model))
		}
		for _, c := range calibration {
			if c.PromptTokens > 0 {
				calib.Points = append(calib.Points, plot.Point{X: float64(c.PromptTokens), Y: c.Value})
			}
		}
		add("sim-ttft.svg", plot.Chart{
			Title:  "TTFT vs uncached prompt tokens, one idle engine",
			XLabel: "prompt tokens (uncached; Llama-3.1-8B on one H100 as modelled)", YLabel: "TTFT (modelled ms)", LogX: true, LogY: true,
			Series: []plot.Series{measured, model, calib},
		})
	}
	if len(r.Throughput) > 0 {
		tput := []plot.Series{
			{Name: "tandem-sim over HTTP, measured (" + scale + ")"},
			{Name: "engine model, client turnaround 1 ms", Style: plot.Dashed},
		}
		lat := []plot.Series{
			{Name: "TTFT p50, measured"}, {Name: "TTFT p50, model", Style: plot.Dashed},
			{Name: "ITL p50, measured"}, {Name: "ITL p50, model", Style: plot.Dashed},
		}
		for _, p := range r.Throughput {
			x := float64(p.Concurrency)
			tput[0].Points = appendFinite(tput[0].Points, x, float64(p.OutputRate))
			tput[1].Points = appendFinite(tput[1].Points, x, float64(p.ModelOutputRate))
			for i, v := range []float64{float64(p.TTFT), float64(p.ModelTTFT), float64(p.ITL), float64(p.ModelITL)} {
				lat[i].Points = appendFinite(lat[i].Points, x, v)
			}
		}
		x := fmt.Sprintf("requests in flight (closed loop; unique %d-token prompts, %d generated)", r.Config.InputTokens, r.Config.OutputTokens)
		add("sim-throughput.svg", plot.Chart{
			Title:  "Output throughput vs concurrency, one engine",
			XLabel: x, YLabel: "generated tokens per modelled second", LogX: true,
			Series: tput,
		})
		add("sim-latency.svg", plot.Chart{
			Title:  "p50 TTFT and inter-token latency vs concurrency, one engine",
			XLabel: x, YLabel: "modelled ms", LogX: true, LogY: true,
			Series: lat,
		})
	}
	if h := r.Host; h != nil && len(h.Points) > 0 {
		short := plot.Series{Name: "throughput shortfall, 1 − speed"}
		excess := plot.Series{Name: "mean ITL excess, ITL ratio − 1"}
		for _, p := range h.Points {
			x := float64(p.Engines)
			short.Points = appendFinite(short.Points, x, 100*(1-float64(p.Speed)))
			excess.Points = appendFinite(excess.Points, x, 100*(float64(p.ITLRatio)-1))
		}
		add("sim-host.svg", plot.Chart{
			Title:  "Host: deviation from the model vs engines in one process",
			XLabel: fmt.Sprintf("engines (time scale %g, %d in flight each; %d cores)", h.Config.TimeScale, h.Config.Concurrency, r.Env.Cores),
			YLabel: "deviation from the model (%)", LogX: true,
			Series: []plot.Series{short, excess},
			HLines: []plot.HLine{{Name: fmt.Sprintf("threshold %s", percent(h.Config.Threshold)), Y: 100 * h.Config.Threshold}},
		})
	}
	return out
}

func appendFinite(pts []plot.Point, x, y float64) []plot.Point {
	if math.IsNaN(y) || math.IsInf(y, 0) || math.IsNaN(x) {
		return pts
	}
	return append(pts, plot.Point{X: x, Y: y})
}
