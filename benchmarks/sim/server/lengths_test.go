package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

func TestOutputsEndOnTheirOwn(t *testing.T) {
	lengths := engine.DefaultLengths()
	e := startEngine(t, RoleBoth, func(p *engine.Params, o *Options) {
		p.NumBlocks = 2048
		o.Lengths = lengths
	})
	const maxTokens = 200
	type outcome struct {
		Tokens int
		Finish string
	}
	var wantAll, gotAll []outcome
	stopped := 0
	for i := range 12 {
		prompt := fmt.Sprintf("question number %d", i)
		ignore := i%4 == 3
		body := fmt.Sprintf(`{"model":%q,"prompt":%q,"max_tokens":%d,"ignore_eos":%v}`, model, prompt, maxTokens, ignore)
		code, b := post(t, e.url+"/v1/completions", body)
		if code != 200 {
			t.Fatalf("status %d: %s", code, b)
		}
		var r completionResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		text := ""
		if r.Choices[0].Text != nil {
			text = *r.Choices[0].Text
		}
		if n := len(tokenizer.Encode(text)); n != r.Usage.CompletionTokens {
			t.Errorf("%q: the text is %d tokens, usage says %d", prompt, n, r.Usage.CompletionTokens)
		}
		gotAll = append(gotAll, outcome{r.Usage.CompletionTokens, r.Choices[0].FinishReason})
		want := outcome{maxTokens, "length"}
		if !ignore {
			if n := lengths.Draw(engine.SeedFor(1, tokenizer.Encode(prompt)), maxTokens); n < maxTokens {
				want = outcome{n, "stop"}
				stopped++
			}
		}
		wantAll = append(wantAll, want)
	}
	if diff := cmp.Diff(wantAll, gotAll); diff != "" {
		t.Errorf("output tokens and finish reasons (-want +got):\n%s", diff)
	}
	if stopped < 6 {
		t.Errorf("only %d of 9 requests without ignore_eos stopped before max_tokens", stopped)
	}
}

func TestStreamEndsWithStop(t *testing.T) {
	e := startEngine(t, RoleBoth, func(_ *engine.Params, o *Options) {
		o.Lengths = engine.Lengths{Dist: engine.LengthsLogNormal, MeanFraction: 0.1, Sigma: 0}
	})
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}],"max_tokens":50,"stream":true,"stream_options":{"include_usage":true}}`, model)
	code, b := post(t, e.url+"/v1/chat/completions", body)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	lines, _ := summarize(t, sse(t, b))
	want := []string{"role assistant", "tok", "tok", "tok", "tok", "tok stop"}
	if len(lines) < 2 || !strings.HasPrefix(lines[len(lines)-2], "usage") {
		t.Fatalf("no usage chunk in %q", lines)
	}
	if diff := cmp.Diff(want, lines[:len(lines)-2]); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
	if got := lines[len(lines)-2]; !strings.Contains(got, "+5 ") {
		t.Errorf("usage %q, want 5 completion tokens", got)
	}
}
