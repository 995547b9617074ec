package request

import "bytes"

// The prompt rendering is router-private: it only has to be deterministic
// and append-only, so that a conversation's next turn renders as an
// extension of the previous turn and equal prefixes give equal bytes. It
// is not the engine's chat template, and it need not be: the prefix index
// compares renderings with renderings.
//
// Chat: for each message, in order,
//
//	role 0x1F content [0x1F key ':' raw-value]... 0x1E
//
// where content is the decoded string, or for an array of parts the decoded
// "text" of each text part (other parts as raw JSON) joined by '\n', and the
// bracketed members are the message's other members (name, tool_calls, ...)
// as raw JSON in the order sent. A completion prompt renders as the decoded
// string, or raw JSON when it is not a string (token ids, batches).
const (
	unitSep   = 0x1F
	recordSep = 0x1E
)

// maxOtherMembers bounds the extra members of one message that rendering
// remembers; further ones are validated but not rendered.
const maxOtherMembers = 8

type span struct{ start, end int }

// renderMessages validates the messages array at b[i] and renders it.
func (r *Request) renderMessages(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '[' {
		end, err := skipValue(b, i, 1)
		if err != nil {
			return end, err
		}
		return end, fail("messages", "messages must be a non-empty array")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, fail("messages", "messages must be a non-empty array")
	}
	for {
		var err error
		if i, err = r.renderMessage(b, i); err != nil {
			return i, err
		}
		var done bool
		if i, done, err = separator(b, i, ']'); err != nil || done {
			return i, err
		}
	}
}

// renderMessage validates one message object at b[i] and renders it.
func (r *Request) renderMessage(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '{' {
		end, err := skipValue(b, i, 2)
		if err != nil {
			return end, err
		}
		return end, fail("messages", "every message must be an object")
	}
	var role, content span
	var others [maxOtherMembers]span
	n := 0
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != '}' {
		if b[i] != '"' {
			return i, bad(i, "expected a string key")
		}
		keyEnd, _, err := skipString(b, i)
		if err != nil {
			return i, err
		}
		j := skipWS(b, keyEnd)
		if j >= len(b) || b[j] != ':' {
			return j, bad(j, "expected ':' after an object key")
		}
		v := skipWS(b, j+1)
		end, err := skipValue(b, v, 2)
		if err != nil {
			return end, err
		}
		switch string(b[i+1 : keyEnd-1]) {
		case "role":
			role = span{v, end}
		case "content":
			content = span{v, end}
		default:
			if n < maxOtherMembers {
				others[n] = span{i, end}
				n++
			}
		}
		if i = skipWS(b, end); i < len(b) && b[i] == ',' {
			if i = skipWS(b, i+1); i < len(b) && b[i] == '}' {
				return i, bad(i, "expected a string key")
			}
		} else if i < len(b) && b[i] != '}' {
			return i, bad(i, "expected ',' or '}' in an object")
		}
	}
	if i >= len(b) {
		return i, bad(i, "unterminated object")
	}
	r.appendMessage(b, role, content, others[:n])
	return i + 1, nil
}

func (r *Request) appendMessage(b []byte, role, content span, others []span) {
	p := r.Prompt
	if role.end > role.start {
		p = appendText(p, b[role.start:role.end])
	}
	p = append(p, unitSep)
	if content.end > content.start {
		p = appendContent(p, b, content)
	}
	for _, o := range others {
		p = append(p, unitSep)
		p = append(p, b[o.start:o.end]...)
	}
	p = append(p, recordSep)
	r.Prompt = p
}

// appendText appends a JSON string's decoded text, or any other value's raw
// bytes.
func appendText(dst, raw []byte) []byte {
	if raw[0] != '"' {
		return append(dst, raw...)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return append(dst, raw[1:len(raw)-1]...)
	}
	return appendUnquoted(dst, raw)
}

// appendContent renders message content: a string, or an array of parts.
func appendContent(dst, b []byte, c span) []byte {
	if b[c.start] != '[' {
		return appendText(dst, b[c.start:c.end])
	}
	i := skipWS(b, c.start+1)
	first := true
	for i < c.end && b[i] != ']' {
		end, _ := skipValue(b, i, 3) // validated already
		if !first {
			dst = append(dst, '\n')
		}
		first = false
		if text := partText(b[i:end]); text != nil {
			dst = appendText(dst, text)
		} else {
			dst = append(dst, b[i:end]...)
		}
		if i = skipWS(b, end); i < c.end && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return dst
}

// partText returns the raw "text" string of a {"type":"text",...} part, or
// nil for any other part.
func partText(part []byte) []byte {
	if part[0] != '{' {
		return nil
	}
	text := TopLevel(part, "text")
	if len(text) == 0 || text[0] != '"' || string(TopLevel(part, "type")) != `"text"` {
		return nil
	}
	return text
}

// renderPrompt validates a completion prompt at b[i] and renders it.
func (r *Request) renderPrompt(b []byte, i int) (int, error) {
	end, err := skipValue(b, i, 1)
	if err != nil {
		return end, err
	}
	r.Prompt = appendText(r.Prompt, b[i:end])
	return end, nil
}
