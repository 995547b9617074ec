package prefix

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// The index's LRU keeps exactly the order and evictions of
// hashicorp/golang-lru's simplelru (v2, which the index used before), so
// routing decisions did not change with it: random adds, removes, resizes
// and purges on both, compared after every step.
func TestLRUMatchesSimpleLRU(t *testing.T) {
	cases := []struct {
		name     string
		capacity int
		keys     uint64 // drawn from [0, keys)
		steps    int
	}{
		{name: "capacity one", capacity: 1, keys: 4, steps: 200},
		{name: "small, most keys held", capacity: 8, keys: 10, steps: 2000},
		{name: "small, heavy eviction", capacity: 8, keys: 64, steps: 2000},
		{name: "larger", capacity: 300, keys: 1000, steps: 20000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.capacity)))
			want, _ := simplelru.NewLRU[uint64, struct{}](tc.capacity, nil)
			got := newLRU(tc.capacity)
			for step := range tc.steps {
				k := rng.Uint64N(tc.keys)
				op := "add"
				switch r := rng.IntN(100); {
				case r < 80:
					want.Add(k, struct{}{})
					got.add(k)
				case r < 92:
					op = "remove"
					want.Remove(k)
					got.remove(k)
				case r < 97:
					op = "contains"
					if w, g := want.Contains(k), got.contains(k); w != g {
						t.Fatalf("step %d: contains(%d) = %v, want %v", step, k, g, w)
					}
				case r < 99:
					op = "resize"
					n := 1 + rng.IntN(2*tc.capacity)
					want.Resize(n)
					got.resize(n)
				default:
					op = "purge"
					want.Purge()
					got.purge()
				}
				if w, g := want.Keys(), got.keys(nil); !slices.Equal(w, g) {
					t.Fatalf("step %d (%s %d): keys oldest to newest (-want +got):\n%s", step, op, k, cmp.Diff(w, g))
				}
				if want.Len() != got.len() {
					t.Fatalf("step %d (%s %d): len %d, want %d", step, op, k, got.len(), want.Len())
				}
			}
		})
	}
}

func TestLRUReusesSlots(t *testing.T) {
	l := newLRU(4)
	for k := range uint64(1000) { // the last add, 999, evicts 994 and is removed
		l.add(k)
		if k%3 == 0 {
			l.remove(k)
		}
	}
	if len(l.nodes) > 5 { // the sentinel and 4 blocks
		t.Errorf("%d nodes for a capacity of 4, want at most 5", len(l.nodes))
	}
	if diff := cmp.Diff([]uint64{995, 997, 998}, l.keys(nil)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}
