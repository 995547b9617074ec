package router

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const heldSample = `tandem_router_scale_from_zero_held_requests{model="` + testModel + `"}`

type heldReply struct {
	status int
	header http.Header
	body   string
	err    error
}

// postAsync sends body in the background (no t.Fatal off the test's
// goroutine) and delivers the whole answer on the channel.
func (f *fixture) postAsync(path, body string) <-chan heldReply {
	out := make(chan heldReply, 1)
	go func() {
		resp, err := http.Post(f.url+path, "application/json", strings.NewReader(body))
		if err != nil {
			out <- heldReply{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		out <- heldReply{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
	}()
	return out
}

func receive(t *testing.T, ch <-chan heldReply) heldReply {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
		return heldReply{}
	}
}

// A request for a model whose group has no ready endpoint is held, counts
// as held demand while it waits, and is served by the first endpoint that
// appears, streamed or not.
func TestHeldRequestIsServedWhenAnEndpointAppears(t *testing.T) {
	for _, tc := range []struct {
		name, body string
	}{
		{"whole answer", chatBody("hello from zero", "")},
		{"stream", chatBody("hello from zero", `,"stream":true`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEngine(t)
			f := startRouter(t, testConfig(), nil)
			f.rt.SetKnownModels([]string{testModel})
			answer := f.postAsync("/v1/chat/completions", tc.body)
			waitFor(t, "the request to be held", func() bool { return f.metric(t, heldSample) == 1 })
			select {
			case r := <-answer:
				t.Fatalf("answered %d while no endpoint existed: %s", r.status, r.body)
			default:
			}
			f.rt.Registry().Update(specs(e))
			r := receive(t, answer)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, body %s", r.status, r.body)
			}
			if strings.Contains(tc.body, `"stream":true`) {
				if got := events([]byte(r.body)); len(got) == 0 || got[len(got)-1] != "[DONE]" {
					t.Errorf("stream events %q: want a stream ending in [DONE]", got)
				}
			} else if c := decodeCompletion(t, []byte(r.body)); len(c.Choices) == 0 || c.Choices[0].Message.Content == "" {
				t.Errorf("completion without content: %s", r.body)
			}
			if got := f.metric(t, heldSample); got != 0 {
				t.Errorf("held requests after the answer = %g, want 0", got)
			}
			if got := f.metric(t, `tandem_router_scale_from_zero_wait_seconds_count{model="`+testModel+`",outcome="served"}`); got != 1 {
				t.Errorf("served holds = %g, want 1", got)
			}
		})
	}
}

// Past scaleFromZero.maxWait the client gets 503 with the configured
// Retry-After and an OpenAI-style error, a stream included (nothing of it
// was sent); the refusal counts under the model, so the autoscaler sees
// the demand even after the wait.
func TestHeldRequestTimesOutWith503(t *testing.T) {
	for _, tc := range []struct {
		name, body string
	}{
		{"whole answer", chatBody("nobody home", "")},
		{"stream", chatBody("nobody home", `,"stream":true`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.ScaleFromZero.MaxWait = Duration{20 * time.Millisecond}
			cfg.ScaleFromZero.RetryAfter = Duration{1500 * time.Millisecond}
			f := startRouter(t, cfg, nil)
			f.rt.SetKnownModels([]string{testModel})
			r, body := f.post(t, "/v1/chat/completions", tc.body)
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503; body %s", r.StatusCode, body)
			}
			got := map[string]string{"Retry-After": r.Header.Get("Retry-After"), "Content-Type": r.Header.Get("Content-Type")}
			want := map[string]string{"Retry-After": "2", "Content-Type": "application/json"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			e := decodeError(t, body)
			if e.Error.Type != "ServiceUnavailableError" || e.Error.Code != 503 || !strings.Contains(e.Error.Message, "scaling up from zero") {
				t.Errorf("error %+v: want a ServiceUnavailableError saying the model is scaling up from zero", e.Error)
			}
			if got := f.metric(t, `tandem_router_requests_total{code="503",model="`+testModel+`"}`); got != 1 {
				t.Errorf("503s counted under the model = %g, want 1", got)
			}
			if got := f.metric(t, `tandem_router_refused_total{reason="scale-from-zero-timeout"}`); got != 1 {
				t.Errorf("refusals for scale-from-zero-timeout = %g, want 1", got)
			}
		})
	}
}

// Only declared models are held: any other name without endpoints is 404
// at once, and a held request whose model stops being declared (its
// group deleted) gets 404 too.
func TestOnlyKnownModelsAreHeld(t *testing.T) {
	f := startRouter(t, testConfig(), nil)
	f.rt.SetKnownModels([]string{"other-model"})
	r, body := f.post(t, "/v1/chat/completions", chatBody("hi", ""))
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown model: status %d, want 404; body %s", r.StatusCode, body)
	}

	f.rt.SetKnownModels([]string{testModel})
	answer := f.postAsync("/v1/chat/completions", chatBody("hi", ""))
	waitFor(t, "the request to be held", func() bool { return f.metric(t, heldSample) == 1 })
	f.rt.SetKnownModels(nil)
	if got := receive(t, answer); got.status != http.StatusNotFound {
		t.Errorf("model removed while held: status %d, want 404; body %s", got.status, got.body)
	}
	if diff := cmp.Diff([]string{}, f.rt.KnownModels()); diff != "" {
		t.Errorf("known models (-want +got):\n%s", diff)
	}
}

// maxWait 0 turns holding off: a known model without endpoints is 503
// at once, still not 404 (the model exists; it has no capacity).
func TestNoHoldWithZeroMaxWait(t *testing.T) {
	cfg := testConfig()
	cfg.ScaleFromZero.MaxWait = Duration{}
	f := startRouter(t, cfg, nil)
	f.rt.SetKnownModels([]string{testModel})
	r, body := f.post(t, "/v1/completions", completionBody("hi", ""))
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "10" {
		t.Errorf("status %d, Retry-After %q; want 503 and the default 10; body %s", r.StatusCode, r.Header.Get("Retry-After"), body)
	}
}

func TestScaleFromZeroConfig(t *testing.T) {
	cases := []struct {
		name string
		set  func(*ScaleFromZeroConfig)
		want string
	}{
		{"defaults", func(*ScaleFromZeroConfig) {}, ""},
		{"negative wait", func(s *ScaleFromZeroConfig) { s.MaxWait = Duration{-time.Second} }, "scaleFromZero.maxWait -1s: must not be negative"},
		{"retry after below a second", func(s *ScaleFromZeroConfig) { s.RetryAfter = Duration{500 * time.Millisecond} }, "scaleFromZero.retryAfter 500ms: must be at least 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg.ScaleFromZero)
			got := ""
			if err := cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}

// /v1/models lists a model scaled to zero beside the ready ones, once.
func TestModelsListsKnownModelsWithoutEndpoints(t *testing.T) {
	f := startRouter(t, testConfig(), specs(startEngine(t)))
	f.rt.SetKnownModels([]string{testModel, "cold-model"})
	ids := func() []string {
		_, body := f.get(t, "/v1/models")
		var list struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("models body %s: %v", body, err)
		}
		var out []string
		for _, d := range list.Data {
			out = append(out, d.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"cold-model", testModel}, ids()); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	f.rt.SetKnownModels([]string{testModel})
	if diff := cmp.Diff([]string{testModel}, ids()); diff != "" {
		t.Errorf("models after cold-model's group went (-want +got):\n%s", diff)
	}
}
