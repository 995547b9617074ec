package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

const model = "test-model"

type testEngine struct {
	url string
	eng *engine.Engine
}

// startEngine serves one engine at time scale 0 on an httptest server.
func startEngine(t *testing.T, role Role, tweak func(*engine.Params, *Options)) testEngine {
	t.Helper()
	p := engine.DefaultParams()
	p.Model = model
	p.NumBlocks = 256
	opts := Options{Model: model, Role: role, EngineID: "engine-" + string(role), Host: "127.0.0.1", Port: 1, Seed: 1}
	if tweak != nil {
		tweak(&p, &opts)
	}
	var eng *engine.Engine
	m := NewMetrics(model, func() engine.Snapshot { return eng.Snapshot() })
	eng, err := engine.Start(context.Background(), p, 0, m)
	if err != nil {
		t.Fatal(err)
	}
	opts.Stopping = eng.Done()
	s, err := New(opts, eng, m)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		eng.Stop() // ends hung requests, so Close does not wait for them
		ts.Close()
	})
	return testEngine{url: ts.URL, eng: eng}
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// sse returns the data payloads of a server-sent event stream in order.
func sse(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not an SSE data line", line)
		}
		out = append(out, data)
	}
	return out
}

type chunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// summarize turns a stream into readable lines: "role", "tok", "tok length",
// "usage 12+3 cached 0", "[DONE]".
func summarize(t *testing.T, events []string) (lines []string, text string) {
	t.Helper()
	for _, ev := range events {
		if ev == "[DONE]" {
			lines = append(lines, ev)
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(ev), &c); err != nil {
			t.Fatalf("chunk %q: %v", ev, err)
		}
		switch {
		case c.Usage != nil:
			lines = append(lines, fmt.Sprintf("usage %d+%d cached %d choices %d", c.Usage.PromptTokens,
				c.Usage.CompletionTokens, c.Usage.PromptTokensDetails.CachedTokens, len(c.Choices)))
		case c.Choices[0].Delta.Role != nil:
			lines = append(lines, "role "+*c.Choices[0].Delta.Role)
		default:
			ch := c.Choices[0]
			word := ch.Text
			if word == nil {
				word = ch.Delta.Content
			}
			text += *word
			line := "tok"
			if ch.FinishReason != nil {
				line += " " + *ch.FinishReason
			}
			lines = append(lines, line)
		}
	}
	return lines, text
}

func TestStreaming(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	cases := []struct {
		name   string
		path   string
		body   string
		want   []string
		object string
	}{
		{
			name: "chat with usage",
			path: "/v1/chat/completions",
			body: `{"model":"test-model","messages":[{"role":"user","content":"Hi there"}],"max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}`,
			want: []string{"role assistant", "tok", "tok", "tok length",
				fmt.Sprintf("usage %d+3 cached 0 choices 0", chatTokens(t, "", "Hi there")), "[DONE]"},
			object: "chat.completion.chunk",
		},
		{
			name:   "completion without usage",
			path:   "/v1/completions",
			body:   `{"model":"test-model","prompt":"one two three","max_tokens":2,"stream":true}`,
			want:   []string{"tok", "tok length", "[DONE]"},
			object: "text_completion",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, e.url+tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			events := sse(t, body)
			got, text := summarize(t, events)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stream (-want +got):\n%s", diff)
			}
			var first chunk
			_ = json.Unmarshal([]byte(events[0]), &first)
			if first.Object != tc.object || first.Model != model || first.ID == "" {
				t.Errorf("first chunk object %q model %q id %q", first.Object, first.Model, first.ID)
			}
			// The streamed text is what the same request returns whole.
			whole := strings.Replace(tc.body, `"stream":true`, `"stream":false`, 1)
			_, body = post(t, e.url+tc.path, whole)
			var r completionResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			wholeText := ""
			if r.Choices[0].Text != nil {
				wholeText = *r.Choices[0].Text
			} else {
				wholeText = r.Choices[0].Message.Content
			}
			if text != wholeText {
				t.Errorf("streamed %q, whole response %q", text, wholeText)
			}
		})
	}
}

