package routerbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// RouterProcess is a tandem-router binary running as a child process with
// a generated configuration, so its CPU time and memory are its own.
type RouterProcess struct {
	// URL is the router's base URL, http://127.0.0.1:port.
	URL     string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	waitErr error
	hc      http.Client
}

// RouterSpec says how to start one router.
type RouterSpec struct {
	// Bin is the tandem-router binary.
	Bin string
	// Dir receives router.yaml, endpoints.yaml and router.log.
	Dir string
	// Policy is the policy preset or a variant's name; Base is extra
	// configuration (YAML); Variants the variants' files (ParsePolicies).
	Policy   string
	Base     []byte
	Variants map[string][]byte
	// Model is what every engine serves; Engines their host:port.
	Model   string
	Engines []string
	// Layout, if set, places Engines[i] as Layout[i] in the endpoints
	// file (role, group, unit); unset, every engine serves whole requests.
	Layout []Placement
	// KVEventsPorts, if set, are Engines' KV events ports, written to the
	// endpoints file for the router's exact mode.
	KVEventsPorts []int
	// ReadyTimeout bounds the wait for the router to see every engine's
	// metrics.
	ReadyTimeout time.Duration
}

// StartRouter writes the router's files, starts it and waits until it
// serves and has fresh metrics from every engine.
func StartRouter(ctx context.Context, s RouterSpec) (*RouterProcess, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	endpointsPath := filepath.Join(s.Dir, "endpoints.yaml")
	preset, base, err := resolve(s.Base, s.Variants, s.Policy)
	if err != nil {
		return nil, err
	}
	files, err := MakeRouterFiles(base, listen, preset, endpointsPath, s.Model, s.Engines)
	if err == nil && (s.Layout != nil || s.KVEventsPorts != nil) {
		files.Endpoints, err = EndpointsFile(s.Model, s.Engines, s.Layout, s.KVEventsPorts)
	}
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(s.Dir, "router.yaml")
	if err := os.WriteFile(endpointsPath, files.Endpoints, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(configPath, files.Config, 0o644); err != nil {
		return nil, err
	}
	p := &RouterProcess{URL: "http://" + listen, logPath: filepath.Join(s.Dir, "router.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(s.Bin, "--config", configPath)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", s.Bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	if err := p.waitReady(ctx, len(s.Engines), timeout); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%w\n%s", err, p.LogTail(2000))
	}
	return p, nil
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the router binds it; the router then fails to start and
// says so.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /metrics until every engine's metrics are fresh.
func (p *RouterProcess) waitReady(ctx context.Context, engines int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		m, err := p.Metrics(ctx)
		switch {
		case err != nil:
			last = err.Error()
		case m.Fresh >= engines:
			return nil
		default:
			last = fmt.Sprintf("%d of %d engines with fresh metrics", m.Fresh, engines)
		}
		select {
		case <-p.done:
			return fmt.Errorf("tandem-router exited before it was ready: %w", p.exitError())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tandem-router not ready after %s: %s", timeout, last)
		}
	}
}

// Metrics reads the router's /metrics.
func (p *RouterProcess) Metrics(ctx context.Context) (RouterMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/metrics", nil)
	if err != nil {
		return RouterMetrics{}, err
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return RouterMetrics{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return RouterMetrics{}, fmt.Errorf("router /metrics: status %d", resp.StatusCode)
	}
	return ParseRouterMetrics(io.LimitReader(resp.Body, 16<<20))
}

// Usage reads the router process's CPU time and memory.
func (p *RouterProcess) Usage() (Usage, error) {
	select {
	case <-p.done:
		return Usage{}, fmt.Errorf("tandem-router has exited: %w", p.exitError())
	default:
	}
	return ReadUsage(p.cmd.Process.Pid)
}

// exitError is how the process ended, once it has.
func (p *RouterProcess) exitError() error {
	if p.waitErr == nil {
		return errors.New("exit status 0")
	}
	return p.waitErr
}

// Exited reports whether the process has ended.
func (p *RouterProcess) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the router with SIGTERM, and SIGKILL if it has not exited
// after 5 s. It is safe to call more than once.
func (p *RouterProcess) Stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail is the end of the router's log, at most n bytes.
func (p *RouterProcess) LogTail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(data) > n {
		data = data[len(data)-n:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return "tandem-router log (" + p.logPath + "):\n" + strings.TrimRight(string(data), "\n")
}

// FindRouterBin checks that the router binary exists and says how to
// build it when it does not.
func FindRouterBin(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no tandem-router binary at %s: build it with `go build -o bin/ ./cmd/tandem-router` (or pass --router-bin)", abs)
	}
	if err != nil {
		return "", err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}
