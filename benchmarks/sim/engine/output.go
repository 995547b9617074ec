package engine

import "github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"

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
