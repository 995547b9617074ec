package tandem

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func gpus(n float64) Resources { return Resources{"nvidia.com/gpu": n} }

func TestChooseVictims(t *testing.T) {
	anyNode := func(int, string) bool { return true }
	t0 := time.Unix(1000, 0)
	full := map[string]Resources{"a": gpus(0), "b": gpus(0), "c": gpus(0)}
	gang := func(id string, age time.Duration, nodes ...string) Gang {
		g := Gang{ID: id, Created: t0.Add(-age)}
		for _, n := range nodes {
			g.Pods = append(g.Pods, Held{Node: n, Request: gpus(8)})
		}
		return g
	}
	refuse := func(ids ...string) func([]Gang) bool {
		return func(set []Gang) bool {
			for _, g := range set {
				for _, id := range ids {
					if g.ID == id {
						return false
					}
				}
			}
			return true
		}
	}
	cases := []struct {
		name    string
		need    Need
		free    map[string]Resources
		gangs   []Gang
		approve func([]Gang) bool
		want    []string
		wantOK  bool
	}{
		{
			name:   "fits without reclaiming",
			need:   Need{Requests: []Resources{gpus(8)}, Allowed: anyNode},
			free:   map[string]Resources{"a": gpus(8)},
			wantOK: true,
		},
		{
			name:   "youngest of equally sufficient gangs",
			need:   Need{Requests: []Resources{gpus(8)}, Allowed: anyNode},
			free:   full,
			gangs:  []Gang{gang("old", time.Hour, "a"), gang("young", time.Minute, "b")},
			want:   []string{"young"},
			wantOK: true,
		},
		{
			name:   "one big gang beats two young small ones",
			need:   Need{Requests: []Resources{gpus(8), gpus(8)}, Allowed: anyNode},
			free:   full,
			gangs:  []Gang{gang("young1", time.Minute, "a"), gang("young2", 2*time.Minute, "b"), gang("big", time.Hour, "b", "c")},
			want:   []string{"big"},
			wantOK: true,
		},
		{
			name:   "freed node must be allowed for the pod",
			need:   Need{Requests: []Resources{gpus(8)}, Allowed: func(_ int, n string) bool { return n == "c" }},
			free:   full,
			gangs:  []Gang{gang("young", time.Minute, "a"), gang("old", time.Hour, "c")},
			want:   []string{"old"},
			wantOK: true,
		},
		{
			name:   "two gangs when one is not enough",
			need:   Need{Requests: []Resources{gpus(8), gpus(8)}, Allowed: anyNode},
			free:   full,
			gangs:  []Gang{gang("g1", time.Minute, "a"), gang("g2", time.Hour, "b")},
			want:   []string{"g1", "g2"},
			wantOK: true,
		},
		{
			name:    "a refused set gives way to the next youngest",
			need:    Need{Requests: []Resources{gpus(8)}, Allowed: anyNode},
			free:    full,
			gangs:   []Gang{gang("old", time.Hour, "a"), gang("young", time.Minute, "b")},
			approve: refuse("young"),
			want:    []string{"old"},
			wantOK:  true,
		},
		{
			name:    "only refused sets free enough",
			need:    Need{Requests: []Resources{gpus(8), gpus(8)}, Allowed: anyNode},
			free:    full,
			gangs:   []Gang{gang("g1", time.Minute, "a"), gang("g2", time.Hour, "b")},
			approve: func(set []Gang) bool { return len(set) < 2 },
			wantOK:  false,
		},
		{
			name:   "released room on a node that had some free",
			need:   Need{Requests: []Resources{gpus(8)}, Allowed: anyNode},
			free:   map[string]Resources{"a": gpus(4), "b": gpus(0)},
			gangs:  []Gang{{ID: "half", Created: t0, Pods: []Held{{Node: "a", Request: gpus(4)}}}},
			want:   []string{"half"},
			wantOK: true,
		},
		{
			name:   "nothing frees enough",
			need:   Need{Requests: []Resources{gpus(16)}, Allowed: anyNode},
			free:   full,
			gangs:  []Gang{gang("g1", time.Minute, "a"), gang("g2", time.Hour, "b")},
			wantOK: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ChooseVictims(tc.need, tc.free, tc.gangs, 3, tc.approve)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (victims %v)", ok, tc.wantOK, got)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("victims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFitsKeepsHardTiers(t *testing.T) {
	// Nodes a1, a2 in domain A; b1, b2 in domain B; 8 GPUs each.
	domain := func(n string) string { return strings.ToUpper(n[:1]) }
	anyNode := func(int, string) bool { return true }
	two := []Resources{gpus(8), gpus(8)}
	cases := []struct {
		name string
		need Need
		free map[string]Resources
		want bool
	}{
		{
			name: "no tier: two free nodes in two domains",
			need: Need{Requests: two, Allowed: anyNode},
			free: map[string]Resources{"a1": gpus(8), "a2": gpus(0), "b1": gpus(8), "b2": gpus(0)},
			want: true,
		},
		{
			name: "unit tier: two free nodes in two domains",
			need: Need{Requests: two, Allowed: anyNode, Unit: domain},
			free: map[string]Resources{"a1": gpus(8), "a2": gpus(0), "b1": gpus(8), "b2": gpus(0)},
			want: false,
		},
		{
			name: "unit tier: the second domain has both",
			need: Need{Requests: two, Allowed: anyNode, Unit: domain},
			free: map[string]Resources{"a1": gpus(8), "a2": gpus(0), "b1": gpus(8), "b2": gpus(8)},
			want: true,
		},
		{
			name: "instance tier: an instance of two apart, a third pod anywhere",
			need: Need{Requests: []Resources{gpus(8), gpus(8), gpus(8)}, Allowed: anyNode,
				Together: []Together{{Pods: []int{0, 1}, Domain: domain}}},
			free: map[string]Resources{"a1": gpus(8), "a2": gpus(0), "b1": gpus(8), "b2": gpus(8)},
			want: true, // instance in B, the third pod on a1
		},
		{
			name: "instance tier: no domain holds the instance",
			need: Need{Requests: two, Allowed: anyNode, Together: []Together{{Pods: []int{0, 1}, Domain: domain}}},
			free: map[string]Resources{"a1": gpus(8), "a2": gpus(0), "b1": gpus(8), "b2": gpus(0)},
			want: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Fits(tc.need, tc.free, nil); got != tc.want {
				t.Errorf("Fits = %v, want %v", got, tc.want)
			}
		})
	}
}
