package routerbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// StubEngine is the trivial engine of the overhead benchmark: it answers
// every completion request with the same small JSON (or, for a streaming
// request, the same few SSE events) after a fixed delay, and serves vLLM-named /metrics, /v1/models and /health so a
// router treats it as a vLLM engine. It does no model work, so nearly all
// of a run's CPU is the client's and the router's.
type StubEngine struct {
	model    string
	delay    time.Duration
	srv      *http.Server
	addr     string
	inFlight atomic.Int64
	answer   []byte
	// events are the streamed answer's SSE events.
	events [][]byte
}

// StartStub starts a stub engine on listen (host:port, port 0 for a free
// one) until ctx ends or Close.
func StartStub(ctx context.Context, listen, model string, delay time.Duration) (*StubEngine, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("stub engine: %w", err)
	}
	s := &StubEngine{model: model, delay: delay, addr: ln.Addr().String()}
	s.answer = []byte(`{"id":"chatcmpl-stub","object":"chat.completion","created":0,"model":` + strconv.Quote(model) +
		`,"choices":[{"index":0,"message":{"role":"assistant","content":" stub answer"},"finish_reason":"length"}],` +
		`"usage":{"prompt_tokens":64,"completion_tokens":2,"total_tokens":66}}`)
	chunk := func(delta, finish, usage string) []byte {
		return []byte(`data: {"id":"chatcmpl-stub","object":"chat.completion.chunk","created":0,"model":` + strconv.Quote(model) +
			`,"choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]` + usage + "}\n\n")
	}
	s.events = [][]byte{
		chunk(`{"role":"assistant","content":""}`, "null", ""),
		chunk(`{"content":" stub"}`, "null", ""),
		chunk(`{"content":" answer"}`, "null", ""),
		chunk(`{}`, `"length"`, `,"usage":{"prompt_tokens":64,"completion_tokens":2,"total_tokens":66}`),
		[]byte("data: [DONE]\n\n"),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.complete)
	mux.HandleFunc("POST /v1/completions", s.complete)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = s.srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// Addr is the engine's host:port.
func (s *StubEngine) Addr() string { return s.addr }

// Close stops the engine, cutting open connections.
func (s *StubEngine) Close() { _ = s.srv.Close() }

func (s *StubEngine) complete(w http.ResponseWriter, r *http.Request) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	body, _ := io.ReadAll(r.Body)
	if s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	h := w.Header()
	if bytes.Contains(body, []byte(`"stream":true`)) {
		s.stream(w)
		return
	}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(s.answer))}
	_, _ = w.Write(s.answer)
}

// stream answers as an OpenAI chat stream: a role chunk, two tokens, the
// finish chunk with usage and [DONE], each event flushed on its own as an
// engine sends them.
func (s *StubEngine) stream(w http.ResponseWriter) {
	w.Header()["Content-Type"] = []string{"text/event-stream"}
	fl, _ := w.(http.Flusher)
	for _, ev := range s.events {
		if _, err := w.Write(ev); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

func (s *StubEngine) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"object":"model","owned_by":"tandem-bench"}]}`, s.model)
}

func (s *StubEngine) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	m := strconv.Quote(s.model)
	fmt.Fprintf(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=%s} %d\n", m, s.inFlight.Load())
	fmt.Fprintf(w, "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name=%s} 0\n", m)
	fmt.Fprintf(w, "# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name=%s} 0\n", m)
	fmt.Fprintf(w, "# TYPE vllm:cache_config_info gauge\nvllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"27000\"} 1\n")
}
