package tokenizer

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPieces(t *testing.T) {
	cases := []struct {
		name string
		text string
		want []string
	}{
		{name: "empty", text: "", want: nil},
		{name: "short word", text: "hi", want: []string{"hi"}},
		{name: "a space joins the word after it", text: "Hello world", want: []string{"Hello", " world"}},
		{name: "an unknown long word splits every four letters", text: "internationalization",
			want: []string{"inte", "rnat", "iona", "liza", "tion"}},
		{name: "the space stays with the first piece", text: " abcdefghijk", want: []string{" abcd", "efgh", "ijk"}},
		{name: "whitespace runs; the last space joins a word", text: "a  \n\nb   c\n\t\tx",
			want: []string{"a", "  \n\n", "b", "  ", " c", "\n\t\t", "x"}},
		{name: "punctuation takes the line breaks after it", text: "end.\n\n\nnext", want: []string{"end", ".\n\n", "\n", "next"}},
		{name: "digits in threes, no space joins them", text: "x 1234567", want: []string{"x", " ", "123", "456", "7"}},
		{name: "punctuation in runs of four with its space", text: "you?! ....... end", want: []string{"you", "?!", " ...", "....", " end"}},
		{name: "code", text: "x = foo_bar(42);", want: []string{"x", " =", " foo", "_", "bar", "(", "42", ");"}},
		{name: "template markers are one token", text: "<|begin_of_text|><|eot_id|>hi<|no", want: []string{"<|begin_of_text|>", "<|eot_id|>", "hi", "<|", "no"}},
		{name: "multibyte utf-8 is letters", text: "héllo wörld", want: []string{"héllo", " wörld"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Pieces(tc.text)); diff != "" {
				t.Errorf("Pieces(%q) (-want +got):\n%s", tc.text, diff)
			}
			if got := Count(tc.text); got != len(tc.want) {
				t.Errorf("Count(%q) = %d, want %d", tc.text, got, len(tc.want))
			}
			if got := len(Encode(tc.text)); got != len(tc.want) {
				t.Errorf("len(Encode(%q)) = %d, want %d", tc.text, got, len(tc.want))
			}
		})
	}
}

