package request

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type parsed struct {
	Model     string
	Stream    bool
	MaxTokens int
	User      string
	Priority  int
	Prompt    string
}

func summary(r *Request) parsed {
	return parsed{Model: r.Model, Stream: r.Stream, MaxTokens: r.MaxTokens, User: r.User, Priority: r.Priority, Prompt: string(r.Prompt)}
}

type parseCase struct {
	name      string
	kind      Kind
	body      string
	want      parsed
	wantParam string
	wantErr   bool
}

var parseCases = []parseCase{
	{
		name: "chat with the routing fields",
		kind: Chat,
		body: `{"model":"m","stream":true,"max_tokens":7,"user":"ann","priority":-2,"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}`,
		want: parsed{Model: "m", Stream: true, MaxTokens: 7, User: "ann", Priority: -2,
			Prompt: "system\x1fBe brief.\x1euser\x1fHi\x1e"},
	},
	{
		name: "member order and whitespace do not change the rendering",
		kind: Chat,
		body: " {\n \"messages\" : [ { \"content\" : \"Hi\" , \"role\" : \"user\" } ] , \"model\" : \"m\" }\n",
		want: parsed{Model: "m", Prompt: "user\x1fHi\x1e"},
	},
	{
		name: "escapes are decoded",
		kind: Chat,
		body: `{"model":"m\u0031","messages":[{"role":"user","content":"a\nb\u00e9\ud83d\ude00"}]}`,
		want: parsed{Model: "m1", Prompt: "user\x1fa\nbé😀\x1e"},
	},
	{
		name: "text parts joined, other parts raw, extra members kept",
		kind: Chat,
		body: `{"model":"m","messages":[{"role":"user","name":"bob","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"text":"b","type":"text"}]}]}`,
		want: parsed{Model: "m", Prompt: "user\x1fa\n{\"type\":\"image_url\",\"image_url\":{\"url\":\"x\"}}\nb\x1f\"name\":\"bob\"\x1e"},
	},
	{
		name: "null content",
		kind: Chat,
		body: `{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}`,
		want: parsed{Model: "m", Prompt: "assistant\x1fnull\x1f\"tool_calls\":[]\x1e"},
	},
	{
		name: "max_completion_tokens wins over max_tokens",
		kind: Chat,
		body: `{"max_completion_tokens":3,"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}]}`,
		want: parsed{Model: "m", MaxTokens: 3, Prompt: "user\x1fx\x1e"},
	},
	{
		name: "completion with a string prompt",
		kind: Completion,
		body: `{"model":"m","prompt":"Once upon","stream":false}`,
		want: parsed{Model: "m", Prompt: "Once upon"},
	},
	{
		name: "completion with token ids",
		kind: Completion,
		body: `{"model":"m","prompt":[1, 2,3]}`,
		want: parsed{Model: "m", Prompt: "[1, 2,3]"},
	},
	{name: "not json", kind: Chat, body: `hello`, wantErr: true},
	{name: "array body", kind: Chat, body: `[{"model":"m"}]`, wantErr: true},
	{name: "truncated", kind: Chat, body: `{"model":"m","messages":[{"role":"user","content":"x"}]`, wantErr: true},
	{name: "trailing garbage", kind: Completion, body: `{"model":"m","prompt":"x"} x`, wantErr: true},
	{name: "missing model", kind: Completion, body: `{"prompt":"x"}`, wantParam: "model"},
	{name: "empty model", kind: Completion, body: `{"model":"","prompt":"x"}`, wantParam: "model"},
	{name: "model not a string", kind: Completion, body: `{"model":3,"prompt":"x"}`, wantParam: "model"},
	{name: "stream not a boolean", kind: Completion, body: `{"model":"m","prompt":"x","stream":"yes"}`, wantParam: "stream"},
	{name: "max_tokens not an integer", kind: Completion, body: `{"model":"m","prompt":"x","max_tokens":1.5}`, wantParam: "max_tokens"},
	{name: "chat without messages", kind: Chat, body: `{"model":"m","prompt":"x"}`, wantParam: "messages"},
	{name: "chat with empty messages", kind: Chat, body: `{"model":"m","messages":[]}`, wantParam: "messages"},
	{name: "chat with a string message", kind: Chat, body: `{"model":"m","messages":["hi"]}`, wantParam: "messages"},
	{name: "completion with null prompt", kind: Completion, body: `{"model":"m","prompt":null}`, wantParam: "prompt"},
	{name: "trailing comma in a message", kind: Chat, body: `{"model":"m","messages":[{"role":"user",}]}`, wantErr: true},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			err := Parse(tc.kind, []byte(tc.body), &r)
			if tc.wantErr || tc.wantParam != "" {
				if err == nil {
					t.Fatalf("Parse(%s) = nil error, want one", tc.body)
				}
				if err.Param != tc.wantParam {
					t.Errorf("error %q has param %q, want %q", err.Msg, err.Param, tc.wantParam)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, summary(&r)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A follow-up turn renders as the earlier turn's rendering plus more bytes:
// the property the prefix index depends on.
func TestRenderIsAppendOnly(t *testing.T) {
	var a, b Request
	first := `{"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"}]}`
	second := `{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}],"model":"m"}`
	if err := Parse(Chat, []byte(first), &a); err != nil {
		t.Fatal(err)
	}
	if err := Parse(Chat, []byte(second), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b.Prompt), string(a.Prompt)) {
		t.Errorf("second turn %q does not extend the first %q", b.Prompt, a.Prompt)
	}
}

func TestAppendBody(t *testing.T) {
	body := `{"model":"m", "stream":true,"stream_options":{"include_usage":true},"max_tokens":50,"messages":[{"role":"user","content":"x"}],"temperature":0.5}`
	var r Request
	if err := Parse(Chat, []byte(body), &r); err != nil {
		t.Fatal(err)
	}
	drop := FieldSet(0).Set(FieldStream).Set(FieldStreamOptions).Set(FieldMaxTokens)
	got := r.AppendBody(nil, drop, []byte(`"stream":false`), []byte(`"max_tokens":1`))
	want := `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.5,"stream":false,"max_tokens":1}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("AppendBody (-want +got):\n%s", diff)
	}
	if !json.Valid(got) {
		t.Errorf("AppendBody produced invalid JSON %s", got)
	}
	if got := r.AppendBody(nil, 0); string(got) != `{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":50,"messages":[{"role":"user","content":"x"}],"temperature":0.5}` {
		t.Errorf("AppendBody without changes = %s", got)
	}
}

func TestTopLevel(t *testing.T) {
	body := []byte(`{"id":"x","choices":[{"kv_transfer_params":1}],"kv_transfer_params":{"remote_host":"h","remote_block_ids":[1,2]},"usage":{}}`)
	if got := string(TopLevel(body, "kv_transfer_params")); got != `{"remote_host":"h","remote_block_ids":[1,2]}` {
		t.Errorf("TopLevel = %s", got)
	}
	if got := TopLevel(body, "missing"); got != nil {
		t.Errorf("TopLevel(missing) = %s, want nil", got)
	}
	if got := TopLevel([]byte(`[1]`), "a"); got != nil {
		t.Errorf("TopLevel(array) = %s, want nil", got)
	}
}

func TestParseDoesNotAllocateSteadyState(t *testing.T) {
	body := []byte(`{"model":"m","stream":true,"max_tokens":7,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"Say hi\nplease"}]}`)
	var r Request
	_ = Parse(Chat, body, &r)
	allocs := testing.AllocsPerRun(100, func() { _ = Parse(Chat, body, &r) })
	if allocs > 0 {
		t.Errorf("Parse allocates %.1f times per request, want 0", allocs)
	}
}

func BenchmarkParseChat4KB(b *testing.B) {
	content := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 90)
	body := []byte(`{"model":"meta-llama/Llama-3.1-8B-Instruct","stream":true,"max_tokens":64,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + content + `"}]}`)
	var r Request
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(Chat, body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseChatEscaped4KB parses content with escapes, as tool
// outputs and code have: a newline every line and quoted words.
func BenchmarkParseChatEscaped4KB(b *testing.B) {
	content := strings.Repeat(`The \"quick\" brown fox jumps over the lazy dog;\n`, 80)
	body := []byte(`{"model":"meta-llama/Llama-3.1-8B-Instruct","stream":true,"max_tokens":64,"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + content + `"}]}`)
	var r Request
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(Chat, body, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMember(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}],"tool":1,"add_generation_prompt":false,"tools":[]}`
	var r Request
	if err := Parse(Chat, []byte(body), &r); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range []string{"tools", "tool", "add_generation_prompt", "model", "missing", "to"} {
		if v := r.Member(k); v != nil {
			got[k] = string(v)
		}
	}
	want := map[string]string{"tools": "[]", "tool": "1", "add_generation_prompt": "false", "model": `"m"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Member (-want +got):\n%s", diff)
	}
}
