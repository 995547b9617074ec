package load

import "strings"

// mix is splitmix64's finaliser (Steele et al., 2014): a fixed, well-mixed
// 64-bit hash. Everything random in this package is a mix of the seed and
// a position, so it is the same on every platform and Go release.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// stream names one independent sequence of draws: a seed and a path of
// numbers (e.g. purpose, group, user).
func stream(seed uint64, path ...uint64) uint64 {
	h := mix(seed)
	for _, p := range path {
		h = mix(h ^ p)
	}
	return h
}

// rng is a counter-based generator: draw i of stream s is mix(s + i).
type rng struct {
	s uint64
	i uint64
}

func newRNG(seed uint64, path ...uint64) *rng { return &rng{s: stream(seed, path...)} }

func (r *rng) uint64() uint64 {
	r.i++
	return mix(r.s + r.i*0x9e3779b97f4a7c15)
}

// intn is uniform in [0, n) (modulo bias below 2^-40 for the n used here).
func (r *rng) intn(n int) int { return int(r.uint64() % uint64(n)) }

// float is uniform in [0, 1).
func (r *rng) float() float64 { return float64(r.uint64()>>11) / (1 << 53) }

// Stream purposes, so that draws for different things never coincide.
const (
	purposeSystem uint64 = iota + 1
	purposeQuestion
	purposeAnswer
	purposeOrder
	purposeBlock
	purposeFiller
	purposeArrival
	purposePolicy
	purposeAnswerLength
	purposeTool
	purposeToolSize
	purposeDocument
	purposeTrace
)

// Words returns n words of synthetic text from stream (seed, path...). Each
// word is a space and three lowercase letters, one token under the
// simulator's tokenizer: text of a known size for measurements of a
// router's own overhead. Workloads use Text, whose tokens vary in size as
// real text's do. Equal streams give equal text.
func Words(n int, seed uint64, path ...uint64) string {
	if n <= 0 {
		return ""
	}
	r := newRNG(seed, path...)
	var b strings.Builder
	b.Grow(4 * n)
	for range n {
		v := r.uint64()
		b.WriteByte(' ')
		for range 3 {
			b.WriteByte(byte('a' + v%26))
			v /= 26
		}
	}
	return b.String()
}