func TestEncodeIDs(t *testing.T) {
	got := Encode("ab ab")
	want := []uint32{ID("ab"), ID(" ab")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	// Whether a mid-length word is one token depends on its letters only.
	for _, w := range []string{"simulate", "prefixes", "tokenize", "routers"} {
		one := len(Encode(w)) == 1
		if got := len(Encode(" "+w)) == 1; got != one || one != known(w) {
			t.Errorf("%q one token %v, with a space %v, known %v", w, one, got, known(w))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	// FNV-1a 32 of "a" is a published test vector.
	if ID("a") != 0xe40c292c {
		t.Errorf("ID(\"a\") = %#x, want 0xe40c292c", ID("a"))
	}
}

// A suffix that starts with whitespace never changes the tokens of the text
// before it: the property multi-turn prefix caching relies on.
func TestEncodeConcatenation(t *testing.T) {
	cases := []struct{ a, b string }{
		{"<|end_header_id|>\n\n", " the and"},
		{"abcdefg", " x"},
		{"", " anything"},
		{"odd", " next line"},
		{"x = 12", " + 3;"},
		{"internationalization", " again"},
	}
	for _, tc := range cases {
		want := append(Encode(tc.a), Encode(tc.b)...)
		if diff := cmp.Diff(want, Encode(tc.a+tc.b)); diff != "" {
			t.Errorf("Encode(%q+%q) (-want +got):\n%s", tc.a, tc.b, diff)
		}
	}
}

func msg(role string, content any) Message {
	raw, _ := json.Marshal(content)
	return Message{Role: role, Content: raw}
}

func TestRenderChat(t *testing.T) {
	cases := []struct {
		name     string
		messages []Message
		want     string
		wantErr  bool
	}{
		{
			name:     "system and user",
			messages: []Message{msg("system", "Be brief."), msg("user", "Hi")},
			want: "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
				"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{
			name: "text parts joined by newline",
			messages: []Message{msg("user", []map[string]string{
				{"type": "text", "text": "a"}, {"type": "text", "text": "b"},
			})},
			want: "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\na\nb<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{
			name:     "null content",
			messages: []Message{{Role: "assistant", Content: json.RawMessage("null")}},
			want: "<|begin_of_text|><|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>" +
				"<|start_header_id|>assistant<|end_header_id|>\n\n",
		},
		{name: "no messages", messages: nil, wantErr: true},
		{name: "missing role", messages: []Message{msg("", "x")}, wantErr: true},
		{name: "image part", messages: []Message{msg("user", []map[string]string{{"type": "image_url"}})}, wantErr: true},
		{name: "number content", messages: []Message{msg("user", 3)}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderChat(tc.messages)
			if (err != nil) != tc.wantErr {
				t.Fatalf("RenderChat error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RenderChat (-want +got):\n%s", diff)
			}
		})
	}
}

// A follow-up turn renders as the earlier prompt, the assistant's reply, and
// more text; its tokens start with the earlier prompt's tokens.
func TestRenderChatMultiTurnPrefix(t *testing.T) {
	first := []Message{msg("user", "Tell me a story")}
	p1, err := RenderChat(first)
	if err != nil {
		t.Fatal(err)
	}
	reply := " the cat sat"
	second := append(append([]Message{}, first...), msg("assistant", reply), msg("user", "More"))
	p2, err := RenderChat(second)
	if err != nil {
		t.Fatal(err)
	}
	t1, t2 := Encode(p1+reply), Encode(p2)
	if diff := cmp.Diff(t1, t2[:len(t1)]); diff != "" {
		t.Errorf("second turn does not extend the first (-want +got):\n%s", diff)
	}
}

func FuzzEncodeConcatenation(f *testing.F) {
	f.Add("hello wor", "ld")
	f.Add("x = 12", "+ 3;")
	f.Add("<|eot", "|>")
	f.Fuzz(func(t *testing.T, a, rest string) {
		if a == "" || !isLetter(a[len(a)-1]) && !isDigit(a[len(a)-1]) {
			a += "z"
		}
		b := " " + rest
		want := append(Encode(a), Encode(b)...)
		if diff := cmp.Diff(want, Encode(a+b)); diff != "" {
			t.Errorf("Encode(%q+%q) (-want +got):\n%s", a, b, diff)
		}
	})
}

// Samples written for this test: prose, code and a log. Their bytes per
// token are roughly what a Llama-3 class tokenizer gives such text: 4 to 6
// for prose of long technical words, under 4 for code, under 3 for
// number-heavy logs.
func TestBytesPerToken(t *testing.T) {
	samples := []struct {
		name     string
		text     string
		min, max float64
	}{
		{"prose", "The scheduler admits waiting requests while memory lasts, and when a running " +
			"request needs another block it preempts the newest one. Operators usually notice this " +
			"only as a sudden rise in latency, because the preempted request must recompute its " +
			"prompt before it produces another token. Careful routing spreads long conversations " +
			"across replicas so that no single engine holds every popular document.", 4, 6},
		{"code", "func (c *Core) victim() int {\n\tat := len(c.running) - 1\n\tfor i, x := range c.running {\n" +
			"\t\tif c.running[at].before(x) {\n\t\t\tat = i\n\t\t}\n\t}\n\treturn at\n}\n", 2.3, 3.8},
		{"log", "2026-12-03T14:05:44.118Z INFO engine=3 step=18233 batch=61 kv_usage=0.734 ttft_ms=182.4\n" +
			"2026-12-03T14:05:44.151Z WARN engine=1 preempted=2 waiting=17 free_blocks=0\n", 1.8, 3.2},
	}
	for _, s := range samples {
		got := float64(len(s.text)) / float64(Count(s.text))
		if got < s.min || got > s.max {
			t.Errorf("%s: %.2f bytes per token, want %.1f to %.1f; pieces %q", s.name, got, s.min, s.max, Pieces(s.text))
		}
		t.Logf("%s: %.2f bytes per token", s.name, got)
	}
}
