package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/router/endpoint"
	"github.com/tandem-serving/tandem/router/schedule"
)

// Drills of the router's timeouts and limits (router/README.md, "Timeouts
// and limits"), over real TCP against the server Serve builds: the limits
// live in its http.Server, which httptest.NewServer would not use.

// startServed runs a router on a loopback listener through Serve.
func startServed(t testing.TB, cfg Config, eps []endpoint.Spec) *fixture {
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { rt.Run(ctx); close(ran) }()
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		<-ran
	})
	return &fixture{rt: rt, url: "http://" + ln.Addr().String()}
}

// counterValue is the value of one sample of the router's metrics, read
// from its registry (not over HTTP: /metrics may have its own listener).
func counterValue(t testing.TB, rt *Router, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := rt.Metrics().Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if cmp.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func TestTimeoutsAndLimitsConfig(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "defaults", yaml: "{}\n"},
		{name: "no header timeout", yaml: "timeouts: {header: 0s}\n", wantErr: "timeouts.header 0s: must be positive"},
		{name: "negative stream idle", yaml: "timeouts: {streamIdle: -1s}\n", wantErr: "timeouts.streamIdle -1s: must not be negative"},
		{name: "negative request", yaml: "timeouts: {request: -1m}\n", wantErr: "timeouts.request -1m0s: must not be negative"},
		{name: "no request timeout is allowed", yaml: "timeouts: {request: 0s, body: 0s, streamIdle: 0s}\n"},
		{name: "tiny header cap", yaml: "limits: {maxHeaderBytes: 100}\n", wantErr: "limits.maxHeaderBytes 100: must be at least 1024"},
		{name: "no in-flight cap", yaml: "limits: {maxInFlight: 0}\n", wantErr: "limits.maxInFlight 0: must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "router.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(path)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	// The documented defaults: every bound finite (router/README.md).
	got := DefaultConfig()
	want := struct{ Header, Body, FirstByte, StreamIdle, Request time.Duration }{
		10 * time.Second, time.Minute, 5 * time.Minute, time.Minute, 10 * time.Minute,
	}
	have := struct{ Header, Body, FirstByte, StreamIdle, Request time.Duration }{
		got.Timeouts.Header.Duration, got.Timeouts.Body.Duration, got.Timeouts.FirstByte.Duration,
		got.Timeouts.StreamIdle.Duration, got.Timeouts.Request.Duration,
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("default timeouts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(LimitsConfig{MaxHeaderBytes: 64 << 10, MaxInFlight: 2048}, got.Limits); diff != "" {
		t.Errorf("default limits (-want +got):\n%s", diff)
	}
}

// A slow-loris client, sending its request line and headers one byte a
// second, is disconnected at the header timeout with nothing answered,
// while normal requests in parallel are served.
func TestSlowLorisCutAtHeaderTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.Timeouts.Header = Duration{2 * time.Second}
	f := startServed(t, cfg, specs(startEngine(t)))
	start := time.Now() // before the router can have accepted
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()

	// The router's side: whatever it sends, until it closes.
	type closed struct {
		got []byte
		err error
		at  time.Duration
	}
	cut := make(chan closed, 1)
	go func() {
		got, err := io.ReadAll(conn)
		cut <- closed{got, err, time.Since(start)}
	}()
	// Normal requests, one after another, until the cut.
	served := make(chan int, 1)
	stop := make(chan struct{})
	go func() {
		n := 0
		defer func() { served <- n }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if resp, b := f.post(t, "/v1/completions", completionBody(fmt.Sprint("served ", i), "")); resp.StatusCode != http.StatusOK {
				t.Errorf("request %d beside the slow client: %d %s", i, resp.StatusCode, b)
				return
			}
			n++
			time.Sleep(10 * time.Millisecond)
		}
	}()

	header := "POST /v1/completions HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	sent := 0
	var end closed
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for sent < len(header) {
		if _, err := conn.Write([]byte{header[sent]}); err != nil {
			end = <-cut // the router closed first
			break
		}
		sent++
		select {
		case end = <-cut:
			break loop
		case <-tick.C:
		}
	}
	close(stop)
	n := <-served
	t.Logf("slow client cut after %s, %d of %d header bytes sent; %d requests served meanwhile", end.at.Round(10*time.Millisecond), sent, len(header), n)
	if sent == len(header) {
		t.Fatalf("the whole request went through one byte a second; it was never cut")
	}
	// net/http closes the connection, after a 400 when part of a request
	// had arrived.
	if len(end.got) != 0 && !strings.HasPrefix(string(end.got), "HTTP/1.1 400 ") {
		t.Errorf("the router answered the slow client %q; want a close, at most after a 400", end.got)
	}
	if end.at < cfg.Timeouts.Header.Duration {
		t.Errorf("cut after %s, before the header timeout %s", end.at, cfg.Timeouts.Header.Duration)
	}
	if n == 0 {
		t.Errorf("no request was served while the slow client held its connection")
	}
}

