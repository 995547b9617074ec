package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeEngine answers every request with the given stream body (or status),
// recording the decoded request bodies in arrival order.
type fakeEngine struct {
	status int
	stream string
	mu     sync.Mutex
	bodies []map[string]any
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	raw, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(raw, &b)
	f.mu.Lock()
	f.bodies = append(f.bodies, b)
	f.mu.Unlock()
	if f.status != 0 {
		http.Error(w, `{"error":{"message":"no"}}`, f.status)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, line := range strings.SplitAfter(f.stream, "\n\n") {
		_, _ = io.WriteString(w, line)
		w.(http.Flusher).Flush()
	}
}

func chatStream(words ...string) string {
	var b strings.Builder
	b.WriteString(`data: {"choices":[{"delta":{"role":"assistant","content":""}}]}` + "\n\n")
	for _, w := range words {
		fmt.Fprintf(&b, "data: {\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", w)
	}
	b.WriteString(`data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}` + "\n\n")
	return b.String()
}

func do(t *testing.T, f *fakeEngine, api string) Result {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := &Client{HTTP: srv.Client(), API: api, Model: "m"}
	r := &Request{Index: 4, MaxTokens: 3, Messages: []Message{{Role: "system", Content: "s"}, {Role: "user", Content: "q"}}}
	return c.Do(context.Background(), srv.URL, r, time.Now())
}

func TestClientMeasuresAStream(t *testing.T) {
	f := &fakeEngine{stream: chatStream(" a", " b", " c") + "data: [DONE]\n\n"}
	res := do(t, f, APIChat)
	if res.Err != "" || res.OutputTokens != 3 || res.PromptTokens != 12 || len(res.ITL) != 2 || res.Index != 4 {
		t.Errorf("result %+v: want success, 3 output and 12 prompt tokens, 2 gaps", res)
	}
	if res.TTFT <= 0 || res.E2E < res.TTFT {
		t.Errorf("TTFT %v, E2E %v", res.TTFT, res.E2E)
	}
	want := map[string]any{
		"model": "m", "max_tokens": 3.0, "stream": true, "temperature": 0.0,
		"stream_options": map[string]any{"include_usage": true},
		"messages": []any{
			map[string]any{"role": "system", "content": "s"},
			map[string]any{"role": "user", "content": "q"},
		},
	}
	if diff := cmp.Diff(want, f.bodies[0]); diff != "" {
		t.Errorf("request body (-want +got):\n%s", diff)
	}
}

func TestClientCompletionsAPI(t *testing.T) {
	f := &fakeEngine{stream: `data: {"choices":[{"text":" x"}]}` + "\n\n" + `data: {"choices":[{"text":" y"}]}` + "\n\ndata: [DONE]\n\n"}
	res := do(t, f, APICompletions)
	if res.Err != "" || res.OutputTokens != 2 {
		t.Errorf("result %+v: want success with 2 tokens counted from chunks", res)
	}
	if got := f.bodies[0]["prompt"]; got != "s\nq" {
		t.Errorf("prompt %q, want the messages joined", got)
	}
}

func TestClientErrors(t *testing.T) {
	cases := []struct {
		name string
		f    *fakeEngine
		want string
	}{
		{"http status", &fakeEngine{status: 429}, "http_429"},
		{"cut before [DONE]", &fakeEngine{stream: chatStream(" a")}, ErrStreamCut},
		{"bad chunk", &fakeEngine{stream: "data: {oops\n\n"}, ErrBadStream},
		{"no tokens", &fakeEngine{stream: "data: [DONE]\n\n"}, ErrNoTokens},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := do(t, tc.f, APIChat); got.Err != tc.want {
				t.Errorf("error kind %q (%s), want %q", got.Err, got.Detail, tc.want)
			}
		})
	}
	c := &Client{HTTP: &http.Client{}, API: APIChat, Model: "m"}
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if got := c.Do(context.Background(), url, &Request{MaxTokens: 1}, time.Now()); got.Err != ErrConnect {
		t.Errorf("closed server: error kind %q, want %q", got.Err, ErrConnect)
	}
}

func TestAssign(t *testing.T) {
	reqs := make([]Request, 6)
	for i := range reqs {
		reqs[i].Key = uint64(i % 2)
	}
	rr, _ := Assign(PolicyRoundRobin, reqs, 3, 1)
	if diff := cmp.Diff([]int{0, 1, 2, 0, 1, 2}, rr); diff != "" {
		t.Errorf("round-robin (-want +got):\n%s", diff)
	}
	sticky, _ := Assign(PolicySticky, reqs, 3, 1)
	for i := range reqs {
		if sticky[i] != sticky[i%2] {
			t.Errorf("sticky sends key %d to %d and %d", i%2, sticky[i%2], sticky[i])
		}
	}
	r1, _ := Assign(PolicyRandom, reqs, 3, 1)
	r2, _ := Assign(PolicyRandom, reqs, 3, 1)
	if !cmp.Equal(r1, r2) {
		t.Errorf("random with one seed: %v then %v", r1, r2)
	}
	if _, err := Assign("bogus", reqs, 2, 1); err == nil {
		t.Error("unknown policy accepted")
	}
	if one, _ := Assign("bogus", reqs, 1, 1); !cmp.Equal(one, make([]int, 6)) {
		t.Errorf("one target: %v", one)
	}
}

// A turn is sent only after the turn it follows has finished, even in an
// open loop where both are due at once.
func TestExecuteWaitsForThePreviousTurn(t *testing.T) {
	var mu sync.Mutex
	var order []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Messages []Message `json:"messages"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		name := b.Messages[len(b.Messages)-1].Content
		if name == "first" {
			time.Sleep(20 * time.Millisecond) // would let "second" overtake
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		_, _ = io.WriteString(w, chatStream(" a")+"data: [DONE]\n\n")
	}))
	defer srv.Close()
	reqs := []Request{
		{Index: 0, After: -1, MaxTokens: 1, Messages: []Message{{Role: "user", Content: "first"}}},
		{Index: 1, After: 0, MaxTokens: 1, Messages: []Message{{Role: "user", Content: "second"}}},
	}
	results, _ := Execute(context.Background(), Plan{
		Requests: reqs, Offsets: []time.Duration{0, 0}, Targets: []string{srv.URL}, Assigned: []int{0, 0},
		Client: &Client{HTTP: srv.Client(), API: APIChat, Model: "m"}, Timeout: 10 * time.Second,
	})
	if diff := cmp.Diff([]string{"first", "second"}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	for _, r := range results {
		if r.Err != "" {
			t.Errorf("request %d: %s %s", r.Index, r.Err, r.Detail)
		}
	}
}
