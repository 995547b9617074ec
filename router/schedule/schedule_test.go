package schedule

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tandem-serving/tandem/router/breaker"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/prefix"
)

var now = time.Unix(1_700_000_000, 0)

// ep is a fluent builder of an endpoint's state for a test.
type ep struct {
	name                 string
	unit                 string
	cachedBlocks         int
	queued, inFlight     int64
	waiting, kv, running float64
	scraped              bool
	rate                 float64
	open                 bool
}

func endpointNamed(name string) *ep  { return &ep{name: name, unit: "0"} }
func (b *ep) cached(blocks int) *ep  { b.cachedBlocks = blocks; return b }
func (b *ep) queue(tokens int64) *ep { b.queued = tokens; return b }
func (b *ep) open_() *ep             { b.open = true; return b }
func (b *ep) inUnit(u string) *ep    { b.unit = u; return b }
func (b *ep) requests(n int64) *ep   { b.inFlight = n; return b }
func (b *ep) withRate(r float64) *ep { b.rate = r; return b }
func (b *ep) engine(waiting, running, kv float64) *ep {
	b.scraped, b.waiting, b.running, b.kv = true, waiting, running, kv
	return b
}

const blockBytes = 64

// world builds endpoints and a request whose prompt is blocks blocks long.
func world(t *testing.T, blocks int, eps ...*ep) (*Request, []*endpoint.Endpoint) {
	t.Helper()
	prompt := []byte(strings.Repeat("x", blocks*blockBytes))
	req := &Request{Model: "m", PromptBytes: len(prompt), Hashes: prefix.AppendHashes(nil, prefix.Seed("m"), prompt, blockBytes)}
	var specs []endpoint.Spec
	for _, b := range eps {
		specs = append(specs, endpoint.Spec{Name: b.name, Address: "127.0.0.1:1", Models: []string{"m"}, Role: endpoint.RoleBoth, Kind: endpoint.VLLM, Group: "g", Unit: b.unit})
	}
	reg := endpoint.NewRegistry(endpoint.Options{IndexBlocks: 1000, BlockBytes: blockBytes, BytesPerToken: 4, RatePrior: 10000,
		Breaker: breaker.Config{Failures: 1, Cooldown: time.Hour, MaxCooldown: time.Hour}})
	reg.Update(specs)
	out := make([]*endpoint.Endpoint, len(eps))
	for i, b := range eps {
		e := reg.Snapshot().Endpoint(b.name)
		e.Index.Insert(req.Hashes[:b.cachedBlocks])
		e.QueuedTokens.Store(b.queued)
		e.InFlight.Store(b.inFlight)
		if b.scraped {
			e.SetEngine(endpoint.EngineMetrics{At: now, Waiting: b.waiting, Running: b.running, KVUsage: b.kv})
		}
		if b.rate > 0 {
			e.Rate.Reset(b.rate)
		}
		if b.open {
			e.Breaker.Failure(false)
		}
		out[i] = e
	}
	return req, out
}

func features() *Features {
	return &Features{BlockBytes: blockBytes, BytesPerToken: 4, StaleAfter: time.Second,
		Saturation: Saturation{MaxWaiting: 10, MaxKVUsage: 0.98}, Penalty: Penalty{KVThreshold: 0.9, KVTokens: 8192},
		Cost: Cost{StallWeight: 0.25, DecodeTokens: 1, OutputTokens: 100}, RateSpread: 2}
}

// noExplore turns off a tandem profile's exploration so picks are exact.
func noExplore(t *testing.T, p *Profile) *Profile {
	t.Helper()
	a, ok := p.Picker.(*AffinityPicker)
	if !ok {
		t.Fatalf("picker %T, want the affinity picker", p.Picker)
	}
	a.max.args.Explore = 0
	return p
}