// A body that stops arriving is refused at the body timeout, naming it.
func TestSlowBodyCutAtBodyTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.Timeouts.Body = Duration{300 * time.Millisecond}
	f := startServed(t, cfg, specs(startEngine(t)))
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	body := completionBody("never finished", "")
	req := "POST /v1/completions HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body[:10]
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hung test fails instead
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d %s, want 400", resp.StatusCode, b)
	}
	if msg := decodeError(t, b).Error.Message; !strings.Contains(msg, "timeouts.body (300ms)") {
		t.Errorf("message %q does not name timeouts.body", msg)
	}
	if resp, b := f.post(t, "/v1/completions", completionBody("a whole body", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("a normal request after it: %d %s", resp.StatusCode, b)
	}
}

// A header block over limits.maxHeaderBytes gets 431 from net/http.
func TestHeaderCap(t *testing.T) {
	cfg := testConfig()
	cfg.Limits.MaxHeaderBytes = 4096
	f := startServed(t, cfg, specs(startEngine(t)))
	resp, _ := f.post(t, "/v1/completions", completionBody("x", ""), "X-Padding", strings.Repeat("p", 16<<10))
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	if resp, b := f.post(t, "/v1/completions", completionBody("x", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("a normal request: %d %s", resp.StatusCode, b)
	}
}

// stallEngine answers every completion as a stream: events events, then
// nothing until the router gives up on it (events < 0: not even
// headers). held receives one value per request it holds; closed one per
// request the router closed.
type stallEngine struct {
	srv    *http.Server
	addr   string
	events int
	held   chan struct{}
	closed chan struct{}
}

func startStallEngine(t *testing.T, events int) *stallEngine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &stallEngine{addr: ln.Addr().String(), events: events, held: make(chan struct{}, 64), closed: make(chan struct{}, 64)}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	t.Cleanup(func() { _ = e.srv.Close() })
	return e
}

func (e *stallEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/completions" {
		http.NotFound(w, r)
		return
	}
	_, _ = io.Copy(io.Discard, r.Body)
	if e.events < 0 {
		e.held <- struct{}{}
		<-r.Context().Done()
		e.closed <- struct{}{}
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for i := range e.events {
		_, _ = fmt.Fprintf(w, "data: {\"id\":\"cmpl-stall\",\"object\":\"text_completion\",\"choices\":[{\"index\":0,\"text\":\"t%d\"}]}\n\n", i)
	}
	w.(http.Flusher).Flush()
	e.held <- struct{}{}
	<-r.Context().Done() // the router closed the connection
	e.closed <- struct{}{}
}

func (e *stallEngine) spec(name string) endpoint.Spec {
	return e.specAs(name, endpoint.RoleBoth, endpoint.VLLM)
}

func (e *stallEngine) specAs(name string, r endpoint.Role, kind endpoint.Kind) endpoint.Spec {
	s := endpoint.Spec{Name: name, Address: e.addr, Models: []string{testModel}, Role: r, Kind: kind, Group: "g", Unit: "0"}
	if err := s.Normalize(); err != nil {
		panic(err)
	}
	return s
}

