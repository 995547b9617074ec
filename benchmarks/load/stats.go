package load

import (
	"math"
	"slices"
	"sort"
)

// Percentile is the p-th percentile (0 ≤ p ≤ 100) of sorted values by
// linear interpolation between the closest ranks (Hyndman & Fan type 7,
// numpy's default): rank h = (n−1)·p/100, value x[⌊h⌋] + (h−⌊h⌋)·(x[⌊h⌋+1]−x[⌊h⌋]).
// It is NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p / 100
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	if lo < 0 {
		return sorted[0]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Summary describes a sample of latencies in milliseconds.
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// Summarize sorts values in place and summarizes them; all NaN when empty.
func Summarize(values []float64) Summary {
	if len(values) == 0 {
		nan := math.NaN()
		return Summary{Mean: nan, P50: nan, P90: nan, P99: nan, Max: nan}
	}
	sort.Float64s(values)
	sum := 0.0
	for _, v := range values {
		sum += v
	}
	return Summary{
		N:    len(values),
		Mean: sum / float64(len(values)),
		P50:  Percentile(values, 50),
		P90:  Percentile(values, 90),
		P99:  Percentile(values, 99),
		Max:  values[len(values)-1],
	}
}

// Median is the middle value (mean of the two middle ones for an even
// count), ignoring NaNs; NaN when nothing is left.
func Median(values []float64) float64 {
	v := slices.DeleteFunc(slices.Clone(values), math.IsNaN)
	if len(v) == 0 {
		return math.NaN()
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
