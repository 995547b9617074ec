package router

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
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"

	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/schedule"
)

const testModel = "test-model"

// engineOpt changes one simulated engine's configuration.
type engineOpt func(*sim.Config)

func role(r server.Role) engineOpt     { return func(c *sim.Config) { c.Role = r } }
func timeScale(s float64) engineOpt    { return func(c *sim.Config) { c.TimeScale = s } }
func faults(f server.Faults) engineOpt { return func(c *sim.Config) { c.Faults = f } }
func engineID(id string) engineOpt     { return func(c *sim.Config) { c.EngineID = id } }
func model(name string) engineOpt      { return func(c *sim.Config) { c.Engine.Model = name } }

// startEngine runs one simulated vLLM engine on a free loopback port.
func startEngine(t testing.TB, opts ...engineOpt) *sim.Engine {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Engine.Model = testModel
	cfg.TimeScale = 0
	cfg.DefaultMaxTokens = 4
	cfg.Lengths.Dist = engine.LengthsFixed // tests count the tokens they asked for
	for _, o := range opts {
		o(&cfg)
	}
	e, err := sim.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// spec describes engine e as an endpoint.
func spec(e *sim.Engine, r endpoint.Role, unit string) endpoint.Spec {
	s := endpoint.Spec{Address: e.Addr(), Models: []string{e.Config().Engine.Model}, Role: r, Group: "g", Unit: unit}
	if err := s.Normalize(); err != nil {
		panic(err)
	}
	return s
}

func specs(engines ...*sim.Engine) []endpoint.Spec {
	out := make([]endpoint.Spec, len(engines))
	for i, e := range engines {
		out[i] = spec(e, endpoint.RoleBoth, "0")
	}
	return out
}

// fixture is a router in front of simulated engines, served over real HTTP.
type fixture struct {
	rt  *Router
	url string
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Scrape.Interval = Duration{20 * time.Millisecond}
	cfg.Scrape.StaleAfter = Duration{time.Second}
	cfg.Breaker.Cooldown = Duration{50 * time.Millisecond}
	cfg.Metrics.Address = "" // the fixtures read /metrics on the API listener
	return cfg
}

func startRouter(t testing.TB, cfg Config, eps []endpoint.Spec) *fixture {
	t.Helper()
	var log logr.Logger
	if tt, ok := t.(*testing.T); ok {
		log = testr.NewWithOptions(tt, testr.Options{Verbosity: 1})
	}
	rt, err := New(cfg, Options{Plugins: schedule.DefaultPlugins(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rt.Registry().Update(eps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { rt.Run(ctx); close(done) }()
	srv := httptest.NewServer(rt)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
	})
	return &fixture{rt: rt, url: srv.URL}
}

// reply is a finished response: status, headers and (separately) body.
type reply struct {
	StatusCode int
	Header     http.Header
}

func (f *fixture) post(t testing.TB, path, body string, header ...string) (reply, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header}, b
}

func (f *fixture) get(t testing.TB, path string) (reply, []byte) {
	t.Helper()
	resp, err := http.Get(f.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header}, b
}

// metric returns the value of one sample line of the router's /metrics,
// e.g. `tandem_router_retries_total{cause="connect",model="test-model"}`,
// or 0 if absent.
func (f *fixture) metric(t testing.TB, sample string) float64 {
	t.Helper()
	_, body := f.get(t, "/metrics")
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// waitFor polls cond until it holds or a generous deadline passes; tests
// never depend on how fast it becomes true.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type apiErrorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    int     `json:"code"`
	} `json:"error"`
}

func decodeError(t testing.TB, body []byte) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not OpenAI-style JSON: %v", body, err)
	}
	return e
}

// events splits an SSE body into its data payloads.
func events(body []byte) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(body))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		if d, ok := strings.CutPrefix(s.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

type completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Text    string `json:"text"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens        int `json:"prompt_tokens"`
		CompletionTokens    int `json:"completion_tokens"`
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func decodeCompletion(t testing.TB, body []byte) completion {
	t.Helper()
	var c completion
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("completion %q: %v", body, err)
	}
	return c
}

func chatBody(content string, extra string) string {
	c, _ := json.Marshal(content)
	return `{"model":"` + testModel + `","messages":[{"role":"user","content":` + string(c) + `}]` + extra + `}`
}

func completionBody(prompt string, extra string) string {
	p, _ := json.Marshal(prompt)
	return `{"model":"` + testModel + `","prompt":` + string(p) + extra + `}`
}

func kvEvents() engineOpt {
	return func(c *sim.Config) { c.KVEventsEndpoint = "tcp://127.0.0.1:0" }
}

// hashSeed gives an engine its own block hash seed (vLLM: PYTHONHASHSEED).
func hashSeed(s uint64) engineOpt { return func(c *sim.Config) { c.Engine.HashSeed = s } }
