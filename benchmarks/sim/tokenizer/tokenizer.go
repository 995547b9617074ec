// Package tokenizer is the simulator's stand-in for a model tokenizer and chat
// template. It is deterministic, needs no vocabulary file, and keeps the one
// property prefix caching depends on: equal text prefixes give equal token
// prefixes.
//
// The rules imitate the pre-tokenisation of Llama-3 class BPE tokenizers
// (letters, digits, punctuation and whitespace go to separate pieces; a
// space joins the word or punctuation after it) and a vocabulary that
// knows short and most mid-length words:
//
//   - A special marker <|name|> (lowercase letters, digits, underscores;
//     at most 32 bytes) is one token, as the chat template's markers are
//     in a real vocabulary.
//   - A run of letters (ASCII letters and every byte of a multibyte UTF-8
//     character), with the one space before it, is a word. A word of at
//     most MaxShortWord letters is one token; a longer one is one token if
//     it is "known" (4 in 5 words of up to MaxKnownWord letters, chosen by
//     a hash of the word's letters) and otherwise splits into pieces of at
//     most MaxPieceLetters letters (the space stays with the first).
//   - Digits go in pieces of at most three, left to right.
//   - Other bytes (punctuation, symbols), with the one space before them,
//     go in pieces of at most MaxPunctBytes, which also take up to two
//     line breaks right after them ("}\n", ".\n\n").
//   - Whitespace otherwise goes in runs of at most MaxSpaceRun bytes (a line
//     break and its indentation are one token), except that the last
//     space before a word or punctuation joins it.
//
// A piece's token id is the 32-bit FNV-1a hash of its bytes. English prose
// comes out at about 4 to 4.5 bytes a token, code and logs at about 3,
// numbers at about 2 (TestBytesPerToken measures them), close to what
// Llama-3's tokenizer does.
//
// A piece ends where the next bytes' classes say, looking at most two bytes
// ahead, so Encode(a+b) equals Encode(a)+Encode(b) whenever b starts with a
// space and a ends with a letter or digit (FuzzEncodeConcatenation), as at
// the end of a reply a client appends to its conversation. The simulator's output words
// (" the", " and", ...) all start with a space, have three letters and are
// exactly one token, so a client that appends a reply to its conversation
// gets the same tokens the engine generated, and multi-turn chats hit the
// prefix cache as they would on a real engine.
package tokenizer

const (
	// MaxShortWord letters or fewer: always one token.
	MaxShortWord = 4
	// MaxKnownWord letters or fewer: one token if the word is known.
	MaxKnownWord = 10
	// MaxPieceLetters is the longest piece of an unknown word.
	MaxPieceLetters = 4
	// MaxPunctBytes is the longest piece of punctuation, its space included.
	MaxPunctBytes = 4
	// MaxSpaceRun is the longest piece of whitespace.
	MaxSpaceRun = 8
	// maxSpecial bounds a <|marker|>.
	maxSpecial = 32
)

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

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80 }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func isPunct(b byte) bool { return !isSpace(b) && !isLetter(b) && !isDigit(b) }

// special returns the end of a <|marker|> starting at i, or 0.
func special(text string, i int) int {
	if i+4 > len(text) || text[i] != '<' || text[i+1] != '|' {
		return 0
	}
	for j := i + 2; j+1 < len(text) && j-i < maxSpecial; j++ {
		c := text[j]
		switch {
		case c == '|' && text[j+1] == '>' && j > i+2:
			return j + 2
		case c >= 'a' && c <= 'z' || isDigit(c) || c == '_':
		default:
			return 0
		}
	}
	return 0
}

// known says whether a word of MaxShortWord+1 to MaxKnownWord letters is
// one token: 4 in 5 are, by a hash of its letters.
func known(letters string) bool { return ID(letters)%5 < 4 }

// word emits the pieces of a word: its letters text[ls:le], with a space
// before them when ls > start.
func word(text string, start, ls, le int, fn func(start, end int)) {
	n := le - ls
	if n <= MaxShortWord || n <= MaxKnownWord && known(text[ls:le]) {
		fn(start, le)
		return
	}
	for s := start; s < le; {
		e := min(le, max(s, ls)+MaxPieceLetters)
		fn(s, e)
		s = e
	}
}

// forEachPiece calls fn with the byte range of every piece of text in order.
func forEachPiece(text string, fn func(start, end int)) {
	for i := 0; i < len(text); {
		c := text[i]
		if e := special(text, i); e > 0 {
			fn(i, e)
			i = e
			continue
		}
		lead := 0 // a space joining the piece after it
		if c == ' ' && i+1 < len(text) && !isSpace(text[i+1]) && !isDigit(text[i+1]) && special(text, i+1) == 0 {
			lead = 1
		}
		j := i + lead
		switch d := text[j]; {
		case isLetter(d):
			e := j
			for e < len(text) && isLetter(text[e]) {
				e++
			}
			word(text, i, j, e, fn)
			i = e
		case isDigit(d):
			e := j
			for e < len(text) && e-j < 3 && isDigit(text[e]) {
				e++
			}
			fn(i, e)
			i = e
		case isPunct(d):
			e := j
			for e < len(text) && e-i < MaxPunctBytes && isPunct(text[e]) && special(text, e) == 0 {
				e++
			}
			for n := 0; n < 2 && e < len(text) && text[e] == '\n'; n++ {
				e++ // punctuation takes the line breaks after it
			}
			fn(i, e)
			i = e
		default: // whitespace not joining what follows
			e := i + 1
			for e < len(text) && e-i < MaxSpaceRun && isSpace(text[e]) {
				if text[e] == ' ' && e+1 < len(text) && !isSpace(text[e+1]) && !isDigit(text[e+1]) && special(text, e+1) == 0 {
					break // this space joins the next piece
				}
				e++
			}
			fn(i, e)
			i = e
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
	return AppendEncode(make([]uint32, 0, len(text)/3+1), text)
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
