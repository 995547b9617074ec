package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

func TestParseRequest(t *testing.T) {
	type summary struct {
		Model        string
		MaxTokens    int
		Stream       bool
		IncludeUsage bool
		Bootstrap    bool
		RemoteDecode bool
		Prompt       []string
		ErrParam     string
	}
	cases := []struct {
		name string
		kind Kind
		body string
		want summary
	}{
		{
			name: "chat, everything set",
			kind: Chat,
			body: `{"model":"m","messages":[{"role":"user","content":"hi you"}],"max_tokens":3,"stream":true,
				"stream_options":{"include_usage":true},"temperature":0.7,"kv_transfer_params":{"do_remote_decode":true}}`,
			want: summary{Model: "m", MaxTokens: 3, Stream: true, IncludeUsage: true, RemoteDecode: true,
				Prompt: tokenizer.Pieces("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")},
		},
		{
			name: "completion with one-string array and bootstrap",
			kind: Completion,
			body: `{"model":"m","prompt":["ab cd"],"bootstrap_host":"h","bootstrap_port":1,"bootstrap_room":2}`,
			want: summary{Model: "m", Bootstrap: true, Prompt: []string{"ab", " cd"}},
		},
		{name: "leading whitespace is fine", kind: Completion, body: " \n{\"model\":\"m\",\"prompt\":\"x\"}",
			want: summary{Model: "m", Prompt: []string{"x"}}},
		{name: "not JSON", kind: Chat, body: `model=m`, want: summary{ErrParam: "-"}},
		{name: "trailing garbage", kind: Completion, body: `{"model":"m","prompt":"x"}}`, want: summary{ErrParam: "-"}},
		{name: "null body", kind: Completion, body: `null`, want: summary{ErrParam: "-"}},
		{name: "model of wrong type", kind: Completion, body: `{"model":1,"prompt":"x"}`, want: summary{ErrParam: "-"}},
		{name: "empty model", kind: Completion, body: `{"model":"","prompt":"x"}`, want: summary{ErrParam: "model"}},
		{name: "max_completion_tokens zero", kind: Chat, body: `{"model":"m","messages":[{"role":"u","content":"x"}],"max_completion_tokens":0}`,
			want: summary{ErrParam: "max_completion_tokens"}},
		{name: "n is two", kind: Completion, body: `{"model":"m","prompt":"x","n":2}`, want: summary{ErrParam: "n"}},
		{name: "null prompt", kind: Completion, body: `{"model":"m","prompt":null}`, want: summary{ErrParam: "prompt"}},
		{name: "empty messages", kind: Chat, body: `{"model":"m","messages":[]}`, want: summary{ErrParam: "messages"}},
		{name: "prompt object", kind: Completion, body: `{"model":"m","prompt":{"a":1}}`, want: summary{Model: "m", ErrParam: "prompt"}},
		{name: "role missing", kind: Chat, body: `{"model":"m","messages":[{"content":"x"}]}`, want: summary{Model: "m", ErrParam: "messages"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got summary
			r, apiErr := ParseRequest(tc.kind, []byte(tc.body))
			if apiErr == nil {
				got = summary{Model: r.Model, MaxTokens: r.RequestedMaxTokens(), Stream: r.Stream, IncludeUsage: r.IncludeUsage(),
					Bootstrap: r.HasBootstrap(), RemoteDecode: r.KVTransferParams != nil && r.KVTransferParams.DoRemoteDecode}
				var toks []uint32
				toks, apiErr = r.PromptTokens()
				if apiErr == nil {
					want := tokenizer.Encode(joinPieces(tc.want.Prompt))
					if !cmp.Equal(want, toks) {
						t.Errorf("prompt tokens differ from %q", tc.want.Prompt)
					}
					got.Prompt = tc.want.Prompt
				}
			}
			if apiErr != nil {
				if apiErr.Status != 400 {
					t.Errorf("status %d, want 400", apiErr.Status)
				}
				got.ErrParam = apiErr.Param
				if got.ErrParam == "" {
					got.ErrParam = "-"
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func joinPieces(p []string) string {
	s := ""
	for _, x := range p {
		s += x
	}
	return s
}

// FuzzParseRequest feeds arbitrary bodies to the parser and the prompt
// renderer: they must answer with a value or a 400, never panic.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"max_tokens":2,"stream":true}`,
		`{"model":"m","prompt":"x","kv_transfer_params":{"do_remote_prefill":true,"remote_block_ids":[1,2]}}`,
		`{"model":"m","prompt":[[1,2,3]],"bootstrap_room":"r","bootstrap_port":null}`,
		`{"model":"m","prompt":[4294967296]}`,
		`{"model":"m","max_tokens":-9223372036854775808}`,
		`{"model":"m","messages":[{"role":"u","content":null}],"n":1,"seed":-1}`,
		`[]`, `{`, ``, "\x00", `{"model":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []Kind{Chat, Completion} {
			r, apiErr := ParseRequest(kind, body)
			if apiErr != nil {
				if apiErr.Status != 400 || apiErr.Message == "" {
					t.Fatalf("error %+v", apiErr)
				}
				continue
			}
			if r.Model == "" {
				t.Fatal("accepted a request without a model")
			}
			toks, apiErr := r.PromptTokens()
			if apiErr == nil && len(toks) == 0 {
				t.Fatal("accepted an empty prompt")
			}
			r.HasBootstrap()
			r.IncludeUsage()
			if r.RequestedMaxTokens() < 0 {
				t.Fatal("negative max tokens accepted")
			}
		}
	})
}
