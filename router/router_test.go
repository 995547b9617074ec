package router

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/tenant"
)

func TestModelsHealthAndRoutes(t *testing.T) {
	a := startEngine(t)
	b := startEngine(t, model("other-model"))
	f := startRouter(t, testConfig(), specs(a, b))

	resp, body := f.get(t, "/v1/models")
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID     string `json:"id"`
			Object string `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/models: %d %s", resp.StatusCode, body)
	}
	var ids []string
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{"other-model", testModel}, ids); diff != "" || list.Object != "list" {
		t.Errorf("models (-want +got):\n%s (object %q)", diff, list.Object)
	}

	cases := []struct {
		name, method, path string
		wantStatus         int
		wantBody           string
	}{
		{"health", http.MethodGet, "/health", http.StatusOK, `{"status":"ok","endpoints":2}`},
		{"unknown path", http.MethodGet, "/v2/other", http.StatusNotFound, ""},
		{"wrong method", http.MethodGet, "/v1/chat/completions", http.StatusMethodNotAllowed, ""},
		{"post to models", http.MethodPost, "/v1/models", http.StatusMethodNotAllowed, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.url+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			var buf strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&buf)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, buf.String())
			}
			if tc.wantBody != "" && buf.String() != tc.wantBody {
				t.Errorf("body %s, want %s", buf.String(), tc.wantBody)
			}
			if tc.wantStatus >= 400 {
				decodeError(t, []byte(buf.String()))
			}
		})
	}

	resp, body = f.get(t, "/metrics")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `tandem_router_endpoints{model="test-model",role="both"} 1`) {
		t.Errorf("GET /metrics: %d, lacks the endpoint gauge:\n%s", resp.StatusCode, body)
	}
}

// Whole answers pass through unchanged: the router's answer equals the
// engine's own for the same request.
func TestCompletionsPassThrough(t *testing.T) {
	e := startEngine(t)
	f := startRouter(t, testConfig(), specs(e))
	cases := []struct {
		name, path, body string
		wantObject       string
	}{
		{"chat", "/v1/chat/completions", chatBody("Hello there", `,"max_tokens":5`), "chat.completion"},
		{"completion", "/v1/completions", completionBody("Once upon a time", `,"max_tokens":5`), "text_completion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, tc.path, tc.body, "X-Request-Id", "fixed-"+tc.name)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			got := decodeCompletion(t, body)
			direct, err := http.Post(e.URL()+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = direct.Body.Close() }()
			var want completion
			if err := json.NewDecoder(direct.Body).Decode(&want); err != nil {
				t.Fatal(err)
			}
			if got.Object != tc.wantObject || got.ID != "chatcmpl-fixed-"+tc.name && got.ID != "cmpl-fixed-"+tc.name {
				t.Errorf("object %q id %q", got.Object, got.ID)
			}
			if diff := cmp.Diff(want.Choices, got.Choices); diff != "" {
				t.Errorf("choices differ from a direct call (-direct +router):\n%s", diff)
			}
			if got.Usage == nil || got.Usage.CompletionTokens != 5 {
				t.Errorf("usage %+v, want 5 completion tokens", got.Usage)
			}
		})
	}
}

// Streams arrive event by event in the engine's order, and the first event
// reaches the client while the engine is still generating: the router
// flushes each event instead of buffering the answer.
func TestStreamingOrderAndFlushing(t *testing.T) {
	e := startEngine(t, timeScale(1))
	f := startRouter(t, testConfig(), specs(e))
	body := chatBody("Tell me a story", `,"stream":true,"max_tokens":40,"stream_options":{"include_usage":true}`)
	req, _ := http.NewRequest(http.MethodPost, f.url+"/v1/chat/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("status %d content type %q", resp.StatusCode, ct)
	}
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("first line %q: %v", first, err)
	}
	// 40 tokens take 40 engine steps of 7.4 ms; the first event is here
	// long before the last token, so the engine must still be running it.
	if s := e.Snapshot(); s.Running != 1 {
		t.Errorf("first event arrived after generation ended (engine running %d): not flushed", s.Running)
	}
	var rest strings.Builder
	_, _ = r.WriteTo(&rest)
	evs := events([]byte(first + rest.String()))
	if evs[len(evs)-1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %q", evs[len(evs)-1])
	}
	var text strings.Builder
	for _, ev := range evs[:len(evs)-1] {
		text.WriteString(decodeCompletion(t, []byte(ev)).ChoiceDelta())
	}
	direct, err := http.Post(e.URL()+"/v1/chat/completions", "application/json",
		strings.NewReader(chatBody("Tell me a story", `,"max_tokens":40`)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = direct.Body.Close() }()
	var whole completion
	_ = json.NewDecoder(direct.Body).Decode(&whole)
	if text.String() != whole.Choices[0].Message.Content {
		t.Errorf("streamed text %q differs from the whole answer %q", text.String(), whole.Choices[0].Message.Content)
	}
	if v := f.metric(t, `tandem_router_time_to_first_token_seconds_count{model="test-model"}`); v != 1 {
		t.Errorf("TTFT observations = %g, want 1", v)
	}
}

// ChoiceDelta is the streamed content of a chunk.
func (c completion) ChoiceDelta() string {
	if len(c.Choices) == 0 {
		return ""
	}
	return c.Choices[0].Delta.Content + c.Choices[0].Text
}

func TestErrors(t *testing.T) {
	e := startEngine(t)
	cfg := testConfig()
	cfg.MaxBodyBytes = 2048
	cfg.Tenants.Header = "X-Tandem-Tenant"
	cfg.Tenants.List = []tenant.Entry{{Name: "limited", Policy: tenant.Policy{RequestsPerSecond: 0.001, Burst: 1}}}
	f := startRouter(t, cfg, append(specs(e), endpoint.Spec{Name: "dead", Address: "127.0.0.1:1", Models: []string{"dead-model"}, Role: endpoint.RoleBoth, Kind: endpoint.VLLM}))
	// The limited tenant's one-request burst is spent here.
	if resp, body := f.post(t, "/v1/completions", completionBody("x", ""), "X-Tandem-Tenant", "limited"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first request of the limited tenant: %d %s", resp.StatusCode, body)
	}
	cases := []struct {
		name, path, body string
		header           []string
		wantStatus       int
		wantType         string
		wantParam        string
	}{
		{name: "not JSON", path: "/v1/chat/completions", body: `{"model":`, wantStatus: 400, wantType: "BadRequestError"},
		{name: "missing model", path: "/v1/completions", body: `{"prompt":"x"}`, wantStatus: 400, wantType: "BadRequestError", wantParam: "model"},
		{name: "empty messages", path: "/v1/chat/completions", body: `{"model":"test-model","messages":[]}`, wantStatus: 400, wantType: "BadRequestError", wantParam: "messages"},
		{name: "unknown model", path: "/v1/completions", body: `{"model":"nope","prompt":"x"}`, wantStatus: 404, wantType: "NotFoundError", wantParam: "model"},
		{name: "too large", path: "/v1/completions", body: completionBody(strings.Repeat("x", 4000), ""), wantStatus: 413, wantType: "RequestTooLargeError"},
		{name: "tenant rate", path: "/v1/completions", body: completionBody("x", ""), header: []string{"X-Tandem-Tenant", "limited"}, wantStatus: 429, wantType: "RateLimitError"},
		{name: "no ready endpoint", path: "/v1/completions", body: `{"model":"dead-model","prompt":"x"}`, wantStatus: 503, wantType: "ServiceUnavailableError"},
		{name: "engine error passes through", path: "/v1/completions", body: completionBody("x", `,"max_tokens":0`), wantStatus: 400, wantType: "BadRequestError", wantParam: "max_tokens"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, tc.path, tc.body, tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			got := decodeError(t, body)
			param := ""
			if got.Error.Param != nil {
				param = *got.Error.Param
			}
			if got.Error.Type != tc.wantType || got.Error.Code != tc.wantStatus || param != tc.wantParam || got.Error.Message == "" {
				t.Errorf("error %+v (param %q), want type %s code %d param %q", got.Error, param, tc.wantType, tc.wantStatus, tc.wantParam)
			}
		})
	}
}

// A request that outlives timeouts.request gets 504; with an API key
// file, an unknown key gets 401.
func TestTimeoutAndUnknownKey(t *testing.T) {
	hung := startEngine(t, faults(server.Faults{HangRate: 1}))
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keys, []byte("keys: {sk-good: team}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Timeouts.Request = Duration{50 * time.Millisecond}
	cfg.Tenants = tenant.Config{KeysFile: keys}
	f := startRouter(t, cfg, specs(hung))
	cases := []struct {
		name       string
		key        string
		wantStatus int
		wantType   string
	}{
		{"unknown key", "sk-bad", http.StatusUnauthorized, "AuthenticationError"},
		{"timeout", "sk-good", http.StatusGatewayTimeout, "TimeoutError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.post(t, "/v1/completions", completionBody("x", ""), "Authorization", "Bearer "+tc.key)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if e := decodeError(t, body); e.Error.Type != tc.wantType {
				t.Errorf("error %+v, want type %s", e.Error, tc.wantType)
			}
		})
	}
}
