package endpoint

import (
	"testing"
	"time"
)

func TestLimitLearnsFromTTFT(t *testing.T) {
	t0 := time.Unix(1000, 0)
	hold := 100 * time.Millisecond
	type obs struct {
		atMs     int
		inFlight int64
		slow     bool
	}
	cases := []struct {
		name string
		obs  []obs
		want float64
	}{
		{"no limit while every first token is timely", []obs{{0, 40, false}, {10, 80, false}}, 0},
		{"the first slow one cuts to just under the open requests", []obs{{0, 20, true}}, 18},
		{"slow ones within a hold are one signal", []obs{{0, 20, true}, {50, 20, true}, {99, 20, true}}, 18},
		{"another cut after the hold", []obs{{0, 20, true}, {100, 20, true}}, 16.2},
		{"a cut starts from the open requests when fewer than the limit", []obs{{0, 20, true}, {200, 10, true}}, 9},
		{"timely at the limit raises it by 1/limit", []obs{{0, 20, true}, {10, 18, false}}, 18 + 1.0/18},
		{"timely below the limit changes nothing", []obs{{0, 20, true}, {10, 5, false}}, 18},
		{"never below one", []obs{{0, 1, true}, {100, 1, true}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l Limit
			for _, o := range tc.obs {
				l.Observe(t0.Add(time.Duration(o.atMs)*time.Millisecond), o.inFlight, o.slow, hold)
			}
			if got := l.Value(); got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Errorf("limit %g, want %g", got, tc.want)
			}
		})
	}
}
