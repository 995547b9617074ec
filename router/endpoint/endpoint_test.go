package endpoint

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim"
)

func mkSpec(name, addr string, role Role, models ...string) Spec {
	s := Spec{Name: name, Address: addr, Role: role, Models: models}
	if err := s.Normalize(); err != nil {
		panic(err)
	}
	return s
}

func testOptions() Options {
	return Options{IndexBlocks: 100, BlockBytes: 64, BytesPerToken: 4, RatePrior: 10000}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		name    string
		in      Spec
		want    Spec
		wantErr string
	}{
		{name: "defaults", in: Spec{Address: "10.0.0.1:8000", Models: []string{"b", "a", "b"}},
			want: Spec{Name: "10.0.0.1:8000", Address: "10.0.0.1:8000", Models: []string{"a", "b"}, Role: RoleBoth, Kind: VLLM}},
		{name: "sglang bootstrap port", in: Spec{Address: "h:1", Kind: SGLang, Role: RolePrefill},
			want: Spec{Name: "h:1", Address: "h:1", Kind: SGLang, Role: RolePrefill, BootstrapPort: DefaultBootstrapPort}},
		{name: "no port", in: Spec{Address: "10.0.0.1"}, wantErr: "want host:port"},
		{name: "bad port", in: Spec{Address: "h:99999"}, wantErr: "bad port"},
		{name: "bad role", in: Spec{Address: "h:1", Role: "worker"}, wantErr: "role"},
		{name: "bad engine", in: Spec{Address: "h:1", Kind: "trt"}, wantErr: "engine"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.in
			err := s.Normalize()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, s); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoleFromName(t *testing.T) {
	got := []Role{RoleFromName("prefill"), RoleFromName("decode"), RoleFromName("engine"), RoleFromName("")}
	if diff := cmp.Diff([]Role{RolePrefill, RoleDecode, RoleBoth, RoleBoth}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func poolNames(p *Pool) (serving, prefill []string) {
	for _, e := range p.Serving {
		serving = append(serving, e.Name)
	}
	for _, e := range p.Prefill {
		prefill = append(prefill, e.Name)
	}
	return serving, prefill
}

func TestRegistryUpdate(t *testing.T) {
	reg := NewRegistry(testOptions())
	var heard [][2]int
	reg.OnChange(func(added, removed []*Endpoint) { heard = append(heard, [2]int{len(added), len(removed)}) })

	reg.Update([]Spec{
		mkSpec("p", "h:1", RolePrefill, "m"), mkSpec("d", "h:2", RoleDecode, "m"), mkSpec("x", "h:3", RoleBoth, "other"),
	})
	snap := reg.Snapshot()
	serving, prefill := poolNames(snap.Pool("m"))
	if diff := cmp.Diff([]string{"d"}, serving); diff != "" || !snap.Pool("m").Disaggregated {
		t.Errorf("serving (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p"}, prefill); diff != "" {
		t.Errorf("prefill (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"m", "other"}, snap.Models()); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(snap.ModelsJSON), `"id":"other"`) {
		t.Errorf("models JSON %s", snap.ModelsJSON)
	}

	// An unchanged endpoint keeps its state; a changed one is new.
	d := snap.Endpoint("d")
	d.InFlight.Store(7)
	reg.Update([]Spec{mkSpec("d", "h:2", RoleDecode, "m"), mkSpec("x", "h:4", RoleBoth, "other")})
	snap2 := reg.Snapshot()
	if snap2.Endpoint("d") != d || d.InFlight.Load() != 7 {
		t.Error("unchanged endpoint lost its state")
	}
	if snap2.Endpoint("x") == snap.Endpoint("x") {
		t.Error("an endpoint whose address changed kept its old state")
	}
	if !snap.Endpoint("p").Removed() || snap2.Endpoint("p") != nil {
		t.Error("removed endpoint still present")
	}
	if diff := cmp.Diff([][2]int{{3, 0}, {1, 2}}, heard); diff != "" {
		t.Errorf("listener heard (-want +got):\n%s", diff)
	}
	// Only prefill endpoints left: they serve whole requests.
	reg.Update([]Spec{mkSpec("p", "h:1", RolePrefill, "m")})
	serving, _ = poolNames(reg.Snapshot().Pool("m"))
	if diff := cmp.Diff([]string{"p"}, serving); diff != "" {
		t.Errorf("prefill-only serving (-want +got):\n%s", diff)
	}
}

func TestParseMetrics(t *testing.T) {
	vllm, err := os.ReadFile("../promtext/testdata/vllm.txt")
	if err != nil {
		t.Fatal(err)
	}
	sglang := `# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{model_name="m"} 4
sglang:num_running_reqs{model_name="m"} 9
sglang:token_usage{model_name="m"} 0.5
sglang:max_total_num_tokens{model_name="m"} 161721
`
	old := "vllm:num_requests_waiting{model_name=\"m\"} 1\nvllm:gpu_cache_usage_perc{model_name=\"m\"} 0.3\n"
	cases := []struct {
		name      string
		text      string
		want      EngineMetrics
		wantFound bool
	}{
		{"vllm", string(vllm), EngineMetrics{CacheTokens: 27000 * 16, BlockTokens: 16}, true},
		{"sglang", sglang, EngineMetrics{Waiting: 4, Running: 9, KVUsage: 0.5, CacheTokens: 161721, BlockTokens: 1}, true},
		{"older vllm", old, EngineMetrics{Waiting: 1, KVUsage: 0.3}, true},
		{"two models are summed", "vllm:num_requests_running{model_name=\"a\"} 2\nvllm:num_requests_running{model_name=\"b\"} 3\n",
			EngineMetrics{Running: 5}, true},
		{"not an engine", "up 1\n", EngineMetrics{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, found := ParseMetrics([]byte(tc.text))
			if diff := cmp.Diff(tc.want, got); diff != "" || found != tc.wantFound {
				t.Errorf("found %v (-want +got):\n%s", found, diff)
			}
		})
	}
}

func BenchmarkParseMetrics(b *testing.B) {
	text, err := os.ReadFile("../promtext/testdata/vllm.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, found := ParseMetrics(text); !found {
			b.Fatal("no load metrics")
		}
	}
}

// The scraper reads a real simulated engine: its load, its cache size
// (which sizes the prefix index), and, when discovery named no models, the
// engine's model list.
func TestScraperAgainstEngine(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Listen, cfg.TimeScale, cfg.Engine.Model, cfg.Engine.NumBlocks = "127.0.0.1:0", 0, "m", 1000
	eng, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := NewRegistry(testOptions())
	reg.Update([]Spec{mkSpec("e", eng.Addr(), RoleBoth)}) // no models: ask the engine
	s := NewScraper(reg, http.DefaultClient, ScrapeConfig{Interval: 10 * time.Millisecond, Timeout: time.Second})
	var scrapes, failures int
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	s.OnScrape = func(_ *Endpoint, err error) {
		if err != nil {
			failures++
		}
		scrapes++
	}
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for reg.Snapshot().Pool("m") == nil {
		if time.Now().After(deadline) {
			t.Fatal("the engine's model never appeared")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e := reg.Snapshot().Endpoint("e")
	m, fresh := e.Engine(time.Now(), time.Minute)
	if !fresh || m.CacheTokens != 16000 {
		t.Errorf("engine metrics %+v fresh %v, want 16,000 cache tokens", m, fresh)
	}
	// 16,000 tokens at 4 bytes a token in 64-byte blocks: 1,000 blocks
	// (the index started with 100).
	hashes := make([]uint64, 2000)
	for i := range hashes {
		hashes[i] = uint64(i + 1)
	}
	e.Index.Insert(hashes)
	if n := e.Index.Len(); n != 1000 {
		t.Errorf("index holds %d blocks, want the engine's 1,000", n)
	}
	cancel()
	<-done
	if failures > 0 {
		t.Errorf("%d of %d scrapes failed", failures, scrapes)
	}
}

func TestRate(t *testing.T) {
	r := NewRate(10000)
	if got := r.TokensPerSecond(); got != 10000 {
		t.Fatalf("prior %g", got)
	}
	for range 200 {
		r.Observe(4000, 1) // an endpoint twice as slow as the prior
	}
	if got := r.TokensPerSecond(); got < 3900 || got > 4100 {
		t.Errorf("learned %g tokens/s, want about 4000", got)
	}
	r.Observe(100, 0) // ignored
	if r.Observations() != 200 {
		t.Errorf("observations %d", r.Observations())
	}
}
