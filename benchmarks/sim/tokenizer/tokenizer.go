// Package tokenizer is the simulator's stand-in for a model tokenizer and chat
// template. It is deterministic, needs no vocabulary file, and keeps the one
// property prefix caching depends on: equal text prefixes give equal token
// prefixes.
//
// The rule: text is cut into pieces of at most MaxPieceBytes (4) bytes, and a
// new piece always starts at a whitespace byte (space, tab, newline, carriage
// return, vertical tab, form feed). A piece's token id is the 32-bit FNV-1a
// hash of its bytes. English text comes out at roughly 1.5 tokens per word,
// close to what BPE tokenizers of Llama-3 class models produce (about 1.3).
//
// Because cuts are placed before whitespace, Encode(a+b) equals
// Encode(a)+Encode(b) whenever b starts with whitespace. The simulator's
// output words (" the", " and", ...) all start with a space and are exactly
// one token, so a client that appends a reply to its conversation gets the
// same tokens the engine generated, and multi-turn chats hit the prefix cache
// as they would on a real engine.
package tokenizer

// MaxPieceBytes is the longest piece of text that becomes one token.
const MaxPieceBytes = 4

const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

// ID is the token id of one piece of text: its 32-bit FNV-1a hash.
func ID(piece string) uint32 {
	h := uint32(fnvOffset32)
	for i := 0; i < len(piece); i++ {
		h ^= uint32(piece[i])
		h *= fnvPrime32
	}
	return h
}

func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// forEachPiece calls fn with the byte range of every piece of text in order.
func forEachPiece(text string, fn func(start, end int)) {
	start := 0
	for i := 1; i <= len(text); i++ {
		if i == len(text) || i-start == MaxPieceBytes || isSpace(text[i]) {
			if i > start {
				fn(start, i)
			}
			start = i
		}
	}
}

// Count returns the number of tokens in text without allocating.
func Count(text string) int {
	n := 0
	forEachPiece(text, func(int, int) { n++ })
	return n
}

// Encode returns the token ids of text.
func Encode(text string) []uint32 {
	return AppendEncode(make([]uint32, 0, len(text)/2+1), text)
}

// AppendEncode appends the token ids of text to dst.
func AppendEncode(dst []uint32, text string) []uint32 {
	forEachPiece(text, func(s, e int) { dst = append(dst, ID(text[s:e])) })
	return dst
}

// Pieces returns the text of every token, for tests and debugging.
func Pieces(text string) []string {
	var out []string
	forEachPiece(text, func(s, e int) { out = append(out, text[s:e]) })
	return out
}
