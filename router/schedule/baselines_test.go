package schedule

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/router/endpoint"
)

func fill(req *Request, eps []*endpoint.Endpoint) []Candidate {
	cands := make([]Candidate, len(eps))
	for i, e := range eps {
		features().Fill(&cands[i], req, e, now)
	}
	return cands
}

func TestBaselineScorers(t *testing.T) {
	approx := cmpopts.EquateApprox(1e-9, 1e-9)
	cases := []struct {
		name   string
		scorer Scorer
		eps    []*ep
		want   []float64
	}{
		{"queue-depth: min-max over the scraped waiting queues", QueueDepthScorer{},
			[]*ep{endpointNamed("a").engine(0, 0, 0), endpointNamed("b").engine(2, 0, 0), endpointNamed("c").engine(8, 0, 0)},
			[]float64{1, 0.75, 0}},
		{"queue-depth: equal queues all score 1", QueueDepthScorer{},
			[]*ep{endpointNamed("a").engine(3, 0, 0), endpointNamed("b").engine(3, 0, 0)}, []float64{1, 1}},
		{"queue-depth: no scrape counts as empty", QueueDepthScorer{},
			[]*ep{endpointNamed("a"), endpointNamed("b").engine(4, 0, 0)}, []float64{1, 0}},
		{"queue-depth ignores the router's own counters", QueueDepthScorer{},
			[]*ep{endpointNamed("a").requests(9).queue(5000), endpointNamed("b")}, []float64{1, 1}},
		// a: 2 open, 2 running: base 2; b: 2 open, 1 running: 2 + 100 = 102.
		{"load: requests queued in the engine weigh 100×", LoadScorer{},
			[]*ep{endpointNamed("a").requests(2).engine(0, 2, 0), endpointNamed("b").requests(2).engine(0, 1, 0)},
			[]float64{(102.0 - 2) / 102, 0}},
		// a: 1 + 100 = 101, b: 4 + 400 = 404, c: 0.
		{"load: without a scrape every open request counts as queued", LoadScorer{},
			[]*ep{endpointNamed("a").requests(1), endpointNamed("b").requests(4), endpointNamed("c")},
			[]float64{(404.0 - 101) / 404, 0, 1}},
		{"load: idle fleet all score 1", LoadScorer{},
			[]*ep{endpointNamed("a"), endpointNamed("b")}, []float64{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 10, tc.eps...)
			if diff := cmp.Diff(tc.want, scores(t, tc.scorer, req, eps), approx); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaselineFilters(t *testing.T) {
	util, err := NewUtilizationFilter(UtilizationArgs{QueueDepth: 5, KVUsage: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	affinity, err := NewPrefixAffinityFilter(PrefixAffinityArgs{Threshold: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := NewWaitingFilter(WaitingArgs{Below: 10})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		filter Filter
		eps    []*ep
		want   []string
	}{
		{"utilization drops a queue of 5 and KV at 0.8", util, []*ep{
			endpointNamed("ok").engine(4, 0, 0.79), endpointNamed("queue").engine(5, 0, 0), endpointNamed("kv").engine(0, 0, 0.8),
		}, []string{"ok"}},
		{"utilization drops endpoints without fresh metrics", util, []*ep{
			endpointNamed("unknown"), endpointNamed("ok").engine(0, 0, 0),
		}, []string{"ok"}},
		{"utilization keeps all when all are saturated", util, []*ep{
			endpointNamed("a").engine(9, 0, 0), endpointNamed("b").engine(0, 0, 0.9),
		}, []string{"a", "b"}},
		{"prefix-affinity keeps the endpoints holding 80% or more", affinity, []*ep{
			endpointNamed("all").cached(10), endpointNamed("most").cached(8), endpointNamed("some").cached(7), endpointNamed("cold"),
		}, []string{"all", "most"}},
		{"prefix-affinity keeps all when none holds 80%", affinity, []*ep{
			endpointNamed("some").cached(7), endpointNamed("cold"),
		}, []string{"some", "cold"}},
		{"waiting keeps queues below 10; no scrape counts as 0", waiting, []*ep{
			endpointNamed("nine").engine(9, 0, 0), endpointNamed("ten").engine(10, 0, 0), endpointNamed("unknown"),
		}, []string{"nine", "unknown"}},
		{"waiting keeps none when all are full (Kthena fails the request)", waiting, []*ep{
			endpointNamed("a").engine(10, 0, 0), endpointNamed("b").engine(30, 0, 0),
		}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 10, tc.eps...)
			got := names(tc.filter.Filter(req, fill(req, eps)))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrefixAffinityExplores(t *testing.T) {
	f, err := NewPrefixAffinityFilter(PrefixAffinityArgs{Threshold: 0.8, Explore: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	req, eps := world(t, 10, endpointNamed("hot").cached(10), endpointNamed("cold"))
	for _, tc := range []struct {
		draw float64
		want []string
	}{{0.5, []string{"hot"}}, {0.005, []string{"hot", "cold"}}} {
		f.(*PrefixAffinityFilter).draw = func() float64 { return tc.draw }
		if diff := cmp.Diff(tc.want, names(f.Filter(req, fill(req, eps)))); diff != "" {
			t.Errorf("draw %g (-want +got):\n%s", tc.draw, diff)
		}
	}
}

func TestBaselineArgsAreChecked(t *testing.T) {
	for name, err := range map[string]error{
		"utilization without a queue depth": second(NewUtilizationFilter(UtilizationArgs{KVUsage: 0.8})),
		"utilization with KV above 1":       second(NewUtilizationFilter(UtilizationArgs{QueueDepth: 5, KVUsage: 1.5})),
		"prefix-affinity without threshold": second(NewPrefixAffinityFilter(PrefixAffinityArgs{})),
		"prefix-affinity explore above 1":   second(NewPrefixAffinityFilter(PrefixAffinityArgs{Threshold: 0.8, Explore: 2})),
		"waiting without a bound":           second(NewWaitingFilter(WaitingArgs{})),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// The presets pick as their sources describe (baselines.go); ties broken
// at random never decide these cases.
func TestBaselinePolicies(t *testing.T) {
	cases := []struct {
		name, policy string
		eps          []*ep
		wantFirst    string
	}{
		// hot: 3 × 1 + 2 × 0 (longest queue) + 2 × 1 = 5; cold: 0 + 2 + 2 = 4.
		{"llm-d: the prefix outweighs a longer queue", "llm-d",
			[]*ep{endpointNamed("hot").cached(10).engine(4, 0, 0), endpointNamed("cold").engine(0, 0, 0)}, "hot"},
		// hot: 3 × 0.5 + 0 + 2 × 0.5 = 2.5; cold: 0 + 2 + 2 = 4.
		{"llm-d: half a prefix does not outweigh queue and KV", "llm-d",
			[]*ep{endpointNamed("hot").cached(5).engine(4, 0, 0.5), endpointNamed("cold").engine(0, 0, 0)}, "cold"},
		{"llm-d-sticky: stays on the holder below saturation", "llm-d-sticky",
			[]*ep{endpointNamed("hot").cached(9).engine(4, 0, 0.7), endpointNamed("cold").engine(0, 0, 0)}, "hot"},
		{"llm-d-sticky: leaves a saturated holder", "llm-d-sticky",
			[]*ep{endpointNamed("hot").cached(10).engine(5, 0, 0), endpointNamed("cold").engine(0, 0, 0)}, "cold"},
		// hot: 3 × 0.9 + 0 + 2 × 0.3 = 3.3; cold: 4.
		{"llm-d: without the filters it leaves that holder", "llm-d",
			[]*ep{endpointNamed("hot").cached(9).engine(4, 0, 0.7), endpointNamed("cold").engine(0, 0, 0)}, "cold"},
		// hot: 2 open, both running: base 2; cold: 1 open, not running: 101.
		{"kthena: the holder whose requests all run", "kthena",
			[]*ep{endpointNamed("hot").cached(10).requests(2).engine(0, 2, 0), endpointNamed("cold").requests(1).engine(0, 0, 0)}, "hot"},
		// hot: 0.5 + 0 (base 202); cold: 0 + 1.
		{"kthena: requests queued in the engine outweigh half a prefix", "kthena",
			[]*ep{endpointNamed("hot").cached(5).requests(2).engine(0, 0, 0), endpointNamed("cold").engine(0, 0, 0)}, "cold"},
		{"kthena: a full waiting queue is filtered out", "kthena",
			[]*ep{endpointNamed("hot").cached(10).engine(10, 0, 0), endpointNamed("cold").engine(0, 0, 0)}, "cold"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 10, tc.eps...)
			p := profile(t, tc.policy)
			if f, ok := p.Filters[len(p.Filters)-1].(*PrefixAffinityFilter); ok {
				f.draw = func() float64 { return 1 } // never explore
			}
			res := p.Schedule(req, eps, now, NewScratch(1))
			if len(res.Order) == 0 {
				t.Fatalf("no candidate (%s)", res.Reason)
			}
			if got := res.Order[0].E.Name; got != tc.wantFirst {
				t.Errorf("picked %s (%s), want %s", got, res.Reason, tc.wantFirst)
			}
		})
	}
}

func TestKthenaFailsWhenEveryQueueIsFull(t *testing.T) {
	req, eps := world(t, 10, endpointNamed("a").engine(10, 0, 0), endpointNamed("b").engine(12, 0, 0))
	res := profile(t, "kthena").Schedule(req, eps, now, NewScratch(1))
	if len(res.Order) != 0 || res.Reason != ReasonNoCandidate {
		t.Errorf("got %d candidates (%s), want none (%s)", len(res.Order), res.Reason, ReasonNoCandidate)
	}
}

func TestEveryPresetBuilds(t *testing.T) {
	for _, policy := range Policies {
		if p := profile(t, policy); p.Picker == nil {
			t.Errorf("%s: no picker", policy)
		}
	}
}
