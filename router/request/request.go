// Package request reads an OpenAI-style completion request once, without
// decoding it into a document tree, and rewrites it without re-encoding.
//
// Parse walks the body a single time with a small JSON scanner of its own
// (it accepts exactly what encoding/json accepts; a fuzz test compares the
// two). On the way it
//
//   - validates the whole body as JSON,
//   - decodes the few fields routing needs (model, stream, max_tokens,
//     user, priority) into Request,
//   - records the byte span of every top-level member, so a forwarded body
//     can drop or add members by copying spans (AppendBody), never by
//     marshalling, and
//   - renders the prompt into Request.Prompt: the canonical byte string the
//     prefix index hashes (see render.go).
//
// The raw body is forwarded unchanged when nothing needs adding.
package request

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
)

// Kind is the API a request came to.
type Kind uint8

const (
	// Chat is POST /v1/chat/completions.
	Chat Kind = iota
	// Completion is POST /v1/completions.
	Completion
)

func (k Kind) String() string {
	if k == Chat {
		return "chat"
	}
	return "completion"
}

// Field names a top-level member the router reads or rewrites.
type Field uint8

// Fields the router knows; every other member is carried through as is.
const (
	FieldModel Field = iota
	FieldStream
	FieldStreamOptions
	FieldMaxTokens
	FieldMaxCompletionTokens
	FieldMinTokens
	FieldMessages
	FieldPrompt
	FieldUser
	FieldPriority
	FieldKVTransferParams
	FieldBootstrapHost
	FieldBootstrapPort
	FieldBootstrapRoom
	numFields
	fieldOther = numFields
)

var fieldNames = [numFields]string{
	FieldModel:               "model",
	FieldStream:              "stream",
	FieldStreamOptions:       "stream_options",
	FieldMaxTokens:           "max_tokens",
	FieldMaxCompletionTokens: "max_completion_tokens",
	FieldMinTokens:           "min_tokens",
	FieldMessages:            "messages",
	FieldPrompt:              "prompt",
	FieldUser:                "user",
	FieldPriority:            "priority",
	FieldKVTransferParams:    "kv_transfer_params",
	FieldBootstrapHost:       "bootstrap_host",
	FieldBootstrapPort:       "bootstrap_port",
	FieldBootstrapRoom:       "bootstrap_room",
}

func fieldOf(key []byte) Field {
	for f, name := range fieldNames {
		if string(key) == name {
			return Field(f)
		}
	}
	return fieldOther
}

// FieldSet is a set of Fields.
type FieldSet uint32

// Set returns s with f added.
func (s FieldSet) Set(f Field) FieldSet { return s | 1<<f }

// Has reports whether f is in s.
func (s FieldSet) Has(f Field) bool { return s&(1<<f) != 0 }

// member is one top-level "key": value pair, as byte offsets into Body.
type member struct {
	start, valStart, end int
	field                Field
}

// Request is a parsed completion request. Reuse one with Reset to avoid
// allocating per request.
type Request struct {
	Kind Kind
	// Body is the request as received; it is never modified.
	Body []byte
	// Model is the model field.
	Model string
	// Stream is true when the client asked for server-sent events.
	Stream bool
	// MaxTokens is max_completion_tokens, else max_tokens, else 0.
	MaxTokens int
	// User is the OpenAI user field, a tenant hint.
	User string
	// Priority is the priority field (vLLM: lower runs earlier); 0 if absent.
	Priority    int
	HasPriority bool
	// Prompt is the canonical rendering of messages or prompt (render.go).
	Prompt []byte

	members []member
	present FieldSet
	model   []byte
}

// Reset empties r for reuse, keeping its buffers.
func (r *Request) Reset() {
	*r = Request{Prompt: r.Prompt[:0], members: r.members[:0], model: r.model[:0]}
}

// Has reports whether the body has the top-level member f.
func (r *Request) Has(f Field) bool { return r.present.Has(f) }

// Raw returns the raw JSON value of member f, or nil.
func (r *Request) Raw(f Field) []byte {
	if !r.present.Has(f) {
		return nil
	}
	for i := len(r.members) - 1; i >= 0; i-- { // the last duplicate wins
		if m := r.members[i]; m.field == f {
			return r.Body[m.valStart:m.end]
		}
	}
	return nil
}

// Member returns the raw JSON value of the top-level member named key
// (the last one when repeated), or nil. A key written with escapes is
// not found.
func (r *Request) Member(key string) []byte {
	for i := len(r.members) - 1; i >= 0; i-- {
		m := r.members[i]
		k := r.Body[m.start:m.valStart]
		if len(k) > len(key)+1 && k[0] == '"' && k[len(key)+1] == '"' && string(k[1:len(key)+1]) == key {
			return r.Body[m.valStart:m.end]
		}
	}
	return nil
}

// Error is a client error found while parsing; Param names the offending
// field when there is one.
type Error struct {
	Param string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func fail(param, msg string) *Error { return &Error{Param: param, Msg: msg} }

// Parse reads body, a request to the kind API, into r (after Reset). body
// is kept, not copied: it must stay unchanged while r is in use.
func Parse(kind Kind, body []byte, r *Request) *Error {
	r.Reset()
	r.Kind, r.Body = kind, body
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return fail("", "the request body must be a JSON object")
	}
	end, err := r.parseObject(body, i)
	if err != nil {
		if pe := (*Error)(nil); errors.As(err, &pe) {
			return pe
		}
		return fail("", err.Error())
	}
	if skipWS(body, end) != len(body) {
		return fail("", "invalid JSON: data after the top-level object")
	}
	return r.check()
}

