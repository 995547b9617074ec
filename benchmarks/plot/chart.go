// Package plot draws the benchmarks' charts: titled line charts of named
// series, written as SVG (small and diff-able: what benchmarks/results
// keeps) or PNG, on gonum.org/v1/plot.
//
// A Chart is plain data. Write validates it before drawing anything, so a
// figure that cannot be drawn (a series without points, NaN, a value ≤ 0
// on a log axis) is an error rather than a panic inside the plotting
// library. SweepCharts turns a tandem-bench load sweep into its three
// charts (p90 TTFT, throughput and hit rate against the offered rate).
package plot

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Style is how a series is drawn.
type Style int

const (
	// Line joins the points and marks each: a measurement.
	Line Style = iota
	// Dashed joins the points with a dashed line and no marks: a model's
	// prediction or a reference.
	Dashed
	// Markers marks the points without joining them: separate figures,
	// such as published measurements.
	Markers
)

// Point is one (x, y) pair.
type Point struct{ X, Y float64 }

// Series is a named set of points, drawn in the order given.
type Series struct {
	Name   string
	Points []Point
	Style  Style
}

// HLine is a named horizontal reference line across the chart, e.g. a
// latency bound.
type HLine struct {
	Name string
	Y    float64
}

// Legend places the legend inside the chart.
type Legend int

// Legend positions.
const (
	TopLeft Legend = iota
	TopRight
	BottomLeft
	BottomRight
)

// Chart is one line chart. A linear y axis always includes zero, so that
// heights compare honestly.
type Chart struct {
	Title          string
	XLabel, YLabel string
	LogX, LogY     bool
	Series         []Series
	HLines         []HLine
	Legend         Legend
	// YMax, if above the data, is the least top of the y axis (e.g. 1 for
	// a rate that cannot exceed it).
	YMax float64
}

// Reference lines are grey and dashed, each differently.
var (
	refColors = []color.Color{color.Gray{Y: 64}, color.Gray{Y: 128}}
	refDashes = [][]vg.Length{
		{vg.Points(2), vg.Points(2)},
		{vg.Points(8), vg.Points(3), vg.Points(2), vg.Points(3)},
		{vg.Points(1), vg.Points(3)},
	}
)

// Every chart is drawn 7 × 4.5 inches.
const (
	width  = 7 * vg.Inch
	height = 4.5 * vg.Inch
)

// Validate reports the first thing that keeps the chart from being drawn.
func (c Chart) Validate() error {
	if len(c.Series) == 0 {
		return fmt.Errorf("chart %q: no series", c.Title)
	}
	check := func(what string, x, y float64, useX bool) error {
		if useX && (math.IsNaN(x) || math.IsInf(x, 0)) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("chart %q: %s: (%v, %v) is not a finite point", c.Title, what, x, y)
		}
		if useX && c.LogX && x <= 0 || c.LogY && y <= 0 {
			return fmt.Errorf("chart %q: %s: (%v, %v) cannot go on a log axis", c.Title, what, x, y)
		}
		return nil
	}
	for _, s := range c.Series {
		if s.Name == "" {
			return fmt.Errorf("chart %q: a series has no name", c.Title)
		}
		if len(s.Points) == 0 {
			return fmt.Errorf("chart %q: series %q has no points", c.Title, s.Name)
		}
		for _, p := range s.Points {
			if err := check("series "+s.Name, p.X, p.Y, true); err != nil {
				return err
			}
		}
	}
	for _, h := range c.HLines {
		if h.Name == "" {
			return fmt.Errorf("chart %q: a reference line has no name", c.Title)
		}
		if err := check("line "+h.Name, 0, h.Y, false); err != nil {
			return err
		}
	}
	return nil
}

