package autoscalebench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestErlangC(t *testing.T) {
	cases := []struct {
		name string
		c    int
		a    float64
		want float64
	}{
		{"one server waits with probability rho", 1, 0.5, 0.5},
		{"two servers at load 1", 2, 1, 1.0 / 3},
		{"idle", 4, 0, 0},
		{"saturated", 2, 2, 1},
		{"no server", 0, 1, 1},
		// Textbook value: c=10, a=8 gives C ≈ 0.409.
		{"ten servers at 80%", 10, 8, 0.40918},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErlangC(tc.c, tc.a); math.Abs(got-tc.want) > 1e-4 {
				t.Errorf("ErlangC(%d, %v) = %v, want %v", tc.c, tc.a, got, tc.want)
			}
		})
	}
}

func testModel() Model {
	return Model{
		Shared:         Class{Name: "shared", Rate: 10, Prefill: 0.1, Decode: 1, Uncached: 100},
		Chat:           Class{Name: "chat", Rate: 10, Prefill: 0.1, Decode: 1, Uncached: 200},
		EnginesPerUnit: 1, Bound: 1, MaxWait: 2,
	}
}

func TestAttainmentMM1(t *testing.T) {
	m := testModel()
	// M/M/1 at λ=5, μ=10: P(W > x) = 0.5·e^(−5x); bound − prefill = 0.9 s.
	want := 1 - 0.5*math.Exp(-5*0.9)
	if got := m.Attainment(1, 5, 0.5); math.Abs(got-want) > 1e-9 {
		t.Errorf("Attainment = %v, want %v", got, want)
	}
	if got := m.Attainment(1, 10, 0.5); got != 0 {
		t.Errorf("saturated Attainment = %v, want 0", got)
	}
	if m.Attainment(3, 25, 0.5) <= m.Attainment(3, 28, 0.5) {
		t.Error("attainment did not fall with load")
	}
}

func TestNeedUnits(t *testing.T) {
	m := testModel()
	cases := []struct {
		name  string
		rate  float64
		limit int
		want  int
	}{
		{"light load needs one", 2, 10, 1},
		// 28 req/s on 10 req/s engines: 3 engines at 93% wait too long
		// (P(W > 0.9 s) = C·e^(−2·0.9) ≈ 0.14), 4 at 70% do not.
		{"needs headroom above the mean", 28, 10, 4},
		// 25 req/s: 3 engines at 83% hold 99.2%.
		{"three hold 83%", 25, 10, 3},
		{"more than the cluster", 500, 10, 11},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.NeedUnits(tc.rate, 0.5, tc.limit); got != tc.want {
				t.Errorf("NeedUnits(%v) = %d, want %d (attainment at want-1: %v, at want: %v)", tc.rate, got, tc.want,
					m.Attainment(tc.want-1, tc.rate, 0.5), m.Attainment(tc.want, tc.rate, 0.5))
			}
		})
	}
}

func TestPoolBacklogAndRefusal(t *testing.T) {
	approx := cmpopts.EquateApprox(0, 1e-9)
	p := &Pool{M: testModel()}
	// One engine serves 10 requests a second; 20 arrive: half wait.
	s0 := p.Step(0, 1, Arrivals{Shared: 20})
	if diff := cmp.Diff([]float64{10, 0, 10}, []float64{s0.Requests, s0.Refused, p.Backlog()}, approx); diff != "" {
		t.Errorf("second 0: served, refused, backlog (-want +got):\n%s", diff)
	}
	// Next second: the 10 waiting are served first (waited 1 s: TTFT
	// 1.1 s > the 1 s bound, so none meets it), the new 10 wait.
	s1 := p.Step(1, 1, Arrivals{Shared: 10})
	if s1.Met > 1e-9 {
		t.Errorf("requests served from the backlog after 1 s met a 1 s bound: %v", s1.Met)
	}
	// No engine for two seconds: the 10 from second 1 pass MaxWait (2 s)
	// and are refused at second 4.
	p.Step(2, 0, Arrivals{})
	p.Step(3, 0, Arrivals{})
	s4 := p.Step(4, 0, Arrivals{})
	if diff := cmp.Diff([]float64{10, 0}, []float64{s4.Refused, p.Backlog()}, approx); diff != "" {
		t.Errorf("second 4: refused, backlog (-want +got):\n%s", diff)
	}
	// Buckets are cumulative and end with every served request.
	last := s0.Buckets[len(s0.Buckets)-1]
	for i := 1; i < len(s0.Buckets); i++ {
		if s0.Buckets[i] < s0.Buckets[i-1]-1e-9 {
			t.Fatalf("buckets not cumulative at %d: %v", i, s0.Buckets)
		}
	}
	if math.Abs(last-s0.Requests) > 1e-9 {
		t.Errorf("+Inf bucket %v, served %v", last, s0.Requests)
	}
}

func TestPoolSignals(t *testing.T) {
	p := &Pool{M: testModel()}
	// 5 req/s on one 10 req/s engine: M/M/1 at ρ=0.5, E[W] = 0.5/5 = 0.1 s.
	s := p.Step(0, 1, Arrivals{Shared: 5})
	want := []float64{5 * 0.1, 5 * 0.1 * 100, 5*0.1 + 5*(0.1+1)}
	got := []float64{s.Waiting, s.QueuedTokens, s.InFlight}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("waiting, queued tokens, in flight (-want +got):\n%s", diff)
	}
}
