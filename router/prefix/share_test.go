package prefix

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestObserveSeesInsertNotLearn(t *testing.T) {
	x := NewIndex(16)
	var seen [][]uint64
	x.Observe(func(h []uint64) { seen = append(seen, append([]uint64(nil), h...)) })
	x.Insert([]uint64{1, 2, 3})
	x.Learn([]uint64{7, 8})
	x.Import([]uint64{9})
	x.Insert(nil)
	if diff := cmp.Diff([][]uint64{{1, 2, 3}}, seen); diff != "" {
		t.Errorf("observed insertions (-want +got):\n%s", diff)
	}
	if got := x.Match([]uint64{7, 8, 5}); got != 2 {
		t.Errorf("Match after Learn = %d, want 2", got)
	}
}

func TestExportImport(t *testing.T) {
	cases := []struct {
		name   string
		insert [][]uint64
		limit  int
		want   []uint64
	}{
		{"one chain: last block oldest, first block newest", [][]uint64{{1, 2, 3}}, 0, []uint64{3, 2, 1}},
		{"a later chain is newer", [][]uint64{{1, 2}, {5, 6}}, 0, []uint64{2, 1, 6, 5}},
		{"a touched shared head moves to the end", [][]uint64{{1, 2}, {1, 3}}, 0, []uint64{2, 3, 1}},
		{"limit keeps the most recent", [][]uint64{{1, 2}, {5, 6}}, 3, []uint64{1, 6, 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x := NewIndex(16)
			for _, h := range tc.insert {
				x.Insert(h)
			}
			got := x.Export(nil, tc.limit)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("Export (-want +got):\n%s", diff)
			}
			y := NewIndex(16)
			y.Import(got)
			if diff := cmp.Diff(got, y.Export(nil, 0)); diff != "" {
				t.Errorf("Export of the imported copy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImportIntoSmallerIndexKeepsNewest(t *testing.T) {
	x := NewIndex(2)
	x.Import([]uint64{1, 2, 3})
	if diff := cmp.Diff([]uint64{2, 3}, x.Export(nil, 0)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
