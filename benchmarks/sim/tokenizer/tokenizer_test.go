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
		{name: "long word cut every four bytes", text: "abcdefghij", want: []string{"abcd", "efgh", "ij"}},
		{name: "space starts a piece", text: "Hello world", want: []string{"Hell", "o", " wor", "ld"}},
		{name: "each whitespace byte starts a piece", text: "a  \n\nb", want: []string{"a", " ", " ", "\n", "\nb"}},
		{name: "leading space", text: " the cat", want: []string{" the", " cat"}},
		{name: "punctuation stays in the piece", text: "you?!", want: []string{"you?", "!"}},
		{name: "multibyte utf-8 counted in bytes", text: "héllo", want: []string{"hél", "lo"}},
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
		{"odd", "\nnext line"},
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
