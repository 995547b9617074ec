package plot

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// Named is a chart and the file name (no folder) it is saved under.
type Named struct {
	File  string
	Chart Chart
}

// SweepCharts are a rate sweep's three charts, one series per policy, each
// point the median over repetitions at one offered rate: p90 TTFT (with the
// sweep's bound as a reference line), request throughput (with served =
// offered), and the measured prefix-cache hit rate (with the workload's
// oracles). Files are named <name>-<workload kind>-<chart>.svg, so that a
// command's workloads do not overwrite each other.
func SweepCharts(name string, r *load.Report) ([]Named, error) {
	if r == nil || len(r.SweepRates) == 0 {
		return nil, errors.New("the report is not a rate sweep: plots need --sweep")
	}
	pts := sweepMedians(r)
	series := func(get func(sweepPoint) float64) []Series {
		var out []Series
		for _, p := range r.Policies {
			s := Series{Name: p}
			for _, q := range pts[p] {
				if v := get(q); !math.IsNaN(v) && !math.IsInf(v, 0) {
					s.Points = append(s.Points, Point{X: q.rate, Y: v})
				}
			}
			if len(s.Points) > 0 {
				out = append(out, s)
			}
		}
		return out
	}
	kind := r.Workload.Kind
	if r.Workload.Skew > 0 { // a skewed run must not overwrite the uniform one's files
		kind += "-skew"
	}
	prefix := name + "-" + kind
	x := "offered rate (req/s, Poisson)"
	ttft := Chart{
		Title:  fmt.Sprintf("%s, %s workload: p90 TTFT vs offered rate", name, kind),
		XLabel: x, YLabel: "p90 TTFT (ms, wall clock; median of reps)", LogY: true,
		Series: series(func(q sweepPoint) float64 { return q.ttftP90 }),
	}
	if r.TTFTBound > 0 {
		ttft.HLines = []HLine{{Name: fmt.Sprintf("bound %s ms", load.FormatNum(r.TTFTBound)), Y: r.TTFTBound}}
	}
	tput := Chart{
		Title:  fmt.Sprintf("%s, %s workload: throughput vs offered rate", name, kind),
		XLabel: x, YLabel: "finished requests/s (median of reps)",
		Series: series(func(q sweepPoint) float64 { return q.reqRate }),
	}
	if len(r.SweepRates) > 0 {
		lo, hi := slices.Min(r.SweepRates), slices.Max(r.SweepRates)
		tput.Series = append(tput.Series, Series{Name: "served = offered", Style: Dashed,
			Points: []Point{{X: lo, Y: lo}, {X: hi, Y: hi}}})
	}
	hit := Chart{
		Title:  fmt.Sprintf("%s, %s workload: prefix-cache hit rate vs offered rate", name, kind),
		XLabel: x, YLabel: "hit rate (engines' metrics; median of reps)",
		Series: series(func(q sweepPoint) float64 { return q.hitRate }), Legend: BottomLeft, YMax: 1,
	}
	if len(r.Runs) > 0 {
		o := r.Runs[0].Oracle
		for _, h := range []HLine{{"oracle, infinite cache", o.Infinite}, {"oracle, pooled LRU", o.LRU}} {
			if h.Y > 0 && !math.IsNaN(h.Y) {
				hit.HLines = append(hit.HLines, h)
			}
		}
	}
	var out []Named
	for _, c := range []struct {
		file  string
		chart Chart
	}{{"ttft-p90", ttft}, {"throughput", tput}, {"hit-rate", hit}} {
		if len(c.chart.Series) == 0 {
			continue // nothing measured, e.g. no hit rate without --metrics
		}
		out = append(out, Named{File: prefix + "-" + c.file + ".svg", Chart: c.chart})
	}
	return out, nil
}

// SaveAll writes the charts into dir (made if missing) and returns their
// paths.
func SaveAll(dir string, charts []Named) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, n := range charts {
		path := filepath.Join(dir, n.File)
		if err := Save(path, n.Chart); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// WriteSweep saves SweepCharts(name, r) into dir.
func WriteSweep(dir, name string, r *load.Report) ([]string, error) {
	charts, err := SweepCharts(name, r)
	if err != nil {
		return nil, err
	}
	return SaveAll(dir, charts)
}

type sweepPoint struct {
	rate, ttftP90, reqRate, hitRate float64
}

// sweepMedians folds repetitions into one point per policy and offered
// rate, ordered by rate. Runs of one sweep rate share their arrival
// schedule (same workload seed), so equal offered rates identify them.
func sweepMedians(r *load.Report) map[string][]sweepPoint {
	type key struct {
		policy string
		rate   float64
	}
	groups := map[key][]load.RunSummary{}
	var keys []key
	for _, s := range r.Runs {
		k := key{s.Policy, math.Round(float64(s.Rate)*1000) / 1000}
		if math.IsNaN(k.rate) {
			continue
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := map[string][]sweepPoint{}
	for _, k := range keys {
		g := groups[k]
		med := func(get func(load.RunSummary) load.Num) float64 {
			v := make([]float64, len(g))
			for i, s := range g {
				v[i] = float64(get(s))
			}
			return load.Median(v)
		}
		out[k.policy] = append(out[k.policy], sweepPoint{
			rate:    k.rate,
			ttftP90: med(func(s load.RunSummary) load.Num { return s.TTFT.P90 }),
			reqRate: med(func(s load.RunSummary) load.Num { return s.RequestRate }),
			hitRate: med(func(s load.RunSummary) load.Num { return s.HitRate }),
		})
	}
	for p := range out {
		slices.SortFunc(out[p], func(a, b sweepPoint) int { return cmp.Compare(a.rate, b.rate) })
	}
	return out
}
