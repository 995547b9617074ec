package routerbench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

func TestLoopAgainstStubEngines(t *testing.T) {
	ctx := t.Context()
	var urls []string
	for range 2 {
		s, err := StartStub(ctx, "127.0.0.1:0", "m", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		urls = append(urls, "http://"+s.Addr()+"/v1/chat/completions")
	}
	for _, tc := range []struct {
		name   string
		rate   float64
		stream bool
	}{{"closed loop", 0, false}, {"open loop", 500, false}, {"closed loop, streaming", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			bodies, err := OverheadBodies("m", 4, 64, 2, 1, tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			var marks []bool
			loop := Loop{URLs: urls, Bodies: bodies, Stream: tc.stream, Concurrency: 4, Rate: tc.rate, Warmup: 20 * time.Millisecond,
				Window: 200 * time.Millisecond, Mark: func(end bool) { marks = append(marks, end) }}
			res := loop.Run(ctx, &http.Client{Transport: NewLoadTransport(4)})
			if len(res.Latencies) == 0 || len(res.Errors) > 0 {
				t.Errorf("%d successes, errors %v; want successes only", len(res.Latencies), res.Errors)
			}
			if len(marks) != 2 || marks[0] || !marks[1] {
				t.Errorf("marks %v, want [false true]: the window's start, then its end", marks)
			}
			if res.Window <= 0 {
				t.Errorf("window %v, want positive", res.Window)
			}
		})
	}
}

// A streaming loop that gets whole answers counts them as errors: the
// stream case must measure streams.
func TestLoopWantsStreams(t *testing.T) {
	s, err := StartStub(t.Context(), "127.0.0.1:0", "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	whole, err := OverheadBodies("m", 1, 64, 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	loop := Loop{URLs: []string{"http://" + s.Addr() + "/v1/chat/completions"}, Bodies: whole, Stream: true, Concurrency: 1,
		Window: 50 * time.Millisecond}
	res := loop.Run(t.Context(), &http.Client{Transport: NewLoadTransport(1)})
	if len(res.Latencies) != 0 || res.Errors["not_stream"] == 0 {
		t.Errorf("%d successes, errors %v; want only not_stream errors", len(res.Latencies), res.Errors)
	}
}

func TestLoopCountsErrors(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1)%2 == 0 {
			http.Error(w, "busy", http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	loop := Loop{URLs: []string{srv.URL, "http://127.0.0.1:1"}, Bodies: [][]byte{[]byte("{}")}, Concurrency: 2,
		Window: 100 * time.Millisecond}
	res := loop.Run(context.Background(), &http.Client{Transport: NewLoadTransport(2)})
	if res.Errors["connect"] == 0 || res.Errors["http_429"] == 0 || len(res.Latencies) == 0 {
		t.Errorf("errors %v and %d successes; want connect and http_429 errors besides successes", res.Errors, len(res.Latencies))
	}
}

func TestStubEngineServesWhatARouterReads(t *testing.T) {
	s, err := StartStub(t.Context(), "127.0.0.1:0", "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, path := range []string{"/v1/models", "/metrics", "/health"} {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", path, resp.StatusCode)
		}
	}
	m, err := load.Scrape(t.Context(), http.DefaultClient, "http://"+s.Addr())
	if err != nil || m.BlockSize != 16 || m.NumGPUBlocks != 27000 {
		t.Errorf("the stub's vllm:cache_config_info reads as %+v (%v), want block size 16 and 27000 blocks", m, err)
	}
}
