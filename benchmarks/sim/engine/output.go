package engine

import (
	"fmt"
	"math"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// outputWords are the generated vocabulary. Each is a space and three
// letters: exactly one token under the simulator's tokenizer, so generated
// text tokenizes back to the tokens the engine produced.
var outputWords = [64]string{
	" the", " and", " for", " are", " but", " not", " you", " all",
	" any", " can", " had", " her", " was", " one", " our", " out",
	" day", " get", " has", " him", " his", " how", " man", " new",
	" now", " old", " see", " two", " way", " who", " boy", " did",
	" its", " let", " put", " say", " she", " too", " use", " act",
	" add", " age", " ago", " air", " arm", " art", " ask", " bad",
	" bed", " big", " box", " bus", " buy", " car", " cat", " cup",
	" cut", " dog", " ear", " eat", " egg", " end", " eye", " far",
}

var outputIDs = func() (ids [len(outputWords)]uint32) {
	for i, w := range outputWords {
		ids[i] = tokenizer.ID(w)
	}
	return ids
}()

// splitmix64 is a fixed, well-mixed 64-bit hash (Steele et al., 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func outputIndex(seed uint64, i int) int {
	return int(splitmix64(seed^splitmix64(uint64(i))) % uint64(len(outputWords)))
}

// OutputWord is the text of generated token i of a sequence with this seed.
func OutputWord(seed uint64, i int) string { return outputWords[outputIndex(seed, i)] }

// OutputToken is the token id of OutputWord(seed, i).
func OutputToken(seed uint64, i int) uint32 { return outputIDs[outputIndex(seed, i)] }

// OutputText is the text of generated tokens [from, to).
func OutputText(seed uint64, from, to int) string {
	b := make([]byte, 0, 4*(to-from))
	for i := from; i < to; i++ {
		b = append(b, OutputWord(seed, i)...)
	}
	return string(b)
}

// SeedFor derives a sequence's output seed from the engine seed and its
// prompt, so the same prompt gets the same answer on every engine of a run,
// whichever engine a router picks.
func SeedFor(engineSeed uint64, prompt []uint32) uint64 {
	h := splitmix64(engineSeed)
	for _, t := range prompt {
		h = splitmix64(h ^ uint64(t))
	}
	return h
}

// Output length distributions.
const (
	// LengthsFixed: every request generates max_tokens, as with vLLM's
	// ignore_eos.
	LengthsFixed = "fixed"
	// LengthsLogNormal: a request stops on its own after a log-normally
	// distributed number of tokens, capped by max_tokens.
	LengthsLogNormal = "lognormal"
)

// Lengths is how many tokens a request generates before its end of
// sequence. The zero value is LengthsFixed.
type Lengths struct {
	// Dist is LengthsFixed ("" too) or LengthsLogNormal.
	Dist string
	// MeanFraction is the log-normal's mean as a fraction of max_tokens,
	// before the cap. A fraction rather than a count of tokens, so that
	// every workload's max_tokens is a cap well above its typical answer.
	MeanFraction float64
	// Sigma is the log-normal's shape (the standard deviation of the
	// length's logarithm): 1 gives a long tail, a median 0.61 of the mean.
	Sigma float64
}

// DefaultLengths are tandem-sim's default: a mean of 0.3 × max_tokens and
// σ = 1, so about 4 % of requests reach max_tokens and the mean after the
// cap is about 0.27 × max_tokens (TestLogNormalLengths measures both).
func DefaultLengths() Lengths {
	return Lengths{Dist: LengthsLogNormal, MeanFraction: 0.3, Sigma: 1}
}

// Validate reports an impossible distribution.
func (l Lengths) Validate() error {
	switch l.Dist {
	case "", LengthsFixed:
		return nil
	case LengthsLogNormal:
		if !(l.MeanFraction > 0) || !(l.Sigma >= 0) || math.IsInf(l.MeanFraction, 0) || math.IsInf(l.Sigma, 0) {
			return fmt.Errorf("log-normal output lengths need a positive mean fraction and a non-negative sigma, got %g and %g",
				l.MeanFraction, l.Sigma)
		}
		return nil
	}
	return fmt.Errorf("output lengths %q: want %s or %s", l.Dist, LengthsFixed, LengthsLogNormal)
}

// Draw is the number of tokens a request with this output seed generates
// when it may stop on its own: a function of the seed alone (so the same
// prompt stops at the same length on every engine), from 1 to maxTokens.
// The engine learns it; a router sees only max_tokens.
func (l Lengths) Draw(seed uint64, maxTokens int) int {
	if l.Dist != LengthsLogNormal || maxTokens <= 1 {
		return maxTokens
	}
	// Box–Muller on two uniforms in (0, 1] drawn from the seed.
	u1 := (float64(splitmix64(seed^0x6c656e677468)>>11) + 1) / (1 << 53)
	u2 := float64(splitmix64(seed^0x7461696c)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	mu := math.Log(l.MeanFraction*float64(maxTokens)) - l.Sigma*l.Sigma/2
	n := math.Round(math.Exp(mu + l.Sigma*z))
	if !(n < float64(maxTokens)) { // also NaN
		return maxTokens
	}
	return max(1, int(n))
}
