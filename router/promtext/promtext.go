// Package promtext reads the Prometheus text exposition format (and the
// OpenMetrics text it resembles) fast enough to scrape dozens of engines
// several times a second, without allocating per sample.
//
// It is deliberately partial: it yields each sample's name, the raw text
// between its braces, and its value; comments, HELP and TYPE lines are
// skipped; a malformed line is skipped and counted, never fatal, because an
// engine's metrics page is outside input. Label values are read on demand
// with Label.
package promtext

import (
	"bytes"
	"strconv"
)

// Each calls fn for every well-formed sample line of text and returns the
// number of malformed lines it skipped. name and labels alias text.
func Each(text []byte, fn func(name, labels []byte, value float64)) (skipped int) {
	return EachNamed(text, nil, fn)
}

// EachNamed is Each for only the samples whose name want accepts (nil:
// all). A line with another name is passed over once its name is read:
// its labels and value are not parsed, and it is not counted even if
// malformed. An engine's page is mostly histogram buckets a router never
// reads, so this is most of the cost of a scrape saved.
func EachNamed(text []byte, want func(name []byte) bool, fn func(name, labels []byte, value float64)) (skipped int) {
	for len(text) > 0 {
		var line []byte
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, nil
		}
		line = trimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if want != nil && !want(line[:nameEnd(line)]) {
			continue
		}
		name, labels, value, ok := parseLine(line)
		if !ok {
			skipped++
			continue
		}
		fn(name, labels, value)
	}
	return skipped
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// nameEnd is the length of the metric name at the start of line.
func nameEnd(line []byte) int {
	i := 0
	for i < len(line) && isNameByte(line[i], i == 0) {
		i++
	}
	return i
}

// parseLine splits `name{labels} value [timestamp]`.
func parseLine(line []byte) (name, labels []byte, value float64, ok bool) {
	i := nameEnd(line)
	if i == 0 {
		return nil, nil, 0, false
	}
	name = line[:i]
	if i < len(line) && line[i] == '{' {
		end, ok := labelsEnd(line, i+1)
		if !ok {
			return nil, nil, 0, false
		}
		labels = line[i+1 : end]
		i = end + 1
	}
	if i >= len(line) || (line[i] != ' ' && line[i] != '\t') {
		return nil, nil, 0, false
	}
	rest := trimSpace(line[i:])
	if j := bytes.IndexAny(rest, " \t"); j >= 0 {
		rest = rest[:j] // drop the timestamp
	}
	v, err := parseFloat(rest)
	if err != nil {
		return nil, nil, 0, false
	}
	return name, labels, v, true
}

// labelsEnd returns the index of the '}' closing a label set that starts at
// line[i], skipping quoted values with escapes.
func labelsEnd(line []byte, i int) (int, bool) {
	inQuote := false
	for ; i < len(line); i++ {
		switch c := line[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '}':
			return i, true
		}
	}
	return 0, false
}

func parseFloat(b []byte) (float64, error) {
	switch string(b) {
	case "+Inf", "Inf":
		return strconv.ParseFloat("+Inf", 64)
	case "-Inf":
		return strconv.ParseFloat("-Inf", 64)
	case "NaN":
		return strconv.ParseFloat("NaN", 64)
	}
	return strconv.ParseFloat(string(b), 64)
}

// Label returns the unescaped value of label name in labels, the text
// between a sample's braces.
func Label(labels []byte, name string) (string, bool) {
	for len(labels) > 0 {
		labels = trimSpace(labels)
		eq := bytes.IndexByte(labels, '=')
		if eq < 0 {
			return "", false
		}
		key := trimSpace(labels[:eq])
		rest := trimSpace(labels[eq+1:])
		if len(rest) == 0 || rest[0] != '"' {
			return "", false
		}
		end, val, ok := quoted(rest)
		if !ok {
			return "", false
		}
		if string(key) == name {
			return val, true
		}
		labels = trimSpace(rest[end:])
		if len(labels) > 0 && labels[0] == ',' {
			labels = labels[1:]
		}
	}
	return "", false
}

// quoted reads the quoted label value at s[0] and returns the index after
// its closing quote and its unescaped text.
func quoted(s []byte) (int, string, bool) {
	var b []byte
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			if b == nil {
				return i + 1, string(s[1:i]), true
			}
			return i + 1, string(b), true
		case '\\':
			if b == nil {
				b = append([]byte{}, s[1:i]...)
			}
			if i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b = append(b, '\n')
				default:
					b = append(b, s[i])
				}
			}
		default:
			if b != nil {
				b = append(b, c)
			}
		}
	}
	return 0, "", false
}
