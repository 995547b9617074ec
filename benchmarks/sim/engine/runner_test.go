package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

type countingObserver struct {
	mu                     sync.Mutex
	first, inter, finished int
}

func (o *countingObserver) FirstToken(time.Duration) { o.mu.Lock(); o.first++; o.mu.Unlock() }
func (o *countingObserver) InterToken(time.Duration) { o.mu.Lock(); o.inter++; o.mu.Unlock() }
func (o *countingObserver) Finished(time.Duration)   { o.mu.Lock(); o.finished++; o.mu.Unlock() }

func waitDone(t *testing.T, h *Handle) (tokensSeen []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	have := 0
	for {
		n, done, err := h.Wait(ctx, have)
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		if n > have {
			tokensSeen = append(tokensSeen, n)
			have = n
		}
		if done {
			return tokensSeen
		}
	}
}

func TestEngineRunsRequests(t *testing.T) {
	obs := &countingObserver{}
	e, err := Start(context.Background(), smallParams(), 0, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()

	shared := prompt(8, 0, 0)
	h1, err := e.Submit(Request{Prompt: append(shared, 100, 101), MaxTokens: 5, OutputSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	seen := waitDone(t, h1)
	if seen[len(seen)-1] != 5 {
		t.Errorf("generated %v, want to reach 5", seen)
	}
	h2, err := e.Submit(Request{Prompt: append(shared, 200), MaxTokens: 3, OutputSeed: 7})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, h2)

	got := []Result{h1.Result(), h2.Result()}
	for i := range got {
		got[i].Blocks = nil
	}
	want := []Result{
		{PromptTokens: 10, CompletionTokens: 5, CachedTokens: 0},
		{PromptTokens: 9, CompletionTokens: 3, CachedTokens: 8},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	obs.mu.Lock()
	counts := []int{obs.first, obs.inter, obs.finished}
	obs.mu.Unlock()
	if diff := cmp.Diff([]int{2, 4 + 2, 2}, counts); diff != "" {
		t.Errorf("observer first/inter/finished (-want +got):\n%s", diff)
	}
	snap := e.Snapshot()
	if snap.Running != 0 || snap.Waiting != 0 || snap.KVUsage != 0 || snap.Stats.PrefixHits != 8 {
		t.Errorf("snapshot after both finished: %+v", snap)
	}
}

func TestEngineCancelFreesMemory(t *testing.T) {
	p := smallParams()
	p.Cost.StepOverhead = time.Millisecond
	e, err := Start(context.Background(), p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	h, err := e.Submit(Request{Prompt: prompt(0, 20, 1), MaxTokens: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := h.Wait(ctx, 0); err != nil {
		t.Fatal(err)
	}
	h.Cancel()
	for e.Snapshot().Running != 0 || e.Snapshot().KVUsage != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("cancelled request still holds memory: %+v", e.Snapshot())
		case <-time.After(time.Millisecond):
		}
	}
}

func TestEngineStopFailsPendingRequests(t *testing.T) {
	p := smallParams()
	p.Cost.StepOverhead = time.Hour // the first step never ends by itself
	e, err := Start(context.Background(), p, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.Submit(Request{Prompt: prompt(0, 4, 1), MaxTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, done, err := h.Wait(ctx, 0); err != nil || !done {
		t.Fatalf("Wait = done %v, err %v; want done", done, err)
	}
	if err := h.Result().Err; !errors.Is(err, ErrStopped) {
		t.Errorf("result error %v, want ErrStopped", err)
	}
	if _, err := e.Submit(Request{Prompt: prompt(0, 4, 1), MaxTokens: 1}); !errors.Is(err, ErrStopped) {
		t.Errorf("submit after stop: %v, want ErrStopped", err)
	}
}

func TestEngineStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	e, err := Start(ctx, smallParams(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("engine did not stop with its context")
	}
}

func TestOutputWordsAreSingleTokens(t *testing.T) {
	text := OutputText(42, 0, 200)
	toks := tokenizer.Encode(text)
	if len(toks) != 200 {
		t.Fatalf("200 generated words tokenize to %d tokens", len(toks))
	}
	for i, id := range toks {
		if id != OutputToken(42, i) {
			t.Fatalf("token %d: text tokenizes to %d, engine generated %d", i, id, OutputToken(42, i))
		}
	}
	if OutputText(42, 0, 50) == OutputText(43, 0, 50) {
		t.Error("different seeds gave the same text")
	}
	if !strings.HasPrefix(text, OutputText(42, 0, 10)) {
		t.Error("text is not a pure function of seed and index")
	}
	if SeedFor(1, []uint32{1, 2}) == SeedFor(1, []uint32{2, 1}) || SeedFor(1, []uint32{1}) == SeedFor(2, []uint32{1}) {
		t.Error("SeedFor ignores its inputs")
	}
}