func TestFeaturesTTFT(t *testing.T) {
	// 100 blocks of 64 bytes at 4 bytes a token: 1,600 tokens.
	cases := []struct {
		name          string
		ep            *ep
		wantUncached  float64
		wantQueued    float64
		wantTTFT      float64
		wantSaturated bool
		// wantDecoding and wantStall are zero unless set; the batch term
		// is decoding × 100 output tokens × 1 / rate, the cost
		// TTFT + batch + 0.25 × (stall + batch).
		wantDecoding, wantStall float64
	}{
		{name: "cold and idle", ep: endpointNamed("a"), wantUncached: 1600, wantTTFT: 0.16},
		{name: "half cached", ep: endpointNamed("a").cached(50), wantUncached: 800, wantTTFT: 0.08},
		{name: "own queue adds", ep: endpointNamed("a").cached(100).queue(2000), wantQueued: 2000, wantTTFT: 0.2},
		{name: "other routers' waiting requests are priced at the mean request", ep: endpointNamed("a").engine(3, 0, 0.1),
			wantUncached: 1600, wantQueued: 3 * 512, wantTTFT: (1600 + 1536) / 10000.0},
		{name: "nearly full KV is penalized", ep: endpointNamed("a").cached(100).engine(0, 0, 0.95),
			wantTTFT: 0.5 * 8192 / 10000},
		{name: "a slower endpoint predicts longer", ep: endpointNamed("a").withRate(5000), wantUncached: 1600, wantTTFT: 0.32},
		{name: "a long engine queue saturates", ep: endpointNamed("a").cached(100).engine(10, 0, 0.1), wantQueued: 5120,
			wantTTFT: 0.512, wantSaturated: true},
		{name: "a prefill stalls the router's decoding sequences", ep: endpointNamed("a").requests(4), wantUncached: 1600,
			wantTTFT: 0.16, wantDecoding: 4, wantStall: 4 * 0.16},
		{name: "a larger scraped batch counts (other routers' sequences)", ep: endpointNamed("a").requests(4).engine(0, 6, 0.1),
			wantUncached: 1600, wantTTFT: 0.16, wantDecoding: 6, wantStall: 6 * 0.16},
		{name: "a cache hit stalls nobody", ep: endpointNamed("a").cached(100).requests(4), wantTTFT: 0, wantDecoding: 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 100, tc.ep)
			var c Candidate
			features().Fill(&c, req, eps[0], now)
			type got struct {
				Uncached, Queued, TTFT       float64
				Saturated                    bool
				Decoding, Stall, Batch, Cost float64
			}
			batch := tc.wantDecoding * 100 / 10000
			want := got{tc.wantUncached, tc.wantQueued, tc.wantTTFT, tc.wantSaturated,
				tc.wantDecoding, tc.wantStall, batch, tc.wantTTFT + batch + 0.25*(tc.wantStall+batch)}
			if diff := cmp.Diff(want, got{c.UncachedTokens, c.QueuedTokens, c.TTFT, c.Saturated, c.Decoding, c.Stall, c.Batch, c.Cost},
				cmpopts.EquateApprox(1e-9, 1e-9)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStaleMetricsAreIgnored(t *testing.T) {
	req, eps := world(t, 10, endpointNamed("a").engine(50, 0, 0.99))
	var c Candidate
	features().Fill(&c, req, eps[0], now.Add(2*time.Second))
	if c.Fresh || c.Saturated || c.QueuedTokens != 0 {
		t.Errorf("stale scrape used: fresh %v saturated %v queued %g", c.Fresh, c.Saturated, c.QueuedTokens)
	}
}

func scores(t *testing.T, s Scorer, req *Request, eps []*endpoint.Endpoint) []float64 {
	t.Helper()
	cands := make([]Candidate, len(eps))
	for i, e := range eps {
		features().Fill(&cands[i], req, e, now)
	}
	out := make([]float64, len(cands))
	s.Score(req, cands, out)
	return out
}

func TestScorers(t *testing.T) {
	approx := cmpopts.EquateApprox(1e-9, 1e-9)
	cases := []struct {
		name   string
		scorer Scorer
		req    func() (*Request, []*endpoint.Endpoint)
		want   []float64
	}{
		{"prefix is the cached fraction", PrefixScorer{}, func() (*Request, []*endpoint.Endpoint) {
			return world(t, 10, endpointNamed("a").cached(10), endpointNamed("b").cached(5), endpointNamed("c"))
		}, []float64{1, 0.5, 0}},
		{"least-request", LeastRequestScorer{}, func() (*Request, []*endpoint.Endpoint) {
			return world(t, 10, endpointNamed("a").requests(0), endpointNamed("b").requests(1), endpointNamed("c").requests(3))
		}, []float64{1, 0.5, 0.25}},
		{"queue", QueueScorer{}, func() (*Request, []*endpoint.Endpoint) {
			return world(t, 10, endpointNamed("a").queue(16), endpointNamed("b").queue(48))
		}, []float64{1, 0.5}},
		{"kv-usage, unknown is neutral", KVUsageScorer{}, func() (*Request, []*endpoint.Endpoint) {
			return world(t, 10, endpointNamed("a").engine(0, 0, 0.25), endpointNamed("b"))
		}, []float64{0.75, 0.5}},
		{"ttft: best is 1, others best/theirs", TTFTScorer{}, func() (*Request, []*endpoint.Endpoint) {
			// 1,600 uncached tokens vs 3,200 of work; k is 16/10000 s.
			return world(t, 100, endpointNamed("a"), endpointNamed("b").queue(1600))
		}, []float64{1, (0.16 + 0.0016) / (0.32 + 0.0016)}},
		{"same-unit", SameUnitScorer{}, func() (*Request, []*endpoint.Endpoint) {
			req, eps := world(t, 10, endpointNamed("a").inUnit("1"), endpointNamed("b").inUnit("2"))
			req.PreferGroup, req.PreferUnit = "g", "1"
			return req, eps
		}, []float64{1, 0.5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := tc.req()
			if diff := cmp.Diff(tc.want, scores(t, tc.scorer, req, eps), approx); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func names(cands []Candidate) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.E.Name
	}
	return out
}

func TestFilters(t *testing.T) {
	req, eps := world(t, 10, endpointNamed("a").open_(), endpointNamed("b"), endpointNamed("c").engine(20, 0, 0))
	cands := make([]Candidate, len(eps))
	for i, e := range eps {
		features().Fill(&cands[i], req, e, now)
	}
	saturated := cands[2]
	healthy := HealthyFilter{}.Filter(req, cands)
	if diff := cmp.Diff([]string{"b", "c"}, names(healthy)); diff != "" {
		t.Errorf("healthy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, names(SaturationFilter{}.Filter(req, healthy))); diff != "" {
		t.Errorf("saturation (-want +got):\n%s", diff)
	}
	if got := (SaturationFilter{}).Filter(req, []Candidate{saturated}); len(got) != 1 {
		t.Errorf("all saturated: kept %d, want all (the router then decides)", len(got))
	}
}

func profile(t *testing.T, policy string) *Profile {
	t.Helper()
	pc, err := Preset(policy)
	if err != nil {
		t.Fatal(err)
	}
	p, err := DefaultPlugins().Build(pc, features())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The tandem policy stays on the endpoint that holds the prefix while its
// queue costs less than recomputing the prefix elsewhere, and leaves it
// when waiting would cost more.
func TestTandemPolicy(t *testing.T) {
	cases := []struct {
		name       string
		eps        []*ep
		wantFirst  string
		wantReason Reason
	}{
		{"idle: the cached endpoint", []*ep{endpointNamed("hot").cached(90), endpointNamed("cold")}, "hot", ReasonCacheAffinity},
		{"a short queue is worth waiting for", []*ep{endpointNamed("hot").cached(90).queue(800), endpointNamed("cold")}, "hot", ReasonCacheAffinity},
		// hot: (3,000 + 160) / 10,000 = 0.316 s, under 3 × cold's 0.16 s.
		{"stays while within 3× a cold endpoint", []*ep{endpointNamed("hot").cached(90).queue(3000), endpointNamed("cold")}, "hot", ReasonCacheAffinity},
		// hot: 0.616 s, over 3 × 0.16 s.
		{"a long queue is not worth it", []*ep{endpointNamed("hot").cached(90).queue(6000), endpointNamed("cold")}, "cold", ReasonLoadBalance},
		{"the longest prefix is the holder", []*ep{endpointNamed("some").cached(30), endpointNamed("most").cached(90), endpointNamed("cold")}, "most", ReasonCacheAffinity},
		{"nothing cached: the least work", []*ep{endpointNamed("a").queue(100), endpointNamed("b")}, "b", ReasonNoCache},
		{"nothing cached: the fewest decoding sequences", []*ep{endpointNamed("a").requests(3), endpointNamed("b").requests(1)}, "b", ReasonNoCache},
		// hot: 0.016 s TTFT + 1.25 × 2 × 100 / 10,000 + 0.25 × 2 × 160 / 10,000 = 0.049 s.
		{"a small batch is worth joining for the cache", []*ep{endpointNamed("hot").cached(90).requests(2), endpointNamed("cold")}, "hot", ReasonCacheAffinity},
		// hot: 0.016 + 2.5 + 0.8 s, over 3 × cold's 0.16 s.
		{"a big batch is not", []*ep{endpointNamed("hot").cached(90).requests(200), endpointNamed("cold")}, "cold", ReasonLoadBalance},
		{"saturated endpoints are avoided", []*ep{endpointNamed("hot").cached(100).engine(20, 0, 0), endpointNamed("cold")}, "cold", ReasonOnlyOne},
		{"an open breaker is skipped", []*ep{endpointNamed("hot").cached(100).open_(), endpointNamed("cold")}, "cold", ReasonOnlyOne},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, eps := world(t, 100, tc.eps...)
			p := noExplore(t, profile(t, "tandem"))
			res := p.Schedule(req, eps, now, NewScratch(1))
			if got := res.Order[0].E.Name; got != tc.wantFirst || res.Reason != tc.wantReason {
				t.Errorf("picked %s (%s), want %s (%s)", got, res.Reason, tc.wantFirst, tc.wantReason)
			}
		})
	}
}

func TestPickers(t *testing.T) {
	t.Run("round-robin cycles in name order", func(t *testing.T) {
		req, eps := world(t, 1, endpointNamed("a"), endpointNamed("b"), endpointNamed("c"))
		p := profile(t, "round-robin")
		var got []string
		for range 4 {
			res := p.Schedule(req, eps, now, NewScratch(1))
			got = append(got, fmt.Sprint(names(res.Order)))
		}
		want := []string{"[a b c]", "[b c a]", "[c a b]", "[a b c]"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("random spreads", func(t *testing.T) {
		req, eps := world(t, 1, endpointNamed("a"), endpointNamed("b"))
		p := profile(t, "random")
		s := NewScratch(7)
		seen := map[string]int{}
		for range 200 {
			seen[p.Schedule(req, eps, now, s).Order[0].E.Name]++
		}
		if seen["a"] < 50 || seen["b"] < 50 {
			t.Errorf("picks %v, want both often", seen)
		}
	})
	t.Run("max-score explores only near the best", func(t *testing.T) {
		cands := []Candidate{{Score: 1}, {Score: 0.9}, {Score: 0.1}}
		for i := range cands {
			cands[i].E = &endpoint.Endpoint{Spec: endpoint.Spec{Name: fmt.Sprint(i)}}
		}
		pk := &MaxScorePicker{args: MaxScoreArgs{Explore: 1, ExploreWithin: 0.8}}
		rng := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			c := append([]Candidate(nil), cands...)
			if r := pk.Pick(nil, c, rng); r != ReasonExplore || c[0].E.Name != "1" {
				t.Fatalf("explored to %s (%s), want 1", c[0].E.Name, r)
			}
		}
	})
	t.Run("affinity stays within the bound and keeps the fallbacks in score order", func(t *testing.T) {
		mk := func() []Candidate {
			c := []Candidate{
				{Score: 0.5, Cost: 2.5, CachedBlocks: 9},
				{Score: 1, Cost: 1},
				{Score: 0.2, Cost: 4, CachedBlocks: 3},
				{Score: 0.8, Cost: 1.2},
			}
			for i := range c {
				c[i].E = &endpoint.Endpoint{Spec: endpoint.Spec{Name: fmt.Sprint(i)}}
			}
			return c
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, tc := range []struct {
			name       string
			stay       float64
			edit       func([]Candidate)
			want       string
			wantReason Reason
		}{
			{"within 3×", 3, nil, "[0 1 3 2]", ReasonCacheAffinity},
			{"beyond 2×", 2, nil, "[1 3 0 2]", ReasonBest},
			{"never against the scores", 0, nil, "[1 3 0 2]", ReasonBest},
			{"a saturated holder is left", 3, func(c []Candidate) { c[0].Saturated = true }, "[1 3 0 2]", ReasonBest},
			{"the cheaper of equal holders", 3, func(c []Candidate) { c[2].CachedBlocks = 9; c[2].Cost = 2 }, "[2 1 3 0]", ReasonCacheAffinity},
		} {
			t.Run(tc.name, func(t *testing.T) {
				pk, err := NewAffinityPicker(AffinityArgs{StayWithin: tc.stay})
				if err != nil {
					t.Fatal(err)
				}
				c := mk()
				if tc.edit != nil {
					tc.edit(c)
				}
				r := pk.Pick(nil, c, rng)
				if got := fmt.Sprint(names(c)); got != tc.want || r != tc.wantReason {
					t.Errorf("order %s (%s), want %s (%s)", got, r, tc.want, tc.wantReason)
				}
			})
		}
		if _, err := NewAffinityPicker(AffinityArgs{StayWithin: 0.5}); err == nil {
			t.Error("stayWithin 0.5: want an error")
		}
	})
	t.Run("least-request balances", func(t *testing.T) {
		req, eps := world(t, 1, endpointNamed("a").requests(5), endpointNamed("b").requests(1))
		if got := profile(t, "least-request").Schedule(req, eps, now, NewScratch(1)).Order[0].E.Name; got != "b" {
			t.Errorf("picked %s, want b", got)
		}
	})
	t.Run("prefix ignores load", func(t *testing.T) {
		req, eps := world(t, 10, endpointNamed("a").cached(10).queue(1e9), endpointNamed("b"))
		if got := profile(t, "prefix").Schedule(req, eps, now, NewScratch(1)).Order[0].E.Name; got != "a" {
			t.Errorf("picked %s, want a", got)
		}
	})
}

func TestAllSaturatedIsReported(t *testing.T) {
	req, eps := world(t, 10, endpointNamed("a").engine(50, 0, 0), endpointNamed("b").engine(60, 0, 0))
	res := profile(t, "tandem").Schedule(req, eps, now, NewScratch(1))
	if !res.AllSaturated || len(res.Order) != 2 {
		t.Errorf("AllSaturated %v with %d candidates, want true with 2", res.AllSaturated, len(res.Order))
	}
}

func TestBuildRejectsBadProfiles(t *testing.T) {
	cases := []struct {
		name string
		pc   ProfileConfig
		want string
	}{
		{"unknown filter", ProfileConfig{Filters: []PluginConfig{{Name: "nope"}}, Picker: PluginConfig{Name: "random"}}, `unknown filter "nope"`},
		{"unknown picker", ProfileConfig{Picker: PluginConfig{Name: "nope"}}, `unknown picker "nope"`},
		{"unknown argument", ProfileConfig{Picker: PluginConfig{Name: "max-score", Args: []byte(`{"explor":0.1}`)}}, `unknown field "explor"`},
		{"bad argument", ProfileConfig{Picker: PluginConfig{Name: "max-score", Args: []byte(`{"explore":2}`)}}, "within [0, 1]"},
		{"negative weight", ProfileConfig{Scorers: []PluginConfig{{Name: "ttft", Weight: -1}}, Picker: PluginConfig{Name: "max-score"}}, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DefaultPlugins().Build(tc.pc, features())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestClampAndWeights(t *testing.T) {
	req, eps := world(t, 10, endpointNamed("a"), endpointNamed("b"))
	p := &Profile{Features: features(), Picker: &MaxScorePicker{}, Scorers: []WeightedScorer{
		{Scorer: constScorer{2, -1}, Weight: 3}, {Scorer: constScorer{0.5, 0.5}, Weight: 1},
	}}
	res := p.Schedule(req, eps, now, NewScratch(1))
	got := map[string]float64{res.Order[0].E.Name: res.Order[0].Score, res.Order[1].E.Name: res.Order[1].Score}
	if diff := cmp.Diff(map[string]float64{"a": 3.5, "b": 0.5}, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
}

type constScorer []float64

func (constScorer) Name() string { return "const" }
func (s constScorer) Score(_ *Request, cands []Candidate, out []float64) {
	for i := range cands {
		out[i] = s[i]
	}
}

func BenchmarkScheduleTandem8(b *testing.B) {
	t := &testing.T{}
	var eps []*ep
	for i := range 8 {
		eps = append(eps, endpointNamed(fmt.Sprint(i)).cached(i*8).queue(int64(i*100)))
	}
	req, endpoints := world(t, 64, eps...)
	p := profile(t, "tandem")
	s := NewScratch(1)
	b.ReportAllocs()
	for b.Loop() {
		p.Schedule(req, endpoints, now, s)
	}
}

// Two router replicas with the same view place a new prefix on the same
// endpoint (rendezvous tie-break), and different prefixes spread out.
func TestTiesAgreeAcrossReplicas(t *testing.T) {
	var eps []*ep
	for i := range 4 {
		eps = append(eps, endpointNamed(fmt.Sprint("e", i)))
	}
	_, endpoints := world(t, 1, eps...)
	a, b := noExplore(t, profile(t, "tandem")), noExplore(t, profile(t, "tandem"))
	used := map[string]int{}
	for i := range 64 {
		prompt := []byte(fmt.Sprintf("%064d", i))
		req := &Request{Model: "m", PromptBytes: len(prompt), Hashes: prefix.AppendHashes(nil, prefix.Seed("m"), prompt, blockBytes)}
		ra := a.Schedule(req, endpoints, now, NewScratch(uint64(i))).Order[0].E.Name
		rb := b.Schedule(req, endpoints, now, NewScratch(uint64(1000+i))).Order[0].E.Name
		if ra != rb {
			t.Fatalf("prompt %d: replicas picked %s and %s", i, ra, rb)
		}
		used[ra]++
	}
	if len(used) != 4 {
		t.Errorf("64 prefixes used %d of 4 endpoints: %v", len(used), used)
	}
}

func TestBoundRates(t *testing.T) {
	cands := []Candidate{
		{Rate: 32_000, TTFT: 1.0}, // a bad early estimate
		{Rate: 220_000, TTFT: 0.1},
		{Rate: 230_000, TTFT: 0.1},
		{Rate: 1_000_000, TTFT: 0.01}, // implausibly fast
	}
	BoundRates(cands, 2)
	median := 225_000.0
	want := []struct{ rate, ttft float64 }{
		{median / 2, 1.0 * 32_000 / (median / 2)},
		{220_000, 0.1},
		{230_000, 0.1},
		{median * 2, 0.01 * 1_000_000 / (median * 2)},
	}
	for i, w := range want {
		if math.Abs(cands[i].Rate-w.rate) > 1e-6 || math.Abs(cands[i].TTFT-w.ttft) > 1e-9 {
			t.Errorf("candidate %d: rate %g ttft %g, want %g %g", i, cands[i].Rate, cands[i].TTFT, w.rate, w.ttft)
		}
	}
	one := []Candidate{{Rate: 5, TTFT: 3}}
	BoundRates(one, 2)
	if one[0].Rate != 5 || one[0].TTFT != 3 {
		t.Errorf("a lone candidate was changed: %+v", one[0])
	}
}
