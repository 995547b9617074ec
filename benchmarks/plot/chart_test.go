package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleChart() Chart {
	return Chart{
		Title:  "TTFT vs prompt tokens",
		XLabel: "uncached prompt tokens", YLabel: "TTFT (ms)",
		LogX: true, LogY: true,
		Series: []Series{
			{Name: "tandem-sim, measured", Points: []Point{{128, 11.3}, {1000, 37.6}, {8192, 254}}},
			{Name: "model", Style: Dashed, Points: []Point{{128, 11.2}, {1000, 37.45}, {8192, 253.6}}},
			{Name: "calibration <estimate>", Style: Markers, Points: []Point{{1000, 37}, {8192, 253}}},
		},
		HLines: []HLine{{Name: "bound 200 ms", Y: 200}},
	}
}

// svgTexts parses SVG as XML and returns its root element's name and all
// the text it holds; a parse error fails the test.
func svgTexts(t *testing.T, data []byte) (root string, text string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var b strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = v.Name.Local
			}
		case xml.CharData:
			b.Write(v)
			b.WriteByte('\n')
		}
	}
	return root, b.String()
}

func TestWriteSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleChart(), "svg"); err != nil {
		t.Fatal(err)
	}
	root, text := svgTexts(t, buf.Bytes())
	if root != "svg" {
		t.Errorf("root element %q, want svg", root)
	}
	for _, want := range []string{"TTFT vs prompt tokens", "uncached prompt tokens", "TTFT (ms)",
		"tandem-sim, measured", "model", "calibration <estimate>", "bound 200 ms", "1000", "100"} {
		if !strings.Contains(text, want) {
			t.Errorf("the SVG's text lacks %q", want)
		}
	}
}

func TestSavePNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	for name, magic := range map[string]string{"c.png": "\x89PNG\r\n\x1a\n", "c.svg": "<?xml"} {
		path := filepath.Join(dir, name)
		if err := Save(path, sampleChart()); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(magic)) {
			t.Errorf("%s starts %q, want %q", name, data[:min(len(data), 8)], magic)
		}
	}
	if err := Save(filepath.Join(dir, "c.pdf"), sampleChart()); err == nil {
		t.Error("saving c.pdf: no error, want one (svg or png only)")
	}
}

// A single point makes both axes degenerate; on log axes the library would
// panic on the range it makes up, unless the chart pads it first.
func TestSinglePoint(t *testing.T) {
	for _, log := range []bool{false, true} {
		c := Chart{Title: "one", LogX: log, LogY: log, Series: []Series{{Name: "s", Points: []Point{{3, 5}}}}}
		if err := Write(io.Discard, c, "svg"); err != nil {
			t.Errorf("log %v: %v", log, err)
		}
	}
}

func TestBadCharts(t *testing.T) {
	nan := math.NaN()
	one := func(pts ...Point) []Series { return []Series{{Name: "s", Points: pts}} }
	cases := map[string]Chart{
		"no series":            {Title: "t"},
		"series without point": {Title: "t", Series: one()},
		"series without name":  {Title: "t", Series: []Series{{Points: []Point{{1, 1}}}}},
		"NaN y":                {Title: "t", Series: one(Point{1, 1}, Point{2, nan})},
		"NaN x":                {Title: "t", Series: one(Point{nan, 1})},
		"infinite y":           {Title: "t", Series: one(Point{1, math.Inf(1)})},
		"zero on log x":        {Title: "t", LogX: true, Series: one(Point{0, 1}, Point{1, 2})},
		"negative on log y":    {Title: "t", LogY: true, Series: one(Point{1, -1}, Point{2, 2})},
		"NaN reference line":   {Title: "t", Series: one(Point{1, 1}), HLines: []HLine{{Name: "h", Y: nan}}},
		"unnamed line":         {Title: "t", Series: one(Point{1, 1}), HLines: []HLine{{Y: 1}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Write(io.Discard, c, "svg"); err == nil {
				t.Error("no error")
			}
		})
	}
	if err := Write(io.Discard, sampleChart(), "gif"); err == nil {
		t.Error("format gif: no error")
	}
}