// An engine that stops mid-stream: the client's stream ends with an
// OpenAI error event after the idle timeout (or the request timeout), the
// engine connection is closed, and the router counts the broken stream.
func TestStalledStreamEndsWithErrorEvent(t *testing.T) {
	cases := []struct {
		name      string
		timeouts  func(*TimeoutConfig)
		bound     time.Duration
		wantCode  int
		wantMsg   string
		wantFault float64 // breaker failures charged to the engine
	}{
		{
			name:     "stream idle timeout",
			timeouts: func(c *TimeoutConfig) { c.StreamIdle = Duration{300 * time.Millisecond} },
			bound:    300 * time.Millisecond, wantCode: 504,
			wantMsg: "the engine sent no event for 300ms (timeouts.streamIdle)", wantFault: 1,
		},
		{
			name: "request timeout",
			timeouts: func(c *TimeoutConfig) {
				c.StreamIdle = Duration{time.Hour}
				c.Request = Duration{500 * time.Millisecond}
			},
			bound: 500 * time.Millisecond, wantCode: 504,
			wantMsg: "the request exceeded 500ms (timeouts.request)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng := startStallEngine(t, 2)
			cfg := testConfig()
			tc.timeouts(&cfg.Timeouts)
			cfg.Breaker.Failures = 1000
			f := startServed(t, cfg, []endpoint.Spec{eng.spec("stall")})
			start := time.Now()
			resp, body := f.post(t, "/v1/completions", completionBody("tell me", `,"stream":true`))
			took := time.Since(start)
			t.Logf("the stream ended %s after the request (bound %s)", took.Round(time.Millisecond), tc.bound)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200 (the stream had started): %s", resp.StatusCode, body)
			}
			evs := events(body)
			if len(evs) != 3 {
				t.Fatalf("events %q, want the engine's two and an error event", evs)
			}
			e := decodeError(t, []byte(evs[2]))
			if diff := cmp.Diff([]any{tc.wantMsg, "TimeoutError", tc.wantCode}, []any{e.Error.Message, e.Error.Type, e.Error.Code}); diff != "" {
				t.Errorf("error event (-want +got):\n%s", diff)
			}
			if strings.Contains(string(body), "[DONE]") {
				t.Errorf("a broken stream must not end with [DONE]: %q", body)
			}
			// Slack for a shared, slow machine; the stream would otherwise
			// hang until the test's own timeout.
			if took > tc.bound+15*time.Second {
				t.Errorf("the stream ended after %s, long past its bound %s", took, tc.bound)
			}
			select {
			case <-eng.closed:
			case <-time.After(20 * time.Second):
				t.Fatal("the router never closed its connection to the stalled engine")
			}
			if v := counterValue(t, f.rt, "tandem_router_stream_errors_total", map[string]string{"model": testModel}); v != 1 {
				t.Errorf("stream errors = %g, want 1", v)
			}
			ep := f.rt.Registry().Snapshot().Endpoint("stall")
			if ep == nil {
				t.Fatal("endpoint stall is gone")
			}
			if got := ep.InFlight.Load(); got != 0 {
				t.Errorf("endpoint in-flight = %d after the stream ended, want 0", got)
			}
			if got := ep.ContextTokens.Load(); got != 0 {
				t.Errorf("endpoint context tokens = %d after the stream ended, want 0", got)
			}
		})
	}
}

// An engine that stalls before its first event is abandoned at the first
// byte timeout and the request goes to the next candidate, as any failure
// before the first byte does.
func TestStallBeforeFirstEventFallsBack(t *testing.T) {
	stall := startStallEngine(t, 0)
	good := startEngine(t)
	cfg := testConfig()
	cfg.Policy = "round-robin"
	cfg.Breaker.Failures = 1000
	cfg.Timeouts.FirstByte = Duration{300 * time.Millisecond}
	f := startServed(t, cfg, []endpoint.Spec{stall.spec("a-stall"), named(good, "b-good")})
	for i := range 2 {
		resp, body := f.post(t, "/v1/completions", completionBody(fmt.Sprint("story ", i), `,"stream":true`))
		evs := events(body)
		if resp.StatusCode != http.StatusOK || len(evs) == 0 || evs[len(evs)-1] != "[DONE]" {
			t.Fatalf("request %d: %d %q, want a whole stream from the good engine", i, resp.StatusCode, evs)
		}
	}
	if v := counterValue(t, f.rt, "tandem_router_retries_total", map[string]string{"model": testModel, "cause": "first-byte"}); v != 1 {
		t.Errorf("first-byte retries = %g, want 1 (one of two requests went to the stalled engine first)", v)
	}
}

// Past limits.maxInFlight open completion requests the router answers 429
// with Retry-After and an OpenAI error, before reading the body.
func TestInFlightCap(t *testing.T) {
	eng := startStallEngine(t, 1)
	cfg := testConfig()
	cfg.Limits.MaxInFlight = 2
	cfg.Timeouts.StreamIdle = Duration{time.Hour}
	f := startServed(t, cfg, []endpoint.Spec{eng.spec("hold")})
	// Two streams the engine holds open.
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, f.url+"/v1/completions", strings.NewReader(completionBody(fmt.Sprint("held ", i), `,"stream":true`)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("held %d: %v", i, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body) // until the router ends it
			_ = resp.Body.Close()
		}()
	}
	for range 2 {
		select {
		case <-eng.held:
		case <-time.After(20 * time.Second):
			t.Fatal("the engine never held two streams")
		}
	}
	resp, body := f.post(t, "/v1/completions", completionBody("one too many", ""))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want 429", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Error("429 without Retry-After")
	}
	e := decodeError(t, body)
	if diff := cmp.Diff([]any{"RateLimitError", 429, "the router has 2 requests open; retry later"},
		[]any{e.Error.Type, e.Error.Code, e.Error.Message}); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if v := counterValue(t, f.rt, "tandem_router_refused_total", map[string]string{"reason": "max-in-flight"}); v != 1 {
		t.Errorf("refused{max-in-flight} = %g, want 1", v)
	}
	// Ending the held streams frees their places.
	_ = eng.srv.Close()
	wg.Wait()
	waitFor(t, "the cap to free", func() bool { return f.rt.inFlight.Load() == 0 })
	eng2 := startEngine(t)
	f.rt.Registry().Update(specs(eng2))
	if resp, b := f.post(t, "/v1/completions", completionBody("after", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("after the held streams ended: %d %s", resp.StatusCode, b)
	}
}

