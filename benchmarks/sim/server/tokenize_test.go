package server

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// POST /tokenize answers in vLLM's TokenizeResponse with the token ids the
// same completion request is computed from.
func TestTokenize(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	msgs := []tokenizer.Message{{Role: "user", Content: json.RawMessage(`"Hello there"`)}}
	withGen, _ := tokenizer.RenderChat(msgs)
	noGen, _ := tokenizer.RenderChatWith(msgs, tokenizer.RenderOptions{})
	open, _ := tokenizer.RenderChatWith(msgs, tokenizer.RenderOptions{ContinueFinalMessage: true})
	cases := []struct {
		name       string
		body       string
		wantStatus int
		wantText   string
	}{
		{"chat: add_generation_prompt by default", `{"model":"test-model","messages":[{"role":"user","content":"Hello there"}]}`, 200, withGen},
		{"chat without the generation prompt", `{"messages":[{"role":"user","content":"Hello there"}],"add_generation_prompt":false}`, 200, noGen},
		{"chat continuing the last message", `{"messages":[{"role":"user","content":"Hello there"}],"continue_final_message":true}`, 200, open},
		{"completion prompt", `{"model":"test-model","prompt":"abcdefgh ij","add_special_tokens":true}`, 200, "abcdefgh ij"},
		{"both switches", `{"messages":[{"role":"user","content":"x"}],"add_generation_prompt":true,"continue_final_message":true}`, 400, ""},
		{"unknown model", `{"model":"other","prompt":"x"}`, 404, ""},
		{"neither prompt nor messages", `{"model":"test-model"}`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, e.url+"/tokenize", tc.body)
			if status != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tc.wantStatus)
			}
			if status != 200 {
				return
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			want := tokenizer.Encode(tc.wantText)
			wantJSON := map[string]any{"count": float64(len(want)), "max_model_len": float64(e.eng.Params().MaxModelLen), "tokens": floats(want), "token_strs": nil}
			if diff := cmp.Diff(wantJSON, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

// The tokens /tokenize returns are the prompt a chat completion counts.
func TestTokenizeMatchesCompletionUsage(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	for _, extra := range []string{``, `,"add_generation_prompt":false`} {
		msgs := `"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Why is the sky blue?"}]` + extra
		_, tb := post(t, e.url+"/tokenize", `{`+msgs+`}`)
		_, cb := post(t, e.url+"/v1/chat/completions", `{"model":"test-model","max_tokens":1,`+msgs+`}`)
		var tok struct{ Count int }
		var comp struct{ Usage usage }
		if err := json.Unmarshal(tb, &tok); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(cb, &comp); err != nil {
			t.Fatal(err)
		}
		if tok.Count == 0 || tok.Count != comp.Usage.PromptTokens {
			t.Errorf("%q: /tokenize count %d, completion prompt_tokens %d", extra, tok.Count, comp.Usage.PromptTokens)
		}
	}
}

func floats(toks []uint32) []any {
	out := make([]any, len(toks))
	for i, t := range toks {
		out[i] = float64(t)
	}
	return out
}