// chatTokens counts the prompt tokens of a chat: a system message (none if
// empty) and a user message.
func chatTokens(t *testing.T, system, user string) int {
	t.Helper()
	var msgs []tokenizer.Message
	if system != "" {
		sys, _ := json.Marshal(system)
		msgs = append(msgs, tokenizer.Message{Role: "system", Content: sys})
	}
	raw, _ := json.Marshal(user)
	text, err := tokenizer.RenderChat(append(msgs, tokenizer.Message{Role: "user", Content: raw}))
	if err != nil {
		t.Fatal(err)
	}
	return tokenizer.Count(text)
}

func TestNonStreamingUsage(t *testing.T) {
	const system = "You are a careful assistant who answers every question in one short sentence."
	e := startEngine(t, RoleBoth, func(_ *engine.Params, o *Options) { o.DefaultMaxTokens = 5 })
	cases := []struct {
		name   string
		path   string
		body   string
		want   usage
		cached int
	}{
		{
			name: "chat with max_tokens",
			path: "/v1/chat/completions",
			body: `{"model":"test-model","messages":[{"role":"system","content":"` + system + `"},{"role":"user","content":"Hello"}],"max_tokens":4}`,
			want: usage{PromptTokens: chatTokens(t, system, "Hello"), CompletionTokens: 4, TotalTokens: chatTokens(t, system, "Hello") + 4},
		},
		{
			name: "chat max_completion_tokens wins over max_tokens",
			path: "/v1/chat/completions",
			body: `{"model":"test-model","messages":[{"role":"system","content":"` + system + `"},{"role":"user","content":"Bonjour"}],"max_tokens":9,"max_completion_tokens":2}`,
			want: usage{PromptTokens: chatTokens(t, system, "Bonjour"), CompletionTokens: 2, TotalTokens: chatTokens(t, system, "Bonjour") + 2},
			// The first 16 tokens (template and system prompt) are those
			// of the chat before.
			cached: 16,
		},
		{
			name: "completion with default max tokens",
			path: "/v1/completions",
			body: `{"model":"test-model","prompt":"abcdefghijklmnop qr"}`,
			want: usage{PromptTokens: 5, CompletionTokens: 5, TotalTokens: 10},
		},
		{
			name: "completion from token ids",
			path: "/v1/completions",
			body: `{"model":"test-model","prompt":[1,2,3,4,5,6,7],"max_tokens":1,"ignore_eos":true}`,
			want: usage{PromptTokens: 7, CompletionTokens: 1, TotalTokens: 8},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, e.url+tc.path, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var r completionResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			tc.want.PromptTokensDetails = &promptDetail{CachedTokens: tc.cached}
			if diff := cmp.Diff(tc.want, r.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if got := r.Choices[0].FinishReason; got != "length" {
				t.Errorf("finish_reason %q, want length", got)
			}
		})
	}
}

