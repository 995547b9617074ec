package simbench

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

func TestModelLengths(t *testing.T) {
	mean, median, p90, capped := modelLengths(engine.DefaultLengths())
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", mean, 0.272}, {"median", median, 0.182}, {"p90", p90, 0.655}, {"capped", capped, 0.044}} {
		if math.Abs(c.got-c.want) > 0.001 {
			t.Errorf("%s %.4f, want %.3f", c.name, c.got, c.want)
		}
	}
}

// The outputs part measures over HTTP what the engine model says: a mean
// length near the analytic one, and tokens of the sizes each style has.
func TestOutputsPart(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Parts = []string{PartOutputs}
	cfg.Outputs = OutputsConfig{Requests: 400, MaxTokens: 200, Texts: 3, TextTokens: 300}
	rep := &Report{}
	if err := Run(context.Background(), cfg, rep); err != nil {
		t.Fatal(err)
	}
	l := rep.Outputs.Lengths
	if l.Errors != 0 || math.Abs(float64(l.Mean-l.ModelMean)) > 0.04 || math.Abs(float64(l.Capped-l.ModelCapped)) > 0.03 {
		t.Errorf("lengths %+v: want no errors and the model's mean and capped share", l)
	}
	bounds := map[string][2]float64{"prose": {3.8, 5}, "code": {2.3, 3.3}, "records": {2, 3}}
	for _, p := range rep.Outputs.Text {
		b := bounds[p.Style]
		if v := float64(p.BytesPerToken); v < b[0] || v > b[1] {
			t.Errorf("%s: %.2f bytes per token, want %.1f to %.1f", p.Style, v, b[0], b[1])
		}
	}
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"output lengths", "bytes/token", "records"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
