package router

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCompletionRequest sends arbitrary bodies through the whole request
// path to a simulated engine: the router never panics, refuses what is not
// a request with an OpenAI-style 4xx, and otherwise relays an answer.
func FuzzCompletionRequest(f *testing.F) {
	for _, s := range []string{
		chatBody("hi", ""), completionBody("x", `,"stream":true,"max_tokens":2`),
		`{"model":"test-model","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"max_tokens":1}`,
		`{"model":"test-model","prompt":[1,2,3],"max_tokens":1}`, `{"model":"other","prompt":"x"}`,
		`{"model":"test-model","prompt":"x","max_tokens":-1}`, `{"model":"test-model","messages":[{}]}`,
		`{`, `[]`, `{"model":"test-model","prompt":"x","kv_transfer_params":{"do_remote_decode":true}}`,
	} {
		f.Add(s, s[0]%2 == 0)
	}
	e := startEngine(f)
	fx := startRouter(f, testConfig(), specs(e))
	rt := fx.rt
	f.Fuzz(func(t *testing.T, body string, chat bool) {
		path := "/v1/completions"
		if chat {
			path = "/v1/chat/completions"
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
		case rec.Code >= 400 && rec.Code < 500:
			var e apiErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != rec.Code {
				t.Fatalf("status %d with a body that is not an OpenAI error: %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}
