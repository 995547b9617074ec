package simbench

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// prompts are n unique prompts of the given length, as the benchmark sends
// them.
func prompts(t *testing.T, n, tokens int, seed uint64) [][]uint32 {
	t.Helper()
	_, p, err := workload(n, tokens, 1, seed)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range p {
		if len(q) != tokens {
			t.Fatalf("a prompt of %d words is %d tokens, want %d", tokens, len(q), tokens)
		}
	}
	return p
}

// The closed form against the figures engine/doc.go derives by hand.
func TestIdleTTFTFigures(t *testing.T) {
	p := engine.DefaultParams()
	cases := []struct {
		name   string
		tokens int
		want   time.Duration
		steps  int
	}{
		// 7.4 ms + 1,000 × 30 µs + 1,000 × 49 ns
		{"1,000 tokens: doc.go's 37 ms", 1000, 37449 * time.Microsecond, 1},
		// 7.4 ms + 8,192 × 30 µs + 8,192 × 49 ns
		{"8,192 tokens: doc.go's 253 ms, one full step", 8192, 253561408 * time.Nanosecond, 1},
		// two chunks: the second re-reads the first's KV (16,384 × 49 ns)
		{"16,384 tokens: two steps", 16384, 2*(7400*time.Microsecond+8192*30*time.Microsecond) + (8192+16384)*49*time.Nanosecond, 2},
		{"one token", 1, 7400*time.Microsecond + 30*time.Microsecond + 49*time.Nanosecond, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, steps := IdleTTFT(p, c.tokens)
			if got != c.want || steps != c.steps {
				t.Errorf("IdleTTFT(%d) = %v in %d steps, want %v in %d", c.tokens, got, steps, c.want, c.steps)
			}
		})
	}
}

// The closed form is what the engine's scheduler does: one request on an
// idle core gets its first token exactly then, with the default budget and
// a small one that chunks short prompts.
func TestIdleTTFTMatchesScheduler(t *testing.T) {
	small := engine.DefaultParams()
	small.MaxBatchedTokens = 100
	for name, p := range map[string]engine.Params{"default": engine.DefaultParams(), "budget 100": small} {
		for _, n := range []int{1, 99, 100, 101, 1000, 8193, 20000} {
			want, _ := IdleTTFT(p, n)
			run, err := ClosedLoop(p, prompts(t, 1, n, uint64(n)), 1, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := run.Span; got != want {
				t.Errorf("%s, %d tokens: scheduler %v, closed form %v", name, n, got, want)
			}
		}
	}
}

// The model reproduces the one published GPU measurement it was calibrated
// on: vLLM's CI latency benchmark, 997.5 ms on H100.
func TestClosedLoopReproducesCILatency(t *testing.T) {
	run, err := ClosedLoop(engine.DefaultParams(), prompts(t, ciBatch, ciInput, 1), ciOutput, ciBatch, ClientTurnaround)
	if err != nil {
		t.Fatal(err)
	}
	if got := ms(run.Span); math.Abs(got-997.5)/997.5 > 0.01 {
		t.Errorf("batch of 8 × (32 in, 128 out): %.1f ms, want within 1%% of 997.5", got)
	}
	// One prefill step for all eight, then 127 decode steps.
	if run.Steps != ciOutput {
		t.Errorf("%d steps, want %d", run.Steps, ciOutput)
	}
}

func TestClosedLoopCounts(t *testing.T) {
	const n, out = 10, 5
	for _, turnaround := range []time.Duration{0, ClientTurnaround, 50 * time.Millisecond} {
		for _, c := range []int{1, 3, 10, 20} {
			run, err := ClosedLoop(engine.DefaultParams(), prompts(t, n, 40, 2), out, c, turnaround)
			if err != nil {
				t.Fatal(err)
			}
			got := [4]int{run.OutputTokens, run.TTFT.N, run.ITL.N, run.E2E.N}
			if diff := cmp.Diff([4]int{n * out, n, n * (out - 1), n}, got); diff != "" {
				t.Errorf("turnaround %v, concurrency %d: tokens, TTFTs, gaps, ends (-want +got):\n%s", turnaround, c, diff)
			}
			if c > 1 {
				continue
			}
			// One at a time: each request waits out its predecessor's turnaround.
			want := run.E2E.Mean*n + ms(turnaround)*(n-1)
			if math.Abs(want-ms(run.Span)) > 1e-6 {
				t.Errorf("turnaround %v, concurrency 1: span %v ms, want %v", turnaround, ms(run.Span), want)
			}
		}
	}
	// More in flight finish sooner: the batch shares each step's overhead.
	one, _ := ClosedLoop(engine.DefaultParams(), prompts(t, n, 40, 2), out, 1, 0)
	all, _ := ClosedLoop(engine.DefaultParams(), prompts(t, n, 40, 2), out, n, 0)
	if !(all.OutputRate() > 2*one.OutputRate()) {
		t.Errorf("%d in flight: %.0f tokens/s, one at a time %.0f: want more than twice", n, all.OutputRate(), one.OutputRate())
	}
}

// A successor that arrives any time after its predecessor ended misses the
// step that starts at that instant. With a 16-token budget, prompts of 4
// and 20 tokens share the first step (4 + 12); the 8-token third prompt
// joins the second step (with the 8 left of the 20) only if it arrives at
// once.
func TestClosedLoopTurnaround(t *testing.T) {
	p := engine.DefaultParams()
	p.MaxBatchedTokens = 16
	mk := func(n int) []uint32 {
		q := make([]uint32, n)
		for i := range q {
			q[i] = uint32(1000*n + i)
		}
		return q
	}
	in := [][]uint32{mk(4), mk(20), mk(8)}
	step := func(prefill, context int) time.Duration {
		return p.Cost.StepTime(engine.Shape{PrefillTokens: prefill, ContextTokens: context})
	}
	cases := []struct {
		turnaround time.Duration
		steps      int
		span       time.Duration
	}{
		{0, 2, step(16, 4+12) + step(16, 20+8)},
		{ClientTurnaround, 3, step(16, 4+12) + step(8, 20) + step(8, 8)},
	}
	for _, c := range cases {
		run, err := ClosedLoop(p, in, 1, 2, c.turnaround)
		if err != nil {
			t.Fatal(err)
		}
		if run.Steps != c.steps || run.Span != c.span {
			t.Errorf("turnaround %v: %d steps, span %v; want %d, %v", c.turnaround, run.Steps, run.Span, c.steps, c.span)
		}
	}
}

func TestClosedLoopRejects(t *testing.T) {
	p := engine.DefaultParams()
	if _, err := ClosedLoop(p, nil, 1, 1, 0); err == nil {
		t.Error("no prompts: no error")
	}
	if _, err := ClosedLoop(p, [][]uint32{{1}}, 0, 1, 0); err == nil {
		t.Error("max tokens 0: no error")
	}
	if _, err := ClosedLoop(p, [][]uint32{{1}}, 1, 1, -time.Millisecond); err == nil {
		t.Error("negative turnaround: no error")
	}
	p.MaxModelLen = 10
	if _, err := ClosedLoop(p, [][]uint32{make([]uint32, 20)}, 1, 1, 0); err == nil {
		t.Error("a prompt past the model length: no error")
	}
}
