package tokenize

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/request"
)

func parse(t *testing.T, kind request.Kind, body string) *request.Request {
	t.Helper()
	r := &request.Request{}
	if err := request.Parse(kind, []byte(body), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBody(t *testing.T) {
	cases := []struct {
		name     string
		kind     request.Kind
		body     string
		wantBody string
		wantIDs  []uint32
		wantErr  error
	}{{
		name:     "chat gets add_generation_prompt",
		kind:     request.Chat,
		body:     `{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true}`,
		wantBody: `{"model":"m","messages":[{"role":"user","content":"hi"}],"add_generation_prompt":true}`,
	}, {
		name: "chat forwards what shapes the rendering",
		kind: request.Chat,
		body: `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}],` +
			`"chat_template_kwargs":{"enable_thinking":false},"continue_final_message":true,"temperature":1}`,
		wantBody: `{"model":"m","messages":[{"role":"user","content":"hi"}],"continue_final_message":true,` +
			`"chat_template_kwargs":{"enable_thinking":false},"tools":[{"type":"function"}]}`,
	}, {
		name:     "completion string",
		kind:     request.Completion,
		body:     `{"model":"m","prompt":"a \"b\"","add_special_tokens":false,"max_tokens":1}`,
		wantBody: `{"model":"m","prompt":"a \"b\"","add_special_tokens":false}`,
	}, {
		name:     "one string in an array",
		kind:     request.Completion,
		body:     `{"model":"m","prompt":["abc"]}`,
		wantBody: `{"model":"m","prompt":"abc"}`,
	}, {
		name:    "token ids are their own answer",
		kind:    request.Completion,
		body:    `{"model":"m","prompt":[1,2,3]}`,
		wantIDs: []uint32{1, 2, 3},
	}, {
		name:    "a batch is not tokenized",
		kind:    request.Completion,
		body:    `{"model":"m","prompt":["a","b"]}`,
		wantErr: ErrUnsupported,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, ids, err := Body(nil, parse(t, tc.kind, tc.body))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantBody, string(body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if body != nil && !json.Valid(body) {
				t.Errorf("invalid JSON %s", body)
			}
		})
	}
}

func chat(msgs ...string) string {
	var parts []string
	for i, m := range msgs {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		c, _ := json.Marshal(m)
		parts = append(parts, `{"role":"`+role+`","content":`+string(c)+`}`)
	}
	return `{"model":"m","messages":[` + strings.Join(parts, ",") + `]}`
}

func TestKeys(t *testing.T) {
	turn1 := Keys(nil, parse(t, request.Chat, chat("a", "b", "c")))
	turn2 := Keys(nil, parse(t, request.Chat, chat("a", "b", "c", "d", "e")))
	if len(turn1) != 3 || len(turn2) != 5 {
		t.Fatalf("%d and %d keys, want one per message", len(turn1), len(turn2))
	}
	if diff := cmp.Diff(turn1, turn2[:3]); diff != "" {
		t.Errorf("a conversation's next turn does not extend its keys (-turn1 +turn2):\n%s", diff)
	}
	withTools := Keys(nil, parse(t, request.Chat, strings.TrimSuffix(chat("a", "b", "c"), "}")+`,"tools":[]}`))
	if withTools[0] == turn1[0] {
		t.Error("tools do not change the key: the template renders them")
	}
}

func TestCacheBoundsTokens(t *testing.T) {
	c := NewCache(10)
	c.Put(Key{1, 1}, make([]uint32, 6))
	c.Put(Key{2, 1}, make([]uint32, 4))
	c.Get(Key{1, 1}) // 2 is now least recently used
	c.Put(Key{3, 1}, make([]uint32, 3))
	_, has1 := c.Get(Key{1, 1})
	_, has2 := c.Get(Key{2, 1})
	_, has3 := c.Get(Key{3, 1})
	if !has1 || has2 || !has3 || c.Tokens() != 9 {
		t.Errorf("cache holds 1:%v 2:%v 3:%v, %d tokens; want true false true, 9", has1, has2, has3, c.Tokens())
	}
}

// engine is a fake vLLM /tokenize: one token per byte of the JSON it was
// sent (rendering is not its point), recording bodies.
type engine struct {
	srv    *httptest.Server
	calls  atomic.Int32
	delay  time.Duration
	bodies chan string
	tokens func(body string) []uint32
}

func newEngine(t *testing.T) *engine {
	e := &engine{bodies: make(chan string, 16)}
	e.tokens = func(body string) []uint32 {
		out := make([]uint32, len(body))
		for i := range body {
			out[i] = uint32(body[i])
		}
		return out
	}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/tokenize" || r.Method != http.MethodPost {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		select {
		case e.bodies <- string(b):
		default:
		}
		time.Sleep(e.delay)
		toks := e.tokens(string(b))
		_ = json.NewEncoder(w).Encode(map[string]any{"count": len(toks), "max_model_len": 8192, "tokens": toks, "token_strs": nil})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func TestTokenizeAndCache(t *testing.T) {
	e := newEngine(t)
	tk := New(Config{Timeout: time.Second, BlockTokens: 4, CacheTokens: 1 << 20}, e.srv.Client())
	req := parse(t, request.Chat, chat("hello"))
	keys := Keys(nil, req)
	if _, ok := tk.Cached(req, keys); ok {
		t.Fatal("an empty cache answered")
	}
	res, err := tk.Tokenize(context.Background(), e.srv.URL, req, keys)
	if err != nil {
		t.Fatal(err)
	}
	sent := <-e.bodies
	if res.Source != FromEngine || res.PromptTokens != len(sent) {
		t.Errorf("result %s with %d tokens, want engine with %d", res.Source, res.PromptTokens, len(sent))
	}
	again, ok := tk.Cached(req, Keys(nil, parse(t, request.Chat, chat("hello"))))
	if !ok || again.Source != FromCache || !cmp.Equal(again.Tokens, res.Tokens) {
		t.Errorf("repeat: %s %v, want the cached tokens", again.Source, ok)
	}
	if e.calls.Load() != 1 {
		t.Errorf("%d engine calls, want 1", e.calls.Load())
	}
}

func TestTokenizeTimeoutAndErrors(t *testing.T) {
	e := newEngine(t)
	e.delay = 200 * time.Millisecond
	tk := New(Config{Timeout: 20 * time.Millisecond, CacheTokens: 1000}, e.srv.Client())
	req := parse(t, request.Completion, `{"model":"m","prompt":"x"}`)
	if _, err := tk.Tokenize(context.Background(), e.srv.URL, req, Keys(nil, req)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow engine: %v, want a deadline error", err)
	}
	if _, err := tk.Tokenize(context.Background(), e.srv.URL+"/missing", req, nil); !errors.Is(err, ErrStatus) {
		t.Errorf("404: %v, want ErrStatus", err)
	}
}

// A next turn reuses the history's tokens but its last full block; the
// check confirms it with the engine and caches the whole turn.
func TestPrefixReuse(t *testing.T) {
	e := newEngine(t)
	// A template that renders messages append-only: tokens are the
	// message texts, so every turn's tokens extend the last.
	e.tokens = func(body string) []uint32 {
		var r struct{ Messages []struct{ Content string } }
		_ = json.Unmarshal([]byte(body), &r)
		var out []uint32
		for _, m := range r.Messages {
			for _, c := range m.Content {
				out = append(out, uint32(c))
			}
		}
		return out
	}
	tk := New(Config{Timeout: time.Second, BlockTokens: 4, CacheTokens: 1 << 20}, e.srv.Client())
	first := parse(t, request.Chat, chat("0123456789"))
	if _, err := tk.Tokenize(context.Background(), e.srv.URL, first, Keys(nil, first)); err != nil {
		t.Fatal(err)
	}
	next := parse(t, request.Chat, chat("0123456789", "abcd", "efgh"))
	keys := Keys(nil, next)
	res, ok := tk.Cached(next, keys)
	// 10 tokens: 2 full blocks, the last dropped: 4 tokens reused.
	if !ok || res.Source != FromPrefix || string(runes(res.Tokens)) != "0123" {
		t.Fatalf("Cached = %+v %v, want the prefix 0123", res, ok)
	}
	if res.PromptTokens <= 10 {
		t.Errorf("estimated %d prompt tokens, want more than the history's 10", res.PromptTokens)
	}
	tk.Check(e.srv.URL, next, keys, res.Tokens)
	tk.Wait()
	if full, ok := tk.Cached(next, keys); !ok || full.Source != FromCache || !tk.PrefixReuse("m") {
		t.Errorf("after the check: %s %v, reuse %v; want the whole turn cached and reuse on", full.Source, ok, tk.PrefixReuse("m"))
	}

	// A template that rewrites history fails the check: reuse turns off.
	e.tokens = func(string) []uint32 { return []uint32{9, 9, 9, 9, 9, 9} }
	third := parse(t, request.Chat, chat("0123456789", "abcd", "efgh", "ijkl", "mnop"))
	keys = Keys(nil, third)
	res, ok = tk.Cached(third, keys)
	if !ok || res.Source != FromPrefix {
		t.Fatalf("third turn: %+v %v, want a prefix", res, ok)
	}
	var mismatched string
	tk.OnMismatch = func(m string) { mismatched = m }
	tk.Check(e.srv.URL, third, keys, res.Tokens)
	tk.Wait()
	if mismatched != "m" || tk.PrefixReuse("m") {
		t.Errorf("mismatch reported for %q, reuse %v; want m, false", mismatched, tk.PrefixReuse("m"))
	}
	fourth := parse(t, request.Chat, chat("0123456789", "abcd", "efgh", "ijkl", "mnop", "q", "r"))
	if res, ok := tk.Cached(fourth, Keys(nil, fourth)); ok {
		t.Errorf("reuse after a mismatch: %+v", res)
	}
}

func runes(toks []uint32) []rune {
	out := make([]rune, len(toks))
	for i, t := range toks {
		out[i] = rune(t)
	}
	return out
}