// vmRSS is this process's resident set in KiB (Linux).
func vmRSS(t testing.TB) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS line %q: %v", line, err)
			}
			return kb
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// raiseNoFile makes room for want open files, or skips the test.
func raiseNoFile(t testing.TB, want uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if lim.Cur >= want {
		return
	}
	orig := lim
	lim.Cur, lim.Max = want, max(lim.Max, want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("%d connections need %d open files in one process; the limit is %d (hard %d) and raising it failed: %v",
			idleConns, want, orig.Cur, orig.Max, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
}

// The helper process of TestManyIdleConnections holds the client ends, so
// that this process's resident set is the router's alone and each process
// needs one file per connection, not two.
const (
	idleClientsAddr = "TANDEM_TEST_IDLE_CLIENTS_ADDR"
	idleClientsN    = "TANDEM_TEST_IDLE_CLIENTS_N"
)

// askHealth sends GET /health on c and reads the answer.
func askHealth(c net.Conn) error {
	if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: router\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// TestIdleClientsHelper is not a test: run by TestManyIdleConnections as
// a child process, it opens the connections, has one request answered on
// each, prints "ready", then on "check" asks again on every hundredth and
// prints "ok"; it exits when its stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv(idleClientsAddr)
	if addr == "" {
		t.Skip("the helper process of TestManyIdleConnections")
	}
	n, err := strconv.Atoi(os.Getenv(idleClientsN))
	if err != nil {
		t.Fatal(err)
	}
	raiseNoFile(t, uint64(n+256))
	conns := make([]net.Conn, n)
	const workers = 8
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 20 * time.Second}
			for i := w; i < n; i += workers {
				c, err := d.Dial("tcp", addr)
				if err == nil {
					conns[i] = c
					err = askHealth(c)
				}
				if err != nil {
					errs[w] = fmt.Errorf("connection %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "check" {
			continue
		}
		var err error
		for i := 0; i < n && err == nil; i += 100 {
			if err = askHealth(conns[i]); err != nil {
				err = fmt.Errorf("idle connection %d: %w", i, err)
			}
		}
		if err != nil {
			fmt.Println("error:", err)
		} else {
			fmt.Println("ok")
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// 10,000 idle keep-alive connections (fewer under the race detector, whose
// goroutine limit is 8,128) do not exhaust the router's memory, and a
// normal request is served while they are open. Each connection has had
// one request answered, so the router really holds it (a connection still
// in the listen backlog would cost it nothing).
func TestManyIdleConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	n := idleConns
	raiseNoFile(t, uint64(n+1024))
	cfg := testConfig()
	cfg.Timeouts.Idle = Duration{10 * time.Minute} // they stay open for the test
	f := startServed(t, cfg, specs(startEngine(t)))

	runtime.GC()
	debug.FreeOSMemory()
	before := vmRSS(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), idleClientsAddr+"="+strings.TrimPrefix(f.url, "http://"), idleClientsN+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	out := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		for out.Scan() {
			switch line := out.Text(); {
			case line == want:
				return
			case strings.HasPrefix(line, "error:"):
				t.Fatal(line)
			}
		}
		t.Fatalf("the helper process ended before %q: %v", want, out.Err())
	}
	expect("ready")
	runtime.GC()
	debug.FreeOSMemory()
	after := vmRSS(t)
	perConn := float64(after-before) / float64(n)
	t.Logf("%d idle keep-alive connections: the router's VmRSS %d KiB -> %d KiB, +%d KiB, %.1f KiB per connection",
		n, before, after, after-before, perConn)
	if perConn > 200 {
		t.Errorf("%.1f KiB per idle connection; want under 200", perConn)
	}
	if resp, b := f.post(t, "/v1/completions", completionBody("while they are open", "")); resp.StatusCode != http.StatusOK {
		t.Errorf("a request while %d connections are open: %d %s", n, resp.StatusCode, b)
	}
	// The router still holds them: every hundredth is served again.
	if _, err := io.WriteString(stdin, "check\n"); err != nil {
		t.Fatal(err)
	}
	expect("ok")
}
