package load

import (
	"strconv"
	"strings"
)

// Style is the kind of synthetic text Text writes.
type Style int

const (
	// Prose is sentences of words of English-like lengths, with commas,
	// capitals, the odd number, and paragraphs.
	Prose Style = iota
	// Code is indented lines of a C-like language: identifiers, keywords,
	// operators, brackets, numbers and comments.
	Code
	// Records are machine output, the kind of text a tool returns: JSON
	// objects and timestamped log lines, dense with numbers and symbols.
	Records
)

// estBytesPerToken is the harness's own guess of how much text makes a
// token, used only to decide how much text to write for a target count: 4
// for prose and 3 for code and records, the usual rules of thumb for BPE
// tokenizers of English. The count that matters is the engine's, asked
// through /tokenize; TestTextAgainstEngineTokenizer measures how close
// the two come.
var estBytesPerToken = [...]float64{Prose: 4, Code: 3, Records: 3}

// wordLengths are the shares of English words of 1, 2, … 12 letters in
// running text, roughly: short words dominate, long ones form a tail.
var wordLengths = [...]float64{0.03, 0.17, 0.21, 0.16, 0.11, 0.09, 0.08, 0.06, 0.04, 0.025, 0.01, 0.005}

var keywords = []string{"if", "for", "return", "func", "var", "else", "range", "nil", "break", "switch", "case", "err"}

// Text returns about tokens tokens of synthetic text in a style from stream
// (seed, path...). It always starts with a space and a word and ends with a
// letter, digit or punctuation, so texts concatenated one after another
// tokenize as the sum of their parts. Equal streams give equal text, so a
// shared prefix is simply the same stream.
func Text(tokens int, style Style, seed uint64, path ...uint64) string {
	if tokens <= 0 {
		return ""
	}
	g := &textGen{r: newRNG(seed, path...)}
	limit := max(1, int(float64(tokens)*estBytesPerToken[style]))
	for g.b.Len() < limit {
		switch style {
		case Code:
			g.codeLine()
		case Records:
			g.record()
		default:
			g.sentence()
		}
	}
	text := g.b.String()
	// Cut at the last space within the budget, so short texts do not
	// overshoot by most of a sentence or line.
	cut := strings.LastIndexByte(text[:min(limit+1, len(text))], ' ')
	if cut <= 0 { // the first word is longer than the budget: keep it alone
		cut = strings.IndexByte(text[1:], ' ') + 1
	}
	if cut > 0 {
		text = text[:cut]
	}
	return strings.TrimRight(text, " \n\t")
}

type textGen struct {
	r *rng
	b strings.Builder
	// sentences counts sentences in the paragraph.
	sentences int
}

func (g *textGen) letters(n int) string {
	var w [16]byte
	const vowels, consonants = "aeiouy", "bcdfghjklmnprstvwz"
	for i := range n {
		// Alternate consonants and vowels loosely, as words do.
		if i%2 == 1 && g.r.intn(4) > 0 {
			w[i] = vowels[g.r.intn(len(vowels))]
		} else {
			w[i] = consonants[g.r.intn(len(consonants))]
		}
	}
	return string(w[:n])
}

func (g *textGen) wordLength() int {
	u := g.r.float()
	for i, p := range wordLengths {
		if u -= p; u < 0 {
			return i + 1
		}
	}
	return len(wordLengths) + 1 + g.r.intn(4)
}

func (g *textGen) number() string {
	switch g.r.intn(4) {
	case 0:
		return strconv.Itoa(1900 + g.r.intn(130)) // a year
	case 1:
		return strconv.Itoa(g.r.intn(100)) + "." + strconv.Itoa(g.r.intn(100))
	default:
		return strconv.Itoa(1 + g.r.intn(1000))
	}
}

// sentence writes " Word word, word 42 word." and now and then a
// paragraph break after it.
func (g *textGen) sentence() {
	n := 6 + g.r.intn(18)
	for i := range n {
		g.b.WriteByte(' ')
		if g.r.intn(30) == 0 {
			g.b.WriteString(g.number())
		} else {
			w := g.letters(g.wordLength())
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			g.b.WriteString(w)
		}
		if i < n-1 && g.r.intn(10) == 0 {
			g.b.WriteByte(',')
		}
	}
	g.b.WriteString([]string{".", ".", ".", "?", "!", ":"}[g.r.intn(6)])
	if g.sentences++; g.sentences >= 3+g.r.intn(5) {
		g.b.WriteString("\n\n")
		g.sentences = 0
	}
}

func (g *textGen) ident() string {
	parts := 1 + g.r.intn(3)
	var b strings.Builder
	for i := range parts {
		w := g.letters(2 + g.r.intn(6))
		if i > 0 {
			if g.r.intn(2) == 0 {
				b.WriteByte('_')
			} else {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
		}
		b.WriteString(w)
	}
	return b.String()
}

// codeLine writes one line of code, indented, after a line break.
func (g *textGen) codeLine() {
	if g.b.Len() == 0 {
		g.b.WriteString(" func " + g.ident() + "(" + g.ident() + " int) error {")
	}
	g.b.WriteByte('\n')
	depth := 1 + g.r.intn(3)
	g.b.WriteString(strings.Repeat("\t", depth))
	a, b := g.ident(), g.ident()
	switch g.r.intn(6) {
	case 0:
		g.b.WriteString("if " + a + " != nil {")
	case 1:
		g.b.WriteString("for i := 0; i < " + strconv.Itoa(g.r.intn(512)) + "; i++ {")
	case 2:
		g.b.WriteString("// " + g.letters(g.wordLength()) + " " + g.letters(g.wordLength()) + " " + g.letters(g.wordLength()))
	case 3:
		g.b.WriteString(keywords[g.r.intn(len(keywords))] + " " + a + "." + b + "(" + g.number() + ")")
	case 4:
		g.b.WriteString("}")
	default:
		g.b.WriteString(a + " := " + b + "[" + strconv.Itoa(g.r.intn(64)) + "] + " + g.number())
	}
}

// record writes one JSON object or log line, after a line break.
func (g *textGen) record() {
	if g.b.Len() == 0 {
		g.b.WriteString(" result")
	}
	g.b.WriteByte('\n')
	if g.r.intn(2) == 0 {
		g.b.WriteString(`{"id": ` + strconv.Itoa(g.r.intn(100000)) + `, "name": "` + g.ident() + `", "status": "` +
			[]string{"ok", "failed", "pending"}[g.r.intn(3)] + `", "value": ` + g.number() + `}`)
		return
	}
	g.b.WriteString("2026-" + pad2(1+g.r.intn(12)) + "-" + pad2(1+g.r.intn(28)) + "T" + pad2(g.r.intn(24)) + ":" +
		pad2(g.r.intn(60)) + ":" + pad2(g.r.intn(60)) + " " + []string{"INFO", "WARN", "DEBUG"}[g.r.intn(3)] + " " +
		g.ident() + "=" + strconv.Itoa(g.r.intn(10000)) + " " + g.letters(g.wordLength()) + " " + g.letters(g.wordLength()))
}

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}
