package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tandem-serving/tandem/benchmarks/sim"
)

// The harness writes text by its own guess of bytes per token; the
// engine's /tokenize (tandem-sim here, in vLLM's format) says what it
// comes to. The two agree within near's tolerance for every style, and
// the sizes of tokens vary with the kind of text as real text's do.
func TestTextAgainstEngineTokenizer(t *testing.T) {
	c := sim.DefaultConfig()
	c.Listen, c.TimeScale = "127.0.0.1:0", 0
	e, err := sim.Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	hc := &http.Client{}
	model := c.Engine.Model
	cases := []struct {
		style              Style
		minBytes, maxBytes float64 // bytes per token over all the texts
	}{
		{Prose, 3.8, 5},
		{Code, 2.4, 3.2},
		{Records, 2.1, 2.9},
	}
	for _, tc := range cases {
		var bytes, tokens int
		for i, n := range []int{20, 200, 2000} {
			text := Text(n, tc.style, 5, uint64(i))
			toks, err := Tokenize(context.Background(), hc, e.URL(), APICompletions, model, []Message{{Role: "user", Content: text}})
			if err != nil {
				t.Fatal(err)
			}
			if !near(len(toks), n) {
				t.Errorf("style %d: text written for %d tokens is %d", tc.style, n, len(toks))
			}
			bytes += len(text)
			tokens += len(toks)
		}
		got := float64(bytes) / float64(tokens)
		if got < tc.minBytes || got > tc.maxBytes {
			t.Errorf("style %d: %.2f bytes per token, want %.1f to %.1f", tc.style, got, tc.minBytes, tc.maxBytes)
		}
		t.Logf("style %d: %.2f bytes per token", tc.style, got)
	}
	// Chat messages go through the engine's template: more tokens than
	// the text alone.
	msgs := []Message{{Role: "user", Content: "hello there"}}
	chat, err := Tokenize(context.Background(), hc, e.URL(), APIChat, model, msgs)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Tokenize(context.Background(), hc, e.URL(), APICompletions, model, msgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(chat) <= len(plain) {
		t.Errorf("chat %d tokens, plain %d: the template was not applied", len(chat), len(plain))
	}
	if _, err := Tokenize(context.Background(), hc, e.URL(), APIChat, "no-such-model", msgs); err == nil {
		t.Error("a wrong model name was tokenized")
	}
}

// A target that cannot tokenize (a router) costs the oracle, not the run,
// unless engines were named to ask instead.
func TestNoOracleWithoutATokenizer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	reqs, err := DefaultSpec(Random).Generate()
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: Config{Model: "m", API: APIChat}, reqs: reqs[:2], oracles: map[[2]int]OracleResult{}}
	if err := r.prepare(context.Background(), Fleet{Targets: []string{srv.URL}}); err != nil || !r.noOracle {
		t.Fatalf("router only: %v, no oracle %v; want the run to go on without one", err, r.noOracle)
	}
	if o := r.oracle(EngineMetrics{}, nil); o.PromptTokens != 0 {
		t.Errorf("oracle %+v, want none", o)
	}
	r = &runner{cfg: Config{Model: "m", API: APIChat}, reqs: reqs[:2], oracles: map[[2]int]OracleResult{}}
	if err := r.prepare(context.Background(), Fleet{Targets: []string{srv.URL}, Engines: []string{srv.URL}}); err == nil {
		t.Error("named engines that cannot tokenize: want an error")
	}
}
