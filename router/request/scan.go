package request

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errDepth = errors.New("JSON nested too deeply")

// syntaxError reports where and why a body is not JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func bad(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipValue checks the JSON value starting at b[i] (no leading whitespace)
// and returns the index just past it. It accepts exactly what
// encoding/json.Valid accepts for a single value.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, bad(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := skipString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	return i, bad(i, "unexpected character "+strconv.QuoteRune(rune(b[i])))
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, bad(i, "invalid literal")
	}
	return i + len(lit), nil
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, bad(i, "expected a string key")
		}
		var err error
		if i, _, err = skipString(b, i); err != nil {
			return i, err
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, bad(i, "expected ':' after an object key")
		}
		if i, err = skipValue(b, skipWS(b, i+1), depth); err != nil {
			return i, err
		}
		var done bool
		if i, done, err = separator(b, i, '}'); err != nil || done {
			return i, err
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, errDepth
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		var done bool
		if i, done, err = separator(b, i, ']'); err != nil || done {
			return i, err
		}
	}
}

// skipString returns the index past the closing quote of the string at
// b[i] and whether it holds escapes. Plain text is skipped eight bytes at
// a time (see special8): prompts are long strings.
func skipString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	for {
		for j+8 <= len(b) && !special8(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			return len(b), escaped, bad(i, "unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return j, escaped, bad(j, "unterminated escape")
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+5 >= len(b) || !isHex4(b[j+2:j+6]) {
					return j, escaped, bad(j, "invalid \\u escape")
				}
				j += 6
			default:
				return j, escaped, bad(j, "invalid escape")
			}
		case c < 0x20:
			return j, escaped, bad(j, "control character in string")
		default:
			j++
		}
	}
}

// SWAR constants: every byte 0x01, every byte 0x80.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether any of the 8 bytes in x (little-endian) is a
// quote, a backslash or a control character: the classic "has a byte less
// than n" and "has a zero byte" bit tricks.
func special8(x uint64) bool {
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0
}

// escapeOrHigh8 reports whether any of the 8 bytes in x is a backslash or
// not ASCII (special8's tricks).
func escapeOrHigh8(x uint64) bool {
	bs := x ^ (ones * '\\')
	return ((bs-ones)&^bs|x)&highs != 0
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return i, bad(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return j, bad(start, "invalid number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return j, bad(start, "invalid number")
		}
		i = j
	}
	return i, nil
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// appendUnquoted appends the decoded text of the JSON string raw (with its
// quotes, already validated by skipString) to dst, as encoding/json decodes
// it: invalid UTF-8 and lone surrogates become U+FFFD.
//
// Runs of bytes that decode to themselves (ASCII other than the backslash,
// valid UTF-8) are copied whole: text with an escape every line (tool
// outputs, code) is most of an agent's prompt.
func appendUnquoted(dst, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		j := i
		for j+8 <= len(s) && !escapeOrHigh8(binary.LittleEndian.Uint64(s[j:])) {
			j += 8
		}
		for j < len(s) && s[j] != '\\' && s[j] < utf8.RuneSelf {
			j++
		}
		dst = append(dst, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		if s[i] == '\\' {
			var r rune
			r, i = unescape(s, i)
			dst = utf8.AppendRune(dst, r)
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, r) // invalid UTF-8
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// unescape decodes the escape at s[i] and returns the rune and the index
// after it.
func unescape(s []byte, i int) (rune, int) {
	switch s[i+1] {
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(s[i+2 : i+6])
		if utf16.IsSurrogate(r) {
			if i+12 <= len(s) && s[i+6] == '\\' && s[i+7] == 'u' && isHex4(s[i+8:i+12]) {
				if dec := utf16.DecodeRune(r, hex4(s[i+8:i+12])); dec != utf8.RuneError {
					return dec, i + 12
				}
			}
			return utf8.RuneError, i + 6
		}
		return r, i + 6
	}
	return rune(s[i+1]), i + 2 // '"', '\\', '/'
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// separator reads what follows an element or member ending at i: a comma
// (next is where the following one starts) or the container's closer
// (done, next is past it).
func separator(b []byte, i int, closer byte) (next int, done bool, err error) {
	kind := "object"
	if closer == ']' {
		kind = "array"
	}
	i = skipWS(b, i)
	switch {
	case i >= len(b):
		return i, false, bad(i, "unterminated "+kind)
	case b[i] == ',':
		return skipWS(b, i+1), false, nil
	case b[i] == closer:
		return i + 1, true, nil
	}
	return i, false, bad(i, "expected ',' or '"+string(closer)+"' in an "+kind)
}
