package autoscale

import (
	"math"
	"sort"
)

// Bucket is one cumulative histogram bucket: Count observations were at
// most UpperBound (+Inf for the last).
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Quantile returns the q-quantile of a cumulative histogram (buckets in
// any order), interpolating linearly inside the bucket that holds it, as
// Prometheus' histogram_quantile does; a quantile that falls in the +Inf
// bucket is the highest finite bound. ok is false without observations.
func Quantile(q float64, buckets []Bucket) (v float64, ok bool) {
	b := append([]Bucket(nil), buckets...)
	sort.Slice(b, func(i, j int) bool { return b[i].UpperBound < b[j].UpperBound })
	if len(b) == 0 || b[len(b)-1].Count <= 0 {
		return 0, false
	}
	rank := q * b[len(b)-1].Count
	lower, below := 0.0, 0.0
	for _, bk := range b {
		if bk.Count >= rank {
			if math.IsInf(bk.UpperBound, 1) {
				return lower, true
			}
			if bk.Count == below {
				return bk.UpperBound, true
			}
			return lower + (bk.UpperBound-lower)*(rank-below)/(bk.Count-below), true
		}
		lower, below = bk.UpperBound, bk.Count
	}
	return lower, true
}

// Delta is now minus before, bucket by bucket (matched by bound). When any
// bucket went down the histogram was reset (the router restarted) and now
// is returned whole: everything it holds happened since the reset.
func Delta(now, before []Bucket) []Bucket {
	old := make(map[float64]float64, len(before))
	for _, b := range before {
		old[b.UpperBound] = b.Count
	}
	out := make([]Bucket, len(now))
	for i, b := range now {
		c := b.Count - old[b.UpperBound]
		if c < 0 {
			return append([]Bucket(nil), now...)
		}
		out[i] = Bucket{b.UpperBound, c}
	}
	return out
}

// Sum adds histograms bucket by bucket (matched by bound), for the same
// model seen by several routers.
func Sum(hs ...[]Bucket) []Bucket {
	total := map[float64]float64{}
	for _, h := range hs {
		for _, b := range h {
			total[b.UpperBound] += b.Count
		}
	}
	out := make([]Bucket, 0, len(total))
	for ub, c := range total {
		out = append(out, Bucket{ub, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UpperBound < out[j].UpperBound })
	return out
}
