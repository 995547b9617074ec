package load

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// simFleet starts two fresh in-process engines per run, 100× faster than
// the modelled GPU.
func simFleet(t *testing.T) func(context.Context) (Fleet, error) {
	return func(ctx context.Context) (Fleet, error) {
		c := sim.DefaultConfig()
		c.TimeScale = 0.01
		engines, err := sim.StartMany(ctx, c, []string{"127.0.0.1:0", "127.0.0.1:0"})
		if err != nil {
			return Fleet{}, err
		}
		urls := []string{engines[0].URL(), engines[1].URL()}
		return Fleet{Targets: urls, Engines: urls, Close: func() {
			for _, e := range engines {
				e.Close()
			}
		}}, nil
	}
}

func runBench(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg.NewFleet, cfg.Timeout, cfg.ResetCache = simFleet(t), 30*time.Second, true
	if cfg.Reps == 0 {
		cfg.Reps = 1
	}
	rep, err := Run(ctx, cfg, Env{Command: "test", Cores: 2, Seed: cfg.Workload.Seed})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkCounts holds for any run on the simulator: every request succeeds
// with at most max_tokens (exactly, with fixed outputs), one gap between
// each two tokens, the engines were asked about exactly the prompt tokens
// the oracle counted (same tokenizer, same template), and no engine hit
// more than the infinite-cache oracle allows.
func checkCounts(t *testing.T, s RunSummary, w Spec) {
	t.Helper()
	if s.OK != s.Requests || len(s.Errors) > 0 {
		t.Errorf("%s: %d/%d ok, errors %v", s.Policy, s.OK, s.Requests, s.Errors)
	}
	if s.TTFT.N != s.OK || s.ITL.N != s.OutputTokens-s.OK {
		t.Errorf("%s: %d TTFTs and %d gaps for %d requests of %d tokens in all", s.Policy, s.TTFT.N, s.ITL.N, s.OK, s.OutputTokens)
	}
	if w.FixedOutput && s.OutputTokens != s.OK*w.OutputTokens || s.OutputTokens > s.OK*w.OutputTokens {
		t.Errorf("%s: %d tokens from %d requests of max_tokens %d (fixed %v)", s.Policy, s.OutputTokens, s.OK, w.OutputTokens, w.FixedOutput)
	}
	if int64(s.Engines.PrefixQueries) != s.Oracle.PromptTokens {
		t.Errorf("%s: engines queried %v prompt tokens, oracle counted %d", s.Policy, s.Engines.PrefixQueries, s.Oracle.PromptTokens)
	}
	if int64(s.Engines.PrefixHits) > s.Oracle.InfiniteHits {
		t.Errorf("%s: engines hit %v tokens, more than the oracle's %d", s.Policy, s.Engines.PrefixHits, s.Oracle.InfiniteHits)
	}
	if s.Oracle.CapacityBlocks != 2*27000 {
		t.Errorf("oracle capacity %d blocks, want the two engines' 54000", s.Oracle.CapacityBlocks)
	}
}

// One request at a time, so every hit is decided: sticky routing keeps each
// group on one engine and so reaches the oracle exactly; random routing
// pays a first miss per group on each engine.
func TestLoadAgainstSimulatedEngines(t *testing.T) {
	w := DefaultSpec(Shared)
	w.Groups, w.Users, w.SystemTokens, w.QuestionTokens, w.OutputTokens, w.Requests = 4, 4, 160, 8, 4, 32
	w.FixedOutput = true
	rep := runBench(t, Config{
		Workload: w, API: APICompletions, Policies: []string{PolicyRandom, PolicySticky},
		Arrival: Arrival{Kind: Concurrency, Concurrency: 1},
	})
	if len(rep.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(rep.Runs))
	}
	random, sticky := rep.Runs[0], rep.Runs[1]
	for _, s := range rep.Runs {
		checkCounts(t, s, w)
	}
	if int64(sticky.Engines.PrefixHits) != sticky.Oracle.InfiniteHits {
		t.Errorf("sticky hit %v tokens, want the oracle's %d", sticky.Engines.PrefixHits, sticky.Oracle.InfiniteHits)
	}
	if random.Engines.PrefixHits >= sticky.Engines.PrefixHits {
		t.Errorf("random hit %v tokens, sticky %v: want fewer for random", random.Engines.PrefixHits, sticky.Engines.PrefixHits)
	}
	if len(rep.Ratios) == 0 || rep.Ratios[0].Policy != PolicySticky {
		t.Errorf("ratios %+v, want sticky against random", rep.Ratios)
	}
	checkOutputs(t, rep)
}

