package simbench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

func TestDeviation(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name            string
		speed, itlRatio float64
		errors          int
		want            float64
	}{
		{"on the model", 1, 1, 0, 0},
		{"throughput short, steps on time", 0.8, 1, 0, 0.2},
		{"steps late, throughput kept by catching up", 1, 1.15, 0, 0.15},
		{"both: the larger counts", 0.9, 1.3, 0, 0.3},
		{"short batches step faster than modelled", 0.6, 0.9, 0, 0.4},
		{"faster than the model on both sides", 1.01, 0.98, 0, -0.01},
		{"no latency measured", 0.7, nan, 0, 0.3},
		{"failed requests", 1, 1, 3, math.Inf(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Deviation(c.speed, c.itlRatio, c.errors); math.Abs(got-c.want) > 1e-12 && got != c.want {
				t.Errorf("Deviation(%v, %v, %d) = %v, want %v", c.speed, c.itlRatio, c.errors, got, c.want)
			}
		})
	}
	if got := Deviation(nan, nan, 0); !math.IsNaN(got) {
		t.Errorf("nothing measured: %v, want NaN", got)
	}
}

// pts builds host points of (engines, demand, deviation).
func pts(rows ...[3]float64) []HostPoint {
	out := make([]HostPoint, len(rows))
	for i, r := range rows {
		out[i] = HostPoint{Engines: int(r[0]), Demand: load.Num(r[1]), Deviation: load.Num(r[2])}
	}
	return out
}

func TestFindHostLimit(t *testing.T) {
	cases := []struct {
		name   string
		points []HostPoint
		want   HostLimit
	}{
		{
			name:   "crossing between 32 and 64, a quarter of the way",
			points: pts([3]float64{16, 100, 0.02}, [3]float64{32, 200, 0.06}, [3]float64{64, 400, 0.22}),
			want:   HostLimit{Engines: 40, Demand: 250, LastWithin: 32, FirstBeyond: 64},
		},
		{
			name:   "exactly at the threshold is within it",
			points: pts([3]float64{1, 10, 0.1}, [3]float64{2, 20, 0.3}),
			want:   HostLimit{Engines: 1, Demand: 10, LastWithin: 1, FirstBeyond: 2},
		},
		{
			name:   "failures beyond: the limit is the last good point",
			points: pts([3]float64{4, 40, 0.05}, [3]float64{8, 80, math.Inf(1)}),
			want:   HostLimit{Engines: 4, Demand: 40, LastWithin: 4, FirstBeyond: 8},
		},
		{
			name:   "nothing measured counts as beyond",
			points: pts([3]float64{4, 40, 0.05}, [3]float64{8, 80, math.NaN()}),
			want:   HostLimit{Engines: 4, Demand: 40, LastWithin: 4, FirstBeyond: 8},
		},
		{
			name:   "a later point back within does not undo the crossing",
			points: pts([3]float64{1, 10, 0}, [3]float64{2, 20, 0.2}, [3]float64{4, 40, 0.05}),
			want:   HostLimit{Engines: 1.5, Demand: 15, LastWithin: 1, FirstBeyond: 2},
		},
		{
			name:   "never beyond: at least the largest run",
			points: pts([3]float64{1, 10, 0.01}, [3]float64{2, 20, 0.02}),
			want:   HostLimit{Engines: 2, Demand: 20, LastWithin: 2, Censored: "above"},
		},
		{
			name:   "beyond from the first point",
			points: pts([3]float64{1, 10, 0.5}, [3]float64{2, 20, 0.7}),
			want:   HostLimit{Engines: 1, Demand: 10, FirstBeyond: 1, Censored: "below"},
		},
		{name: "no points", want: HostLimit{Censored: "below"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FindHostLimit(c.points, 0.1)
			if diff := cmp.Diff(c.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOverTwice(t *testing.T) {
	cases := []struct {
		name   string
		points []HostPoint
		want   bool
	}{
		{"one point beyond", pts([3]float64{1, 1, 0.5}), false},
		{"the last beyond, the one before within", pts([3]float64{1, 1, 0.05}, [3]float64{2, 2, 0.5}), false},
		{"the last two beyond", pts([3]float64{1, 1, 0.05}, [3]float64{2, 2, 0.2}, [3]float64{4, 4, 0.5}), true},
		{"beyond, then back within", pts([3]float64{1, 1, 0.2}, [3]float64{2, 2, 0.05}), false},
	}
	for _, c := range cases {
		if got := overTwice(c.points, 0.1); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
