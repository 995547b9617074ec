package load

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Block size 2 throughout; hits are counted by hand.
func TestOracleInfinite(t *testing.T) {
	prompts := [][]uint32{
		{1, 2, 3, 4, 5},    // blocks [1 2][3 4]: nothing seen yet → 0
		{1, 2, 3, 4, 9},    // both blocks seen → 4
		{1, 2, 3, 4},       // only (4−1)/2 = 1 block usable: the last token is computed → 2
		{7, 2, 3, 4, 5},    // first block differs, so the chain differs → 0
		{1, 2, 7, 7, 7, 7}, // [1 2] seen; [7 7] after [1 2] never → 2
	}
	got := Oracle(prompts, nil, 2, 0)
	want := OracleResult{PromptTokens: 25, InfiniteHits: 8, Infinite: 8.0 / 25, LRUHits: 8, LRU: 8.0 / 25}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Oracle (-want +got):\n%s", diff)
	}
}

func TestOracleLRU(t *testing.T) {
	a, b := []uint32{1, 2, 3, 4, 5}, []uint32{5, 6, 7, 8, 9}
	ones := []int{1, 1, 1} // one output token fills no new block
	cases := []struct {
		name     string
		prompts  [][]uint32
		outputs  []int
		capacity int
		lruHits  int64
		infHits  int64
	}{
		// A's two blocks, then B's two evict them: A again misses.
		{"evicted by another prompt", [][]uint32{a, b, a}, ones, 2, 0, 4},
		{"room for both", [][]uint32{a, b, a}, ones, 4, 4, 4},
		// A then B with capacity 3: B's tail goes in first, then its head,
		// evicting A's tail, then A's head. A keeps its first block.
		{"prefix outlives tail", [][]uint32{a, b, a}, ones, 3, 2, 4},
		// A's 4 output tokens fill (5+4−1)/2 − 2 = 2 more blocks, which
		// push out A's second block.
		{"output blocks take room", [][]uint32{a, {1, 2, 3, 4, 9}}, []int{4, 1}, 3, 2, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Oracle(tc.prompts, tc.outputs, 2, tc.capacity)
			if got.LRUHits != tc.lruHits || got.InfiniteHits != tc.infHits || got.CapacityBlocks != tc.capacity {
				t.Errorf("LRU hits %d, infinite hits %d, capacity %d; want %d, %d, %d",
					got.LRUHits, got.InfiniteHits, got.CapacityBlocks, tc.lruHits, tc.infHits, tc.capacity)
			}
		})
	}
}

func TestOracleOfWorkloads(t *testing.T) {
	// Unique prompts share at most the chat template's first block.
	s := small(Random)
	s.InputTokens = 200
	reqs := generate(t, s)
	prompts := make([][]uint32, len(reqs))
	for i := range reqs {
		var err error
		if prompts[i], err = simTokens(APICompletions, reqs[i].Messages); err != nil {
			t.Fatal(err)
		}
	}
	if got := Oracle(prompts, nil, 16, 0); got.InfiniteHits != 0 {
		t.Errorf("unique completions prompts hit %d tokens, want 0", got.InfiniteHits)
	}
	// Shared: after one request per group, every system prompt is cached.
	s = small(Shared)
	s.SystemTokens, s.Requests = 160, 6
	reqs = generate(t, s)
	prompts = prompts[:0]
	for i := range reqs {
		p, err := simTokens(APICompletions, reqs[i].Messages)
		if err != nil {
			t.Fatal(err)
		}
		prompts = append(prompts, p)
	}
	// Completions prompt: a system prompt of about 160 tokens, "\n", a
	// question. Each of 3 groups misses once; each later request of a
	// group hits the whole blocks of what it shares with the group's first
	// (system prompt and line break), at most all but its last token.
	want := int64(0)
	first := map[uint64][]uint32{}
	for i, r := range reqs {
		f, ok := first[r.Key]
		if !ok {
			first[r.Key] = prompts[i]
			continue
		}
		common := 0
		for common < len(f) && common < len(prompts[i]) && f[common] == prompts[i][common] {
			common++
		}
		want += int64(min(common, len(prompts[i])-1) / 16 * 16)
	}
	if len(first) != 3 || want < 3*128 {
		t.Fatalf("%d groups sharing %d tokens: the workload is not the one this test means", len(first), want)
	}
	if got := Oracle(prompts, nil, 16, 0); got.InfiniteHits != want {
		t.Errorf("shared workload hits %d tokens, want %d", got.InfiniteHits, want)
	}
}