func TestCachedTokensOnRepeatedPrompt(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	prompt := strings.Repeat(" the", 100) // 100 tokens: 6 full blocks of 16
	body := fmt.Sprintf(`{"model":"test-model","prompt":%q,"max_tokens":2}`, prompt)
	var cached []int
	for i := 0; i < 2; i++ {
		_, b := post(t, e.url+"/v1/completions", body)
		var r completionResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		cached = append(cached, r.Usage.PromptTokensDetails.CachedTokens)
	}
	if diff := cmp.Diff([]int{0, 96}, cached); diff != "" {
		t.Errorf("cached tokens of first and second request (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	e := startEngine(t, RoleBoth, func(p *engine.Params, _ *Options) { p.MaxModelLen = 64 })
	chat := e.url + "/v1/chat/completions"
	comp := e.url + "/v1/completions"
	cases := []struct {
		name     string
		method   string
		url      string
		body     string
		status   int
		errType  string
		errParam string
	}{
		{"malformed JSON", "POST", chat, `{"model":`, 400, "BadRequestError", ""},
		{"body is not an object", "POST", comp, `["model"]`, 400, "BadRequestError", ""},
		{"wrong field type", "POST", comp, `{"model":"test-model","prompt":"x","max_tokens":"5"}`, 400, "BadRequestError", ""},
		{"missing model", "POST", comp, `{"prompt":"x"}`, 400, "BadRequestError", "model"},
		{"unknown model", "POST", comp, `{"model":"other","prompt":"x"}`, 404, "NotFoundError", "model"},
		{"zero max_tokens", "POST", comp, `{"model":"test-model","prompt":"x","max_tokens":0}`, 400, "BadRequestError", "max_tokens"},
		{"negative max_tokens", "POST", chat, `{"model":"test-model","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`, 400, "BadRequestError", "max_tokens"},
		{"longer than the context", "POST", comp, `{"model":"test-model","prompt":"x","max_tokens":64}`, 400, "BadRequestError", "max_tokens"},
		{"n above one", "POST", comp, `{"model":"test-model","prompt":"x","n":2}`, 400, "BadRequestError", "n"},
		{"no messages", "POST", chat, `{"model":"test-model"}`, 400, "BadRequestError", "messages"},
		{"image content", "POST", chat, `{"model":"test-model","messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "BadRequestError", "messages"},
		{"no prompt", "POST", comp, `{"model":"test-model"}`, 400, "BadRequestError", "prompt"},
		{"empty prompt", "POST", comp, `{"model":"test-model","prompt":""}`, 400, "BadRequestError", "prompt"},
		{"two prompts", "POST", comp, `{"model":"test-model","prompt":["a","b"]}`, 400, "BadRequestError", "prompt"},
		{"GET a POST endpoint", "GET", comp, ``, 405, "MethodNotAllowedError", ""},
		{"POST a GET endpoint", "POST", e.url + "/v1/models", `{}`, 405, "MethodNotAllowedError", ""},
		{"unknown path", "GET", e.url + "/v2/whatever", ``, 404, "NotFoundError", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got errorBody
			dec := json.NewDecoder(resp.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("error body is not OpenAI JSON: %v", err)
			}
			param := ""
			if got.Error.Param != nil {
				param = *got.Error.Param
			}
			type summary struct {
				Status, Code             int
				Type, Param, ContentType string
				HasMessage               bool
			}
			want := summary{tc.status, tc.status, tc.errType, tc.errParam, "application/json", true}
			gotSum := summary{resp.StatusCode, got.Error.Code, got.Error.Type, param, resp.Header.Get("Content-Type"), got.Error.Message != ""}
			if diff := cmp.Diff(want, gotSum); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestModelsAndHealth(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	resp, err := http.Get(e.url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/health status %d", resp.StatusCode)
	}
	resp, err = http.Get(e.url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Object string      `json:"object"`
		Data   []modelCard `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != model || list.Data[0].MaxModelLen != 131072 {
		t.Errorf("models: %+v", list)
	}
}

func TestRequestIDHeader(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	req, _ := http.NewRequest("POST", e.url+"/v1/completions", strings.NewReader(`{"model":"test-model","prompt":"x","max_tokens":1}`))
	req.Header.Set("X-Request-Id", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r completionResponse
	_ = json.NewDecoder(resp.Body).Decode(&r)
	if r.ID != "cmpl-abc" {
		t.Errorf("id %q, want cmpl-abc", r.ID)
	}
}

func TestResetPrefixCache(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	prompt := strings.Repeat(" word", 48)
	body := fmt.Sprintf(`{"model":%q,"prompt":%q,"max_tokens":1}`, model, prompt)
	hitsAfter := func() uint64 {
		if status, b := post(t, e.url+"/v1/completions", body); status != http.StatusOK {
			t.Fatalf("completion: %d %s", status, b)
		}
		return e.eng.Snapshot().Stats.PrefixHits
	}
	if got := hitsAfter(); got != 0 {
		t.Fatalf("first request hit %d tokens, want 0", got)
	}
	if got := hitsAfter(); got == 0 {
		t.Fatal("repeated prompt did not hit the prefix cache")
	}
	before := e.eng.Snapshot().Stats.PrefixHits
	if status, b := post(t, e.url+"/reset_prefix_cache", ""); status != http.StatusOK {
		t.Fatalf("reset: %d %s", status, b)
	}
	if got := hitsAfter(); got != before {
		t.Errorf("after reset the prompt hit %d more tokens, want 0", got-before)
	}
}