// Multi-turn chat in an open loop: turns wait for each other, and the
// counts still match the oracle's.
func TestLoadChatOpenLoop(t *testing.T) {
	w := DefaultSpec(Chat)
	w.Conversations, w.Turns, w.SystemTokens, w.QuestionTokens, w.OutputTokens, w.Requests = 4, 3, 64, 8, 40, 24
	rep := runBench(t, Config{
		Workload: w, API: APIChat, Policies: []string{PolicyRoundRobin},
		Arrival: Arrival{Kind: Poisson, Steps: []RateStep{{Rate: 200}}},
	})
	s := rep.Runs[0]
	checkCounts(t, s, w)
	// The engines end answers on their own: a mean of about 0.27 ×
	// max_tokens, 10.8 tokens here; far below 40 whatever the 24 draws.
	if mean := float64(s.OutputTokens) / float64(s.OK); mean > 0.6*float64(w.OutputTokens) || mean < 2 {
		t.Errorf("mean output %.1f tokens of max_tokens %d: want answers that end on their own", mean, w.OutputTokens)
	}
	if s.PerTarget[0]+s.PerTarget[1] != w.Requests || s.PerTarget[0] != w.Requests/2 {
		t.Errorf("round-robin spread %v", s.PerTarget)
	}
	if !(float64(s.HitRate) > 0) {
		t.Errorf("hit rate %v: later turns must hit their history", s.HitRate)
	}
}

func TestSweepFindsAKneePerPolicy(t *testing.T) {
	w := DefaultSpec(Random)
	w.InputTokens, w.OutputTokens, w.Requests = 32, 2, 12
	rep := runBench(t, Config{
		Workload: w, API: APICompletions, Policies: []string{PolicyRoundRobin, PolicyRandom},
		SweepRates: []float64{100, 400}, TTFTBound: time.Minute,
	})
	if len(rep.Runs) != 4 || len(rep.Knees) != 2 {
		t.Fatalf("%d runs and %d knees, want 4 and 2", len(rep.Runs), len(rep.Knees))
	}
	for _, k := range rep.Knees {
		if k.Censored != "above" { // nothing comes near a minute
			t.Errorf("knee %+v: want censored above", k)
		}
	}
	checkOutputs(t, rep)
}

// checkOutputs renders the report every way: tables, CSV, JSON.
func checkOutputs(t *testing.T, rep *Report) {
	t.Helper()
	var out bytes.Buffer
	if err := rep.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"median of repetitions", "TTFT p90 ms", "hit rate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("tables lack %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := rep.WriteCSV(&out); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != len(rep.Runs)+1 {
		t.Errorf("CSV: %d rows (%v), want a header and %d runs", len(rows), err, len(rep.Runs))
	}
	out.Reset()
	if err := rep.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Errorf("JSON does not parse: %v", err)
	}
}

// The held-out workloads run end to end on the simulator: every request
// succeeds (tool messages and all), and the engines count exactly the
// prompt tokens the oracle learned from their /tokenize.
func TestHeldOutWorkloadsRun(t *testing.T) {
	agentic := DefaultSpec(Agentic)
	agentic.Requests, agentic.Conversations, agentic.Turns, agentic.ToolTokens, agentic.SystemTokens = 24, 3, 8, 200, 300
	rag := DefaultSpec(RAG)
	rag.Requests, rag.Groups, rag.SystemTokens = 24, 8, 300
	trace := DefaultSpec(Trace)
	trace.Requests = 24
	for _, w := range []Spec{agentic, rag, trace} {
		t.Run(w.Kind, func(t *testing.T) {
			rep := runBench(t, Config{
				Workload: w, API: APIChat, Policies: []string{PolicySticky},
				Arrival: Arrival{Kind: Concurrency, Concurrency: 4},
			})
			s := rep.Runs[0]
			checkCounts(t, s, w)
			if !(float64(s.HitRate) > 0) {
				t.Errorf("hit rate %v: these workloads share prefixes", s.HitRate)
			}
		})
	}
}