// Write draws the chart in format "svg" or "png".
func Write(w io.Writer, c Chart, format string) error {
	if format != "svg" && format != "png" {
		return fmt.Errorf("chart format %q: want svg or png", format)
	}
	p, err := c.build()
	if err != nil {
		return err
	}
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// Save writes the chart to path, as SVG or PNG by the file's extension.
func Save(path string, c Chart) (err error) {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "svg" && format != "png" {
		return fmt.Errorf("%s: want a .svg or .png file", path)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	return Write(f, c, format)
}

// build lays the chart out. A log axis is drawn as a linear axis over
// log10 of the values, with ticks labelled in the values' own units:
// gonum's LogScale centres an axis label at the arithmetic mean of the
// range, which on a log axis is near its top, and shrinks the plot to fit.
func (c Chart) build() (*gplot.Plot, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fx, fy := axisFunc(c.LogX), axisFunc(c.LogY)
	p := gplot.New()
	p.Title.Text = c.Title
	p.X.Label.Text, p.Y.Label.Text = c.XLabel, c.YLabel
	if c.LogX {
		p.X.Tick.Marker = logTicks{}
	}
	if c.LogY {
		p.Y.Tick.Marker = logTicks{}
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = c.Legend == TopLeft || c.Legend == TopRight
	p.Legend.Left = c.Legend == TopLeft || c.Legend == BottomLeft
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	// Keep the legend off the axes and the title.
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), vg.Points(-10)
	if !p.Legend.Left {
		p.Legend.XOffs = -p.Legend.XOffs
	}
	if !p.Legend.Top {
		p.Legend.YOffs = -p.Legend.YOffs
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range c.Series {
		xys := make(plotter.XYs, len(s.Points))
		for j, pt := range s.Points {
			xys[j] = plotter.XY{X: fx(pt.X), Y: fy(pt.Y)}
			xmin, xmax = math.Min(xmin, xys[j].X), math.Max(xmax, xys[j].X)
		}
		if err := addSeries(p, s, xys, plotutil.DarkColors[i%len(plotutil.DarkColors)], i); err != nil {
			return nil, fmt.Errorf("chart %q, series %q: %w", c.Title, s.Name, err)
		}
	}
	for i, h := range c.HLines {
		l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: fy(h.Y)}, {X: xmax, Y: fy(h.Y)}})
		if err != nil {
			return nil, fmt.Errorf("chart %q, line %q: %w", c.Title, h.Name, err)
		}
		l.Color, l.Dashes = refColors[i%len(refColors)], refDashes[i%len(refDashes)]
		p.Add(l)
		p.Legend.Add(h.Name, l)
	}
	if !c.LogY {
		p.Y.Min = math.Min(p.Y.Min, 0)
	}
	if c.YMax > 0 {
		p.Y.Max = math.Max(p.Y.Max, fy(c.YMax))
	}
	pad(&p.X, c.LogX)
	pad(&p.Y, c.LogY)
	return p, nil
}

// axisFunc maps a value to where it is drawn: log10 on a log axis.
func axisFunc(log bool) func(float64) float64 {
	if log {
		return math.Log10
	}
	return func(v float64) float64 { return v }
}

func addSeries(p *gplot.Plot, s Series, xys plotter.XYs, col color.Color, i int) error {
	var thumbs []gplot.Thumbnailer
	if s.Style != Markers {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = col, vg.Points(1.5)
		if s.Style == Dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		thumbs = append(thumbs, l)
	}
	if s.Style != Dashed {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.Color, sc.Shape, sc.Radius = col, plotutil.Shape(i), vg.Points(3)
		if s.Style == Markers {
			sc.Radius = vg.Points(4.5)
		}
		p.Add(sc)
		thumbs = append(thumbs, sc)
	}
	p.Legend.Add(s.Name, thumbs...)
	return nil
}

// pad widens a degenerate axis (one value) so that the library draws it:
// a factor of two each way on a log axis.
func pad(a *gplot.Axis, log bool) {
	if a.Min != a.Max {
		return
	}
	d := math.Max(math.Abs(a.Min)/2, 1)
	if log {
		d = math.Log10(2)
	}
	a.Min, a.Max = a.Min-d, a.Max+d
}

// logTicks marks a log axis (drawn over log10 of the values) at 1, 2 and 5
// times each power of ten, labelled in the values' units, with unlabelled
// minor ticks between: gonum's LogTicks labels only powers of ten, too few
// for a range like 128 to 32,768.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []gplot.Tick {
	var ticks []gplot.Tick
	for e := math.Floor(lo); e <= math.Ceil(hi); e++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow(10, e)
			at := math.Log10(v)
			if at < lo || at > hi {
				continue
			}
			t := gplot.Tick{Value: at}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 12, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}
