package kv

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func seq(from, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(from + i)
	}
	return out
}

func TestBlockHashChain(t *testing.T) {
	seed := Seed("m")
	a := AppendBlockHashes(nil, seed, seq(0, 40), 16) // 2 full blocks, 8 tokens left over
	if len(a) != 2 {
		t.Fatalf("got %d hashes for 40 tokens, want 2 (partial blocks are not hashed)", len(a))
	}
	cases := []struct {
		name string
		got  []uint64
		want []uint64
	}{
		{
			name: "chain is hash of parent and block tokens",
			got:  a,
			want: []uint64{ChainHash(seed, seq(0, 16)), ChainHash(ChainHash(seed, seq(0, 16)), seq(16, 16))},
		},
		{
			name: "incremental extension equals hashing at once",
			got:  AppendBlockHashes(AppendBlockHashes(nil, seed, seq(0, 20), 16), seed, seq(0, 40), 16),
			want: a,
		},
		{
			name: "same prefix, different tail: first block shared",
			got:  AppendBlockHashes(nil, seed, append(seq(0, 16), seq(100, 16)...), 16)[:1],
			want: a[:1],
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	other := AppendBlockHashes(nil, Seed("other-model"), seq(0, 16), 16)
	if other[0] == a[0] {
		t.Errorf("two models produced the same block hash")
	}
	shifted := AppendBlockHashes(nil, seed, append(seq(100, 16), seq(16, 16)...), 16)
	if shifted[1] == a[1] {
		t.Errorf("equal second blocks behind different first blocks share a hash; the chain must cover the prefix")
	}
}

func newPool(t *testing.T, n int) *Pool {
	t.Helper()
	p, err := NewPool(n, 16, true)
	if err != nil {
		t.Fatal(err)
	}
	p.KeepEvents(true)
	return p
}

// fill allocates len(hashes) blocks, caches them under hashes, and returns them.
func fill(t *testing.T, p *Pool, hashes ...uint64) []BlockID {
	t.Helper()
	ids, ok := p.Allocate(len(hashes))
	if !ok {
		t.Fatalf("allocate %d blocks with %d free", len(hashes), p.NumFree())
	}
	for i, h := range hashes {
		p.Cache(ids[i], h)
	}
	return ids
}

func reversed(ids []BlockID) []BlockID {
	out := make([]BlockID, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

func TestPrefixLookup(t *testing.T) {
	p := newPool(t, 8)
	ids := fill(t, p, 1, 2, 3)
	p.Release(reversed(ids))
	cases := []struct {
		name   string
		hashes []uint64
		want   []BlockID
	}{
		{name: "full hit", hashes: []uint64{1, 2, 3}, want: ids},
		{name: "prefix hit then miss", hashes: []uint64{1, 2, 9, 3}, want: ids[:2]},
		{name: "miss on first block", hashes: []uint64{9, 1}, want: nil},
		{name: "longer than cached", hashes: []uint64{1, 2, 3, 4}, want: ids},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, p.Lookup(tc.hashes)); diff != "" {
				t.Errorf("Lookup (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAcquireTakesCachedBlocksOffTheFreeQueue(t *testing.T) {
	p := newPool(t, 4)
	ids := fill(t, p, 1, 2)
	p.Release(reversed(ids))
	if p.NumFree() != 4 || p.Usage() != 0 {
		t.Fatalf("after release: free %d usage %v, want 4 and 0", p.NumFree(), p.Usage())
	}
	hit := p.Lookup([]uint64{1, 2})
	if got := p.Evictable(hit); got != 2 {
		t.Errorf("Evictable = %d, want 2", got)
	}
	p.Acquire(hit)
	p.Acquire(hit[:1]) // a second sequence shares the first block
	if diff := cmp.Diff([]int{2, 1}, []int{p.RefCount(hit[0]), p.RefCount(hit[1])}); diff != "" {
		t.Errorf("ref counts (-want +got):\n%s", diff)
	}
	if p.NumFree() != 2 || p.Usage() != 0.5 {
		t.Errorf("free %d usage %v, want 2 and 0.5", p.NumFree(), p.Usage())
	}
	// Only the two uncached blocks can be allocated; cached blocks in use are safe.
	if _, ok := p.Allocate(3); ok {
		t.Errorf("allocated 3 blocks with 2 free")
	}
	if got := len(p.Lookup([]uint64{1, 2})); got != 2 {
		t.Errorf("failed allocation changed the cache: %d blocks still found, want 2", got)
	}
}

// Released blocks are evicted in release order (LRU), the tail of a sequence
// before its prefix, and only when a new allocation needs them.
func TestLRUEviction(t *testing.T) {
	p := newPool(t, 4)
	a := fill(t, p, 10, 11) // sequence A: blocks for hashes 10, 11
	b := fill(t, p, 20, 21) // sequence B
	p.Release(reversed(a))  // A finishes first: 11 then 10 queued
	p.Release(reversed(b))  // then B: 21, 20
	p.TakeEvents()

	got, ok := p.Allocate(3)
	if !ok {
		t.Fatal("allocate 3 of 4 free blocks failed")
	}
	wantEvicted := []Event{
		{Kind: Removed, Hash: 11, Block: a[1]},
		{Kind: Removed, Hash: 10, Block: a[0]},
		{Kind: Removed, Hash: 21, Block: b[1]},
	}
	if diff := cmp.Diff(wantEvicted, p.TakeEvents()); diff != "" {
		t.Errorf("eviction order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]BlockID{a[1], a[0], b[1]}, got); diff != "" {
		t.Errorf("allocated blocks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]BlockID{b[0]}, p.Lookup([]uint64{20, 21})); diff != "" {
		t.Errorf("surviving prefix (-want +got):\n%s", diff)
	}
}

// A hit refreshes nothing by itself, but acquiring and releasing a block moves
// it to the back of the queue: recently used prefixes outlive old ones.
func TestLRURefreshOnReuse(t *testing.T) {
	p := newPool(t, 2)
	x := fill(t, p, 1)
	y := fill(t, p, 2)
	p.Release(x)
	p.Release(y)
	reuse := p.Lookup([]uint64{1})
	p.Acquire(reuse)
	p.Release(reuse)
	p.TakeEvents()
	if _, ok := p.Allocate(1); !ok {
		t.Fatal("allocate failed")
	}
	if diff := cmp.Diff([]Event{{Kind: Removed, Hash: 2, Block: y[0]}}, p.TakeEvents()); diff != "" {
		t.Errorf("evicted (-want +got):\n%s", diff)
	}
}

func TestDuplicateHashKeepsFirstBlock(t *testing.T) {
	p := newPool(t, 4)
	first := fill(t, p, 7)
	second := fill(t, p, 7)
	if diff := cmp.Diff(first, p.Lookup([]uint64{7})); diff != "" {
		t.Errorf("Lookup (-want +got):\n%s", diff)
	}
	p.Release(second)
	p.TakeEvents()
	// The duplicate is plain free memory: taking it evicts nothing.
	if _, ok := p.Allocate(2); !ok {
		t.Fatal("allocate failed")
	}
	if ev := p.TakeEvents(); len(ev) != 0 {
		t.Errorf("events %v, want none", ev)
	}
	if p.NumCached() != 1 {
		t.Errorf("NumCached = %d, want 1", p.NumCached())
	}
}

func TestCachingOff(t *testing.T) {
	p, err := NewPool(2, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := p.Allocate(1)
	p.Cache(ids[0], 5)
	p.Release(ids)
	if got := p.Lookup([]uint64{5}); got != nil {
		t.Errorf("Lookup with caching off = %v, want nothing", got)
	}
}

func TestNewPoolRejectsEmpty(t *testing.T) {
	if _, err := NewPool(0, 16, true); err == nil {
		t.Error("NewPool(0, 16) succeeded")
	}
}

func TestCacheBlockEventCarriesChain(t *testing.T) {
	p := newPool(t, 2)
	ids, _ := p.Allocate(2)
	toks := seq(0, 32)
	p.CacheBlock(ids[0], 100, 7, toks[:16])
	p.CacheBlock(ids[1], 101, 100, toks[16:])
	want := []Event{
		{Kind: Stored, Hash: 100, Block: ids[0], Parent: 7, Tokens: toks[:16]},
		{Kind: Stored, Hash: 101, Block: ids[1], Parent: 100, Tokens: toks[16:]},
	}
	if diff := cmp.Diff(want, p.TakeEvents()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestResetRefusesWhileBlocksAreHeldThenClears(t *testing.T) {
	p := newPool(t, 4)
	ids := fill(t, p, 1, 2)
	p.TakeEvents()
	if p.Reset() {
		t.Fatal("Reset succeeded while a sequence holds blocks")
	}
	p.Release(reversed(ids))
	if !p.Reset() {
		t.Fatal("Reset of an idle pool failed")
	}
	if got := p.Lookup([]uint64{1, 2}); got != nil || p.NumCached() != 0 {
		t.Errorf("after Reset: Lookup = %v, NumCached = %d; want nothing cached", got, p.NumCached())
	}
	if diff := cmp.Diff([]Event{{Kind: Cleared, Block: -1}}, p.TakeEvents()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	// Blocks that were cached are plain free memory now: no Removed events.
	if _, ok := p.Allocate(4); !ok {
		t.Fatal("allocate failed")
	}
	if ev := p.TakeEvents(); len(ev) != 0 {
		t.Errorf("events after allocating reset blocks: %v, want none", ev)
	}
}
