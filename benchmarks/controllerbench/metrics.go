package controllerbench

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Sample is one line of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseText reads the Prometheus text exposition format (what a /metrics
// endpoint serves): comments and blank lines are skipped, timestamps
// ignored. It is small on purpose; the benchmark needs samples, not types.
func ParseText(text string) ([]Sample, error) {
	var out []Sample
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func parseLine(line string) (Sample, error) {
	end := strings.IndexAny(line, "{ \t")
	if end <= 0 {
		return Sample{}, fmt.Errorf("no value in %q", line)
	}
	s := Sample{Name: line[:end], Labels: map[string]string{}}
	rest := line[end:]
	if rest[0] == '{' {
		var err error
		if rest, err = parseLabels(rest[1:], s.Labels); err != nil {
			return Sample{}, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return Sample{}, fmt.Errorf("want a value and an optional timestamp after %s, got %q", s.Name, rest)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("value of %s: %w", s.Name, err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads `name="value",...}` into labels and returns what
// follows the closing brace.
func parseLabels(in string, labels map[string]string) (string, error) {
	for {
		in = strings.TrimLeft(in, " \t")
		if strings.HasPrefix(in, "}") {
			return in[1:], nil
		}
		eq := strings.IndexByte(in, '=')
		if eq <= 0 {
			return "", fmt.Errorf("bad label in %q", in)
		}
		name := strings.TrimSpace(in[:eq])
		in = strings.TrimLeft(in[eq+1:], " \t")
		if !strings.HasPrefix(in, `"`) {
			return "", fmt.Errorf("label %s: value not quoted", name)
		}
		value, rest, err := unquote(in[1:])
		if err != nil {
			return "", fmt.Errorf("label %s: %w", name, err)
		}
		labels[name] = value
		in = strings.TrimLeft(rest, " \t")
		if strings.HasPrefix(in, ",") {
			in = in[1:]
		} else if !strings.HasPrefix(in, "}") {
			return "", fmt.Errorf("label %s: want ',' or '}' after the value", name)
		}
	}
}

// unquote reads a label value up to its closing quote, resolving the
// exposition format's escapes (\\, \" and \n).
func unquote(in string) (value, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		switch c := in[i]; c {
		case '"':
			return b.String(), in[i+1:], nil
		case '\\':
			if i+1 == len(in) {
				return "", "", fmt.Errorf("unterminated escape")
			}
			i++
			switch in[i] {
			case 'n':
				b.WriteByte('\n')
			default:
				b.WriteByte(in[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated value")
}

// matches reports whether every label in want has that value in s.
func (s Sample) matches(want map[string]string) bool {
	for k, v := range want {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}

// Sum adds up the samples called name whose labels match want.
func Sum(samples []Sample, name string, want map[string]string) float64 {
	total := 0.0
	for _, s := range samples {
		if s.Name == name && s.matches(want) {
			total += s.Value
		}
	}
	return total
}

// SumBy adds up the samples called name by the value of one label.
func SumBy(samples []Sample, name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range samples {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}

// Bucket is one cumulative histogram bucket: Count observations were at
// most UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is a Prometheus histogram: cumulative buckets sorted by upper
// bound, the last one +Inf, and the observation count and sum.
type Histogram struct {
	Buckets    []Bucket
	Count, Sum float64
}

// HistogramOf collects the histogram called name (its _bucket, _count and
// _sum samples) from samples whose labels match want, adding up series
// that differ in other labels.
func HistogramOf(samples []Sample, name string, want map[string]string) Histogram {
	byBound := map[float64]float64{}
	for _, s := range samples {
		if s.Name != name+"_bucket" || !s.matches(want) {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		byBound[le] += s.Value
	}
	h := Histogram{Count: Sum(samples, name+"_count", want), Sum: Sum(samples, name+"_sum", want)}
	for le, c := range byBound {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: c})
	}
	sort.Slice(h.Buckets, func(i, j int) bool { return h.Buckets[i].UpperBound < h.Buckets[j].UpperBound })
	return h
}

// Sub returns the observations made between the scrape before and h:
// bucket by bucket differences. Buckets missing from before count as 0.
func (h Histogram) Sub(before Histogram) Histogram {
	old := map[float64]float64{}
	for _, b := range before.Buckets {
		old[b.UpperBound] = b.Count
	}
	out := Histogram{Count: h.Count - before.Count, Sum: h.Sum - before.Sum}
	for _, b := range h.Buckets {
		out.Buckets = append(out.Buckets, Bucket{UpperBound: b.UpperBound, Count: b.Count - old[b.UpperBound]})
	}
	return out
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) the way Prometheus'
// histogram_quantile does: find the bucket holding the rank q × count and
// interpolate linearly inside it, taking the first bucket to start at 0.
// A rank in the +Inf bucket returns the highest finite bound, the most
// the buckets can say. NaN when there are no observations or no +Inf
// bucket.
func (h Histogram) Quantile(q float64) float64 {
	n := len(h.Buckets)
	if n == 0 || !math.IsInf(h.Buckets[n-1].UpperBound, 1) || q < 0 || q > 1 {
		return math.NaN()
	}
	total := h.Buckets[n-1].Count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(n, func(i int) bool { return h.Buckets[i].Count >= rank })
	if i == n-1 {
		if n < 2 {
			return math.NaN()
		}
		return h.Buckets[n-2].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h.Buckets[i-1].UpperBound, h.Buckets[i-1].Count
	}
	upper := h.Buckets[i].UpperBound
	inBucket := h.Buckets[i].Count - below
	if inBucket <= 0 {
		return upper
	}
	return lower + (upper-lower)*(rank-below)/inBucket
}
