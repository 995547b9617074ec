package prefix

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func hashes(model, prompt string, blockBytes int) []uint64 {
	return AppendHashes(nil, Seed(model), []byte(prompt), blockBytes)
}

func TestAppendHashes(t *testing.T) {
	a := strings.Repeat("a", 40) + strings.Repeat("b", 40)
	cases := []struct {
		name string
		got  func() bool
	}{
		{"only full blocks are hashed", func() bool { return len(hashes("m", a[:39], 8)) == 4 }},
		{"empty prompt has no blocks", func() bool { return len(hashes("m", "", 8)) == 0 }},
		{"a shared prefix gives shared leading hashes", func() bool {
			x, y := hashes("m", a, 8), hashes("m", a[:40]+strings.Repeat("c", 40), 8)
			return cmp.Equal(x[:5], y[:5]) && x[5] != y[5]
		}},
		{"equal blocks at different depths differ (chained)", func() bool {
			x := hashes("m", strings.Repeat("z", 16), 8)
			return x[0] != x[1]
		}},
		{"the model seeds the chain", func() bool { return hashes("m1", a, 8)[0] != hashes("m2", a, 8)[0] }},
		{"appending extends the chain", func() bool {
			x := hashes("m", a[:48], 8)
			return cmp.Equal(x, AppendHashes(nil, Seed("m"), []byte(a), 8)[:6])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.got() {
				t.Error("property does not hold")
			}
		})
	}
}

func TestIndexMatch(t *testing.T) {
	chain := hashes("m", strings.Repeat("x", 80), 8) // 10 blocks
	other := hashes("m", strings.Repeat("y", 80), 8)
	cases := []struct {
		name   string
		insert [][]uint64
		query  []uint64
		want   int
	}{
		{name: "empty index", query: chain, want: 0},
		{name: "empty query", insert: [][]uint64{chain}, query: nil, want: 0},
		{name: "whole chain held", insert: [][]uint64{chain}, query: chain, want: 10},
		{name: "prefix held", insert: [][]uint64{chain[:4]}, query: chain, want: 4},
		{name: "query shorter than held", insert: [][]uint64{chain}, query: chain[:3], want: 3},
		{name: "other chain", insert: [][]uint64{other}, query: chain, want: 0},
		{name: "one block", insert: [][]uint64{chain[:1]}, query: chain, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(100)
			for _, h := range tc.insert {
				x.Insert(h)
			}
			if got := x.Match(tc.query); got != tc.want {
				t.Errorf("Match = %d, want %d", got, tc.want)
			}
		})
	}
}

// Eviction takes the tails of old chains first, so what stays of a chain is
// still a prefix that Match finds.
func TestIndexEvictsTailsFirst(t *testing.T) {
	old := hashes("m", strings.Repeat("o", 80), 8)   // 10 blocks
	fresh := hashes("m", strings.Repeat("f", 48), 8) // 6 blocks
	x := NewIndex(12)
	x.Insert(old)
	x.Insert(fresh)
	if got := x.Match(old); got != 6 {
		t.Errorf("Match(old) after eviction = %d, want 6 (its first 6 blocks)", got)
	}
	if got := x.Match(fresh); got != 6 {
		t.Errorf("Match(fresh) = %d, want 6", got)
	}
	if got := x.Len(); got != 12 {
		t.Errorf("Len = %d, want 12", got)
	}
	x.Resize(6)
	if got, want := []int{x.Match(old), x.Match(fresh), x.Len()}, []int{0, 6, 6}; !cmp.Equal(got, want) {
		t.Errorf("after Resize(6): Match(old), Match(fresh), Len = %v, want %v", got, want)
	}
	x.Remove(fresh[3:4])
	if got := x.Match(fresh); got != 3 {
		t.Errorf("Match after removing block 3 = %d, want 3", got)
	}
	x.Clear()
	if got := x.Len(); got != 0 {
		t.Errorf("Len after Clear = %d", got)
	}
}

func TestCapacity(t *testing.T) {
	// 27,000 blocks of 16 tokens at 4 bytes a token in 64-byte blocks.
	if got := Capacity(27000, 16, 4, 64); got != 27000 {
		t.Errorf("Capacity = %d, want 27000", got)
	}
}

func BenchmarkHash200KB(b *testing.B) {
	prompt := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4600))
	dst := make([]uint64, 0, len(prompt)/DefaultBlockBytes)
	b.SetBytes(int64(len(prompt)))
	for b.Loop() {
		dst = AppendHashes(dst[:0], 1, prompt, DefaultBlockBytes)
	}
}

func BenchmarkMatch200KB(b *testing.B) {
	prompt := []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4600))
	h := AppendHashes(nil, 1, prompt, DefaultBlockBytes)
	x := NewIndex(100000)
	x.Insert(h[:len(h)/2])
	for b.Loop() {
		x.Match(h)
	}
}

// BenchmarkLearnConversations touches conversations' chains in the indexes
// of 8 engines, as a router does for every request it routes or hears of
// from a peer: per engine 64 chains of 400 blocks (about 6,400 tokens)
// sharing a 100-block system prompt, 25,600 blocks in an index of 27,000.
func BenchmarkLearnConversations(b *testing.B) {
	const engines, perEngine = 8, 64
	system := strings.Repeat("You are a helpful agent with tools. ", 180)[:100*DefaultBlockBytes]
	chains := make([][]uint64, engines*perEngine)
	for i := range chains {
		turns := strings.Repeat(fmt.Sprintf("turn of conversation %d. ", i), 300*DefaultBlockBytes/20)
		chains[i] = AppendHashes(nil, uint64(i%engines), []byte(system+turns[:300*DefaultBlockBytes]), DefaultBlockBytes)
	}
	indexes := make([]*Index, engines)
	for i := range indexes {
		indexes[i] = NewIndex(27000)
	}
	for i, c := range chains {
		indexes[i%engines].Learn(c)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		indexes[i%engines].Learn(chains[i%len(chains)])
		i += 7 // not in insertion order
	}
}
