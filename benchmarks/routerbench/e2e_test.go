package routerbench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// fakeRouterEnv makes the test binary act as a stand-in for tandem-router:
// it reads the generated config and endpoints file, proxies round-robin
// and exposes the gauges the benchmarks wait on. The benchmarks' process
// handling, readiness wait and measurements are tested against it without
// depending on the router under construction.
const fakeRouterEnv = "ROUTERBENCH_FAKE_ROUTER"

func TestMain(m *testing.M) {
	switch os.Getenv(fakeRouterEnv) {
	case "exit": // a router that fails at once
		fmt.Fprintln(os.Stderr, "fake router: failing on purpose")
		os.Exit(3)
	case "1":
		if err := fakeRouter(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake router:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeRouter(args []string) error {
	fs := flag.NewFlagSet("fake-router", flag.ContinueOnError)
	configPath := fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var cfg struct {
		Listen    string `json:"listen"`
		Policy    string `json:"policy"`
		Discovery struct {
			Static struct {
				File string `json:"file"`
			} `json:"static"`
		} `json:"discovery"`
		KVEvents struct {
			Enabled bool `json:"enabled"`
		} `json:"kvEvents"`
	}
	data, err := os.ReadFile(*configPath)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return err
	}
	var eps struct {
		Endpoints []struct {
			Address      string `json:"address"`
			KVEventsPort int    `json:"kvEventsPort"`
		} `json:"endpoints"`
	}
	if data, err = os.ReadFile(cfg.Discovery.Static.File); err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, &eps); err != nil {
		return err
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next, picks atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		picks.Add(1)
		e := eps.Endpoints[(next.Add(1)-1)%uint64(len(eps.Endpoints))]
		out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+e.Address+r.URL.Path, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := hc.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if err != nil {
				if err != io.EOF {
					fmt.Fprintln(os.Stderr, "relay:", err)
				}
				return
			}
		}
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		for _, e := range eps.Endpoints {
			fmt.Fprintf(w, "tandem_router_endpoint_metrics_fresh{endpoint=%q} 1\n", e.Address)
		}
		fmt.Fprintf(w, "tandem_router_picks_total{policy=%q,reason=\"round-robin\"} %d\n", cfg.Policy, picks.Load())
		// Exact mode: an index is "exact" once the endpoint's KV events
		// port, as the endpoints file names it, accepts a connection.
		for _, e := range eps.Endpoints {
			if !cfg.KVEvents.Enabled {
				break
			}
			host, _, _ := net.SplitHostPort(e.Address)
			up := 0
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(e.KVEventsPort)), time.Second); err == nil && e.KVEventsPort > 0 {
				c.Close()
				up = 1
			}
			fmt.Fprintf(w, "tandem_router_kv_index_state{endpoint=%q,state=\"exact\"} %d\n", e.Address, up)
		}
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	return http.Serve(ln, mux)
}

// fakeRouterBin is the test binary, told by the environment (inherited by
// the child) to act as a router.
func fakeRouterBin(t *testing.T) string {
	t.Helper()
	t.Setenv(fakeRouterEnv, "1")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestRunOverheadThroughFakeRouter(t *testing.T) {
	cfg := OverheadConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"round-robin"}, Engine: EngineStub, Engines: 2,
		Delays: []time.Duration{0, time.Millisecond}, Streams: []bool{false, true}, Concurrency: 4, Warmup: 20 * time.Millisecond, Window: 400 * time.Millisecond, // a loaded machine must still finish some in a window
		Reps: 2, PromptBytes: 64, MaxTokens: 2, Prompts: 4, Seed: 1, Dir: t.TempDir(),
	}
	runs, err := RunOverhead(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, r := range runs {
		modes = append(modes, fmt.Sprintf("%s/%s/%d", r.Case, r.Mode, r.Rep))
		if r.OK == 0 || len(r.Errors) > 0 {
			t.Errorf("%s %s rep %d: %d ok, errors %v; want successes only", r.Case, r.Mode, r.Rep, r.OK, r.Errors)
		}
		routed := r.Mode != ModeDirect
		if routed == isNaN(r.RouterRSSMB) || routed && !(r.RouterRSSMB > 0) {
			t.Errorf("%s %s: router RSS %v; want a figure exactly for router runs", r.Case, r.Mode, r.RouterRSSMB)
		}
	}
	var want []string
	for _, c := range []string{"trivial engines", "trivial engines, streaming", "engines +1ms", "engines +1ms, streaming"} {
		for rep := 1; rep <= 2; rep++ {
			want = append(want, fmt.Sprintf("%s/direct/%d", c, rep), fmt.Sprintf("%s/router/round-robin/%d", c, rep))
		}
	}
	if diff := cmp.Diff(want, modes); diff != "" {
		t.Errorf("runs in order, want alternating within each repetition (-want +got):\n%s", diff)
	}
}

