package autoscale

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var inf = math.Inf(1)

func TestQuantile(t *testing.T) {
	cases := []struct {
		name    string
		q       float64
		buckets []Bucket
		want    float64
		wantOK  bool
	}{
		{name: "no observations", q: 0.9, buckets: []Bucket{{0.1, 0}, {inf, 0}}, wantOK: false},
		{name: "no buckets", q: 0.9, wantOK: false},
		{
			name: "interpolates inside the bucket holding the rank",
			// 100 observations: 50 <= 0.1, 40 in (0.1, 0.5], 10 in (0.5, 1]. p90 rank 90 is the top of the second bucket.
			q: 0.9, buckets: []Bucket{{0.1, 50}, {0.5, 90}, {1, 100}, {inf, 100}}, want: 0.5, wantOK: true,
		},
		{
			name: "interpolates linearly",
			q:    0.75, buckets: []Bucket{{0.1, 50}, {0.5, 100}, {inf, 100}}, want: 0.3, wantOK: true,
		},
		{
			name: "first bucket interpolates from zero",
			q:    0.5, buckets: []Bucket{{1, 10}, {inf, 10}}, want: 0.5, wantOK: true,
		},
		{
			name: "rank in the +Inf bucket is the highest finite bound",
			q:    0.9, buckets: []Bucket{{0.1, 1}, {2.5, 5}, {inf, 10}}, want: 2.5, wantOK: true,
		},
		{
			name: "bucket order does not matter",
			q:    0.75, buckets: []Bucket{{inf, 100}, {0.5, 100}, {0.1, 50}}, want: 0.3, wantOK: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := Quantile(tc.q, tc.buckets)
			if ok != tc.wantOK || math.Abs(v-tc.want) > 1e-9 {
				t.Errorf("Quantile = %v, %v; want %v, %v", v, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	before := []Bucket{{0.1, 5}, {1, 8}, {inf, 10}}
	cases := []struct {
		name string
		now  []Bucket
		want []Bucket
	}{
		{name: "subtracts bucket by bucket", now: []Bucket{{0.1, 7}, {1, 12}, {inf, 15}}, want: []Bucket{{0.1, 2}, {1, 4}, {inf, 5}}},
		{name: "a reset counter returns the new histogram whole", now: []Bucket{{0.1, 1}, {1, 1}, {inf, 2}}, want: []Bucket{{0.1, 1}, {1, 1}, {inf, 2}}},
		{name: "a bucket unseen before counts from zero", now: []Bucket{{0.1, 5}, {0.5, 6}, {1, 8}, {inf, 10}}, want: []Bucket{{0.1, 0}, {0.5, 6}, {1, 0}, {inf, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Delta(tc.now, before)); diff != "" {
				t.Errorf("Delta (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSum(t *testing.T) {
	got := Sum([]Bucket{{0.1, 1}, {inf, 2}}, []Bucket{{0.1, 3}, {inf, 5}})
	if diff := cmp.Diff([]Bucket{{0.1, 4}, {inf, 7}}, got); diff != "" {
		t.Errorf("Sum (-want +got):\n%s", diff)
	}
}
