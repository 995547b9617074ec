package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-serving/tandem/router/endpoint"
)

// trivialEngine answers every completion at once with a fixed small chat
// completion: it isolates the router's own cost, as the Kthena figures in
// the architecture brief were measured. (Tests use the simulator; this is
// for benchmarks only.)
func trivialEngine(b *testing.B) *httptest.Server {
	answer := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"test-model","choices":[{"index":0,"message":{"role":"assistant","content":"hello there"},"finish_reason":"length"}],"usage":{"prompt_tokens":20,"completion_tokens":2,"total_tokens":22}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			_, _ = io.WriteString(w, "vllm:num_requests_waiting 0\nvllm:num_requests_running 0\nvllm:kv_cache_usage_perc 0\n")
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
		_, _ = w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
}

func runChats(b *testing.B, url, body string) {
	client := benchClient()
	b.SetParallelism(16) // 32 concurrent clients on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

func benchEngines(b *testing.B, n int) []endpoint.Spec {
	var eps []endpoint.Spec
	for range n {
		srv := trivialEngine(b)
		s := endpoint.Spec{Address: strings.TrimPrefix(srv.URL, "http://"), Models: []string{testModel}}
		if err := s.Normalize(); err != nil {
			b.Fatal(err)
		}
		eps = append(eps, s)
	}
	return eps
}

var smallChat = chatBody("Write a haiku about the sea, please.", `,"max_tokens":16`)

// BenchmarkDirect is the baseline: clients straight to one trivial engine.
func BenchmarkDirect(b *testing.B) {
	eps := benchEngines(b, 1)
	runChats(b, "http://"+eps[0].Address, smallChat)
}

// BenchmarkRouter is the same load through the router (tandem policy) to
// four trivial engines; ns/op against BenchmarkDirect is the overhead.
func BenchmarkRouter(b *testing.B) {
	f := startRouter(b, testConfig(), benchEngines(b, 4))
	runChats(b, f.url, smallChat)
}

// BenchmarkRouter4KB sends 4 KB prompts through the router.
func BenchmarkRouter4KB(b *testing.B) {
	f := startRouter(b, testConfig(), benchEngines(b, 4))
	runChats(b, f.url, chatBody(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 90), `,"max_tokens":16`))
}

// BenchmarkRouter200KB sends 200 KB prompts through the router.
func BenchmarkRouter200KB(b *testing.B) {
	f := startRouter(b, testConfig(), benchEngines(b, 4))
	runChats(b, f.url, chatBody(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4600), `,"max_tokens":16`))
}