func TestRunOverheadSimEngines(t *testing.T) {
	cfg := OverheadConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"tandem"}, Engine: EngineSim, Engines: 2,
		Delays: []time.Duration{2 * time.Millisecond}, Streams: []bool{false, true}, Concurrency: 4, Warmup: 20 * time.Millisecond, Window: 400 * time.Millisecond, // a loaded machine must still finish some in a window
		Reps: 1, PromptBytes: 64, MaxTokens: 2, Prompts: 4, Seed: 1, Dir: t.TempDir(),
	}
	runs, err := RunOverhead(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.OK == 0 || len(r.Errors) > 0 {
			t.Errorf("%s: %d ok, errors %v", r.Mode, r.OK, r.Errors)
		}
		// The injected 2 ms delay is a floor on every latency, however
		// fast or slow the machine is.
		if !(r.P50 >= 2) {
			t.Errorf("%s: p50 %v ms, want at least the engines' 2 ms delay", r.Mode, r.P50)
		}
	}
}

func TestRunPoliciesThroughFakeRouter(t *testing.T) {
	spec := load.DefaultSpec(load.Shared)
	spec.Requests, spec.Groups, spec.Users, spec.SystemTokens, spec.QuestionTokens, spec.OutputTokens = 24, 2, 3, 64, 8, 4
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	cfg := PoliciesConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"random", "tandem"}, Workloads: []load.Spec{spec},
		Arrival: load.Arrival{Kind: load.Concurrency, Concurrency: 4}, Reps: 2, Engines: 2, Sim: simCfg,
		Timeout: 30 * time.Second, Dir: t.TempDir(),
	}
	results, err := RunPolicies(context.Background(), cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 {
		t.Fatalf("want one workload's result, got %d", len(results))
	}
	res := results[0]
	var order []string
	for i, r := range res.Report.Runs {
		order = append(order, fmt.Sprintf("%s/%d", r.Policy, r.Rep))
		if r.OK != spec.Requests {
			t.Errorf("%s rep %d: %d of %d ok (errors %v)", r.Policy, r.Rep, r.OK, spec.Requests, r.Errors)
		}
		if !(r.HitRate > 0) || !(r.Oracle.Infinite > 0) {
			t.Errorf("%s rep %d: hit rate %v, oracle %v; want both measured", r.Policy, r.Rep, r.HitRate, r.Oracle.Infinite)
		}
		rr := res.Routers[i]
		if rr.Policy != r.Policy || rr.Rep != r.Rep || rr.Metrics.Picks["round-robin"] != float64(spec.Requests) {
			t.Errorf("router figures of run %d: %+v; want policy %s rep %d and %d picks", i, rr, r.Policy, r.Rep, spec.Requests)
		}
	}
	if got, want := strings.Join(order, " "), "random/1 tandem/1 random/2 tandem/2"; got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if len(res.Report.Ratios) == 0 {
		t.Error("want ratios to the first policy")
	}
}