func (r *Request) parseObject(b []byte, i int) (int, error) {
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, bad(i, "expected a string key")
		}
		keyEnd, escaped, err := skipString(b, i)
		if err != nil {
			return i, err
		}
		key := b[i+1 : keyEnd-1]
		if escaped {
			key = appendUnquoted(nil, b[i:keyEnd])
		}
		m := member{start: i, field: fieldOf(key)}
		j := skipWS(b, keyEnd)
		if j >= len(b) || b[j] != ':' {
			return j, bad(j, "expected ':' after an object key")
		}
		m.valStart = skipWS(b, j+1)
		if m.end, err = r.value(b, m); err != nil {
			return m.end, err
		}
		r.members = append(r.members, m)
		r.present = r.present.Set(m.field)
		var done bool
		if i, done, err = separator(b, m.end, '}'); err != nil || done {
			return i, err
		}
	}
}

// value scans member m's value, decoding the fields routing reads.
func (r *Request) value(b []byte, m member) (int, error) {
	i := m.valStart
	switch m.field {
	case FieldMessages:
		if r.Kind == Chat {
			return r.renderMessages(b, i)
		}
	case FieldPrompt:
		if r.Kind == Completion {
			return r.renderPrompt(b, i)
		}
	case FieldModel, FieldUser:
		end, err := skipValue(b, i, 1)
		if err != nil {
			return end, err
		}
		if b[i] != '"' {
			if m.field == FieldModel {
				return end, fail("model", "model must be a string")
			}
			return end, nil
		}
		if m.field == FieldModel {
			r.model = appendUnquoted(r.model[:0], b[i:end])
		} else {
			r.User = string(appendUnquoted(nil, b[i:end]))
		}
		return end, nil
	case FieldStream:
		end, err := skipValue(b, i, 1)
		if err != nil {
			return end, err
		}
		switch string(b[i:end]) {
		case "true":
			r.Stream = true
		case "false", "null":
			r.Stream = false
		default:
			return end, fail("stream", "stream must be a boolean")
		}
		return end, nil
	case FieldMaxTokens, FieldMaxCompletionTokens, FieldPriority:
		return r.intField(b, m)
	}
	return skipValue(b, i, 1)
}

func (r *Request) intField(b []byte, m member) (int, error) {
	end, err := skipValue(b, m.valStart, 1)
	if err != nil {
		return end, err
	}
	raw := b[m.valStart:end]
	if string(raw) == "null" {
		return end, nil
	}
	n, perr := strconv.Atoi(string(raw))
	if perr != nil {
		return end, fail(fieldNames[m.field], fieldNames[m.field]+" must be an integer")
	}
	switch m.field {
	case FieldPriority:
		r.Priority, r.HasPriority = n, true
	case FieldMaxCompletionTokens:
		r.MaxTokens = n
	case FieldMaxTokens:
		if !r.present.Has(FieldMaxCompletionTokens) {
			r.MaxTokens = n
		}
	}
	return end, nil
}

func (r *Request) check() *Error {
	switch {
	case !r.present.Has(FieldModel) || len(r.model) == 0:
		return fail("model", "the model field is required")
	case r.Kind == Chat && !r.present.Has(FieldMessages):
		return fail("messages", "messages must be a non-empty array")
	case r.Kind == Completion && (!r.present.Has(FieldPrompt) || string(r.Raw(FieldPrompt)) == "null"):
		return fail("prompt", "the prompt field is required")
	}
	r.Model = intern(r.model)
	return nil
}

// Model names repeat on every request; interning them saves an allocation
// per request. The table is bounded so that clients sending random names
// cannot grow it without limit.
var (
	internMu sync.RWMutex
	interned = map[string]string{}
)

const maxInterned = 4096

func intern(b []byte) string {
	internMu.RLock()
	s, ok := interned[string(b)]
	internMu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	internMu.Lock()
	if len(interned) < maxInterned {
		interned[s] = s
	}
	internMu.Unlock()
	return s
}

// AppendBody appends to dst the body without the members in drop, followed
// by extra, each a raw `"key":value` member. Member bytes are copied as
// received; nothing is re-encoded.
func (r *Request) AppendBody(dst []byte, drop FieldSet, extra ...[]byte) []byte {
	dst = append(dst, '{')
	first := true
	for _, m := range r.members {
		if m.field != fieldOther && drop.Has(m.field) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, r.Body[m.start:m.end]...)
		first = false
	}
	for _, e := range extra {
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
		first = false
	}
	return append(dst, '}')
}

// TopLevel returns the raw value of key in the JSON object body, or nil if
// body is not an object or lacks key. It is for reading engine answers,
// e.g. kv_transfer_params in a prefill response.
func TopLevel(body []byte, key string) []byte {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil
	}
	var found []byte
	i = skipWS(body, i+1)
	for i < len(body) && body[i] == '"' {
		keyEnd, _, err := skipString(body, i)
		if err != nil {
			return nil
		}
		j := skipWS(body, keyEnd)
		if j >= len(body) || body[j] != ':' {
			return nil
		}
		v := skipWS(body, j+1)
		end, err := skipValue(body, v, 1)
		if err != nil {
			return nil
		}
		if bytes.Equal(body[i+1:keyEnd-1], []byte(key)) {
			found = body[v:end]
		}
		i = skipWS(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipWS(body, i+1)
		}
	}
	return found
}
