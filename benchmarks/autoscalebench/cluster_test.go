package autoscalebench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChooseVictims(t *testing.T) {
	gangs := func(sizeStart ...int) []Gang {
		var out []Gang
		for i := 0; i < len(sizeStart); i += 2 {
			out = append(out, Gang{ID: i/2 + 1, Size: sizeStart[i], started: sizeStart[i+1]})
		}
		return out
	}
	cases := []struct {
		name    string
		running []Gang
		need    int
		want    []int
	}{
		{"one gang is enough: the youngest", gangs(4, 10, 4, 30, 4, 20), 2, []int{2}},
		{"the youngest that is big enough", gangs(8, 10, 2, 30, 8, 20), 4, []int{3}},
		{"fewest gangs before youngest", gangs(2, 50, 2, 40, 8, 10), 4, []int{3}},
		// Youngest first: 3 (t=40), 2 (t=30), 1; the first pair that frees 6.
		{"two gangs when no one suffices", gangs(4, 10, 4, 30, 2, 40), 6, []int{3, 2}},
		{"the youngest pair that suffices", gangs(4, 10, 4, 30, 2, 40), 8, []int{2, 1}},
		{"not enough in all", gangs(2, 10, 2, 20), 8, nil},
		{"nothing running", nil, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ChooseVictims(tc.running, tc.need)); diff != "" {
				t.Errorf("victims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClusterWholeGangsAndReclaim(t *testing.T) {
	src := NewGangSource(1, []int{8}, 1e9) // gangs of 8 that never end
	c := NewCluster(20, 2, src)
	if err := c.AddReadyUnits(3); err != nil { // 6 GPUs serving
		t.Fatal(err)
	}
	c.Step(0, 10)
	// 14 free: one gang of 8 starts, the next waits (6 free < 8): never part of one.
	if diff := cmp.Diff(Usage{Serving: 6, Ready: 6, Units: 3, ReadyUnits: 3, Batch: 8}, c.Usage()); diff != "" {
		t.Errorf("after backfill (-want +got):\n%s", diff)
	}
	// Six units: the 6 free GPUs take the three new ones.
	c.SetUnits(6, 5)
	c.Step(5, 10)
	want := Usage{Serving: 12, Ready: 6, Units: 6, ReadyUnits: 3, Batch: 8}
	if diff := cmp.Diff(want, c.Usage()); diff != "" {
		t.Errorf("after scale-up (-want +got):\n%s", diff)
	}
	if c.Reclaimed != 0 {
		t.Errorf("reclaimed %d gangs with GPUs free", c.Reclaimed)
	}
	c.SetUnits(7, 6)
	c.Step(6, 10)
	if c.Reclaimed != 1 || c.ReclaimLostGS != 8*6 {
		t.Errorf("reclaimed %d gangs losing %v GPU-s, want 1 gang, 48", c.Reclaimed, c.ReclaimLostGS)
	}
	// 20 − 14 serving = 6 free: the evicted 8-gang waits at the head.
	if got := c.Usage(); got.Serving != 14 || got.Batch != 0 {
		t.Errorf("after reclaim: %+v, want 14 serving, 0 batch", got)
	}
	if c.queue[0].Size != 8 || c.queue[0].ID != 1 {
		t.Errorf("the evicted gang is not back at the head of the queue: %+v", c.queue[0])
	}
	// Cold start: the units placed at t=5 serve from t=15, the one
	// placed at t=6 not yet.
	c.Step(15, 10)
	if got := c.Usage().ReadyUnits; got != 6 {
		t.Errorf("ready units at t=15: %d, want 6", got)
	}
	// Scale down to 3: the starting unit and the newest ready ones go;
	// of the 14 free GPUs the evicted gang takes 8, and the next gang of
	// 8 waits (6 free).
	c.SetUnits(3, 16)
	c.Step(16, 10)
	if diff := cmp.Diff(Usage{Serving: 6, Ready: 6, Units: 3, ReadyUnits: 3, Batch: 8}, c.Usage()); diff != "" {
		t.Errorf("after scale-down (-want +got):\n%s", diff)
	}
	if n := c.PartialGangs(); n != 0 {
		t.Errorf("PartialGangs = %d on a sound cluster", n)
	}
}

func TestPartialGangsCatchesBrokenAccounting(t *testing.T) {
	c := NewCluster(16, 2, NewGangSource(1, []int{4}, 1e9))
	c.Step(0, 10)
	if n := c.PartialGangs(); n != 0 {
		t.Fatalf("PartialGangs = %d before any damage", n)
	}
	// Hand one of a gang's GPUs to nobody: that gang now runs partly.
	for i, o := range c.owner {
		if o < 0 {
			c.owner[i] = 0
			break
		}
	}
	if n := c.PartialGangs(); n != 1 {
		t.Errorf("PartialGangs = %d with a GPU taken from a gang, want 1", n)
	}
	// A GPU held by a gang that is not running.
	c.owner[0] = -99
	if n := c.PartialGangs(); n < 2 {
		t.Errorf("PartialGangs = %d with a GPU held by a stopped gang, want at least 2", n)
	}
}