func TestRunPoliciesSweepAlternates(t *testing.T) {
	spec := load.DefaultSpec(load.Random)
	spec.Requests, spec.InputTokens, spec.OutputTokens = 8, 32, 2
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	cfg := PoliciesConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"random", "tandem"}, Workloads: []load.Spec{spec},
		SweepRates: []float64{200, 400}, TTFTBound: time.Second, Reps: 1, Engines: 1, Sim: simCfg,
		Timeout: 30 * time.Second, Dir: t.TempDir(),
	}
	results, err := RunPolicies(context.Background(), cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	rep := results[0].Report
	// Both policies see the same arrivals at a rate (the offered rate is
	// the schedule's mean, the same for both), the lower rate first.
	var order []string
	for _, r := range rep.Runs {
		order = append(order, r.Policy)
	}
	runs := rep.Runs
	if got, want := strings.Join(order, " "), "random tandem random tandem"; got != want ||
		runs[0].Rate != runs[1].Rate || runs[2].Rate != runs[3].Rate || !(runs[0].Rate < runs[2].Rate) {
		t.Errorf("runs %s at rates %v %v %v %v; want policies alternating at each rate, lower rate first",
			got, runs[0].Rate, runs[1].Rate, runs[2].Rate, runs[3].Rate)
	}
	if len(rep.Knees) != 2 || rep.Knees[0].Policy != "random" || rep.Knees[1].Policy != "tandem" {
		t.Errorf("want a knee per policy and repetition, got %+v", rep.Knees)
	}
}

// The tandem-exact profile: engines publish KV events for every policy,
// the endpoints file names their ports, the exact router's runs wait for
// its indexes, and --sweep-for sizes each rate's runs.
func TestRunPoliciesExactProfile(t *testing.T) {
	spec := load.DefaultSpec(load.Shared)
	spec.Requests, spec.Groups, spec.Users, spec.SystemTokens, spec.QuestionTokens, spec.OutputTokens = 1000, 2, 3, 64, 8, 4
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	simCfg.KVEventsEndpoint = "tcp://127.0.0.1:0"
	_, variants, err := ParsePolicies([]string{"tandem", "tandem-exact"}, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := PoliciesConfig{
		RouterBin: fakeRouterBin(t), Policies: []string{"tandem", "tandem-exact"}, RouterVariants: variants, Workloads: []load.Spec{spec},
		SweepRates: []float64{100}, SweepFor: 200 * time.Millisecond, TTFTBound: time.Second, Reps: 1, Engines: 2, Sim: simCfg,
		Timeout: 30 * time.Second, Dir: t.TempDir(), KVEventsWait: 5 * time.Second,
	}
	results, err := RunPolicies(context.Background(), cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results[0].Report.Runs {
		if r.Requests != 20 || r.OK != 20 {
			t.Errorf("%s: %d requests, %d ok; want 100 req/s × 200 ms = 20, all ok", r.Policy, r.Requests, r.OK)
		}
	}
	for _, rr := range results[0].Routers {
		if want := map[string]int{"tandem": 0, "tandem-exact": 2}[rr.Policy]; rr.Metrics.Exact != want {
			t.Errorf("%s: %d exact indexes at the end of the run, want %d", rr.Policy, rr.Metrics.Exact, want)
		}
	}

	// Engines without KV events: the exact router never gets its indexes.
	cfg.Sim.KVEventsEndpoint, cfg.Policies, cfg.KVEventsWait = "", []string{"tandem-exact"}, 300*time.Millisecond
	if _, err := RunPolicies(context.Background(), cfg, load.Env{Command: "test"}); err == nil ||
		!strings.Contains(err.Error(), "0 of 2 endpoints' exact indexes trusted") {
		t.Errorf("exact router, engines without KV events: error %v, want the wait to fail clearly", err)
	}
}

func TestStartRouterFailsClearly(t *testing.T) {
	t.Setenv(fakeRouterEnv, "exit")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartRouter(context.Background(), RouterSpec{Bin: bin, Dir: t.TempDir(), Policy: "tandem", Model: "m",
		Engines: []string{"127.0.0.1:1"}, ReadyTimeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "failing on purpose") {
		t.Errorf("error %v, want one saying the router exited, with its log", err)
	}
	if _, err := FindRouterBin(t.TempDir() + "/no-such-router"); err == nil || !strings.Contains(err.Error(), "go build -o bin/ ./cmd/tandem-router") {
		t.Errorf("missing binary: error %v, want one saying how to build it", err)
	}
}

func isNaN(v load.Num) bool { return math.IsNaN(float64(v)) }
