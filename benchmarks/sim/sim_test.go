package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
	"github.com/tandem-serving/tandem/benchmarks/sim/server"
)

// testConfig is a fast engine on a free loopback port.
func testConfig() Config {
	c := DefaultConfig()
	c.Listen = "127.0.0.1:0"
	c.TimeScale = 0
	c.Engine.NumBlocks = 512
	c.Lengths = engine.Lengths{} // exact lengths: the tests count words
	return c
}

func start(t *testing.T, c Config) *Engine {
	t.Helper()
	e, err := Start(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func completion(prompt string, maxTokens int, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"prompt":%q,"max_tokens":%d,"stream":%v}`,
		DefaultConfig().Engine.Model, prompt, maxTokens, stream)
}

func postText(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := noKeepAlive.Post(url+"/v1/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Choices) != 1 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	return r.Choices[0].Text
}

// refused reports whether a new connection to the engine is refused.
func refused(e *Engine) bool {
	resp, err := noKeepAlive.Get(e.URL() + "/health")
	if err == nil {
		resp.Body.Close()
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func TestStartAndClose(t *testing.T) {
	e := start(t, testConfig())
	if got := postText(t, e.URL(), completion("hello", 3, false)); len(got) != 12 {
		t.Errorf("text %q, want 3 four-byte words", got)
	}
	e.Close()
	<-e.Done()
	if !refused(e) {
		t.Error("connections accepted after Close")
	}
	if e.Crashed() {
		t.Error("Close reported as a crash")
	}
}

// The crash cuts a stream in flight: it ends without [DONE].
func TestCrashAfterCutsStreams(t *testing.T) {
	c := testConfig()
	c.TimeScale = 1
	c.Engine.Cost.StepOverhead = time.Millisecond
	c.Faults.CrashAfter = 1
	e := start(t, c)

	resp, err := noKeepAlive.Post(e.URL()+"/v1/completions", "application/json",
		strings.NewReader(completion("long story", 5000, true)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first stream line %q, %v", line, err)
	}

	// The second request is the one past the limit: the engine dies.
	if cut, err := noKeepAlive.Post(e.URL()+"/v1/completions", "application/json",
		strings.NewReader(completion("x", 1, false))); err == nil {
		cut.Body.Close()
		t.Errorf("the request that crashed the engine got an answer: %d", cut.StatusCode)
	}
	rest, err := io.ReadAll(r)
	if err == nil && strings.Contains(string(rest), "[DONE]") {
		t.Error("the stream in flight finished normally")
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("engine not done after crash")
	}
	if !e.Crashed() {
		t.Error("Crashed() = false")
	}
	if !refused(e) {
		t.Error("connections accepted after the crash")
	}
}

func TestRefuseConnections(t *testing.T) {
	c := testConfig()
	c.Refuse = true
	e := start(t, c)
	var got []bool
	check := func() { got = append(got, refused(e)) }
	check()
	if err := e.SetRefuse(false); err != nil {
		t.Fatal(err)
	}
	check()
	if err := e.SetRefuse(true); err != nil {
		t.Fatal(err)
	}
	check()
	if diff := cmp.Diff([]bool{true, false, true}, got); diff != "" {
		t.Errorf("refused? (-want +got):\n%s", diff)
	}
}

// Engines of a fleet have their own addresses and state, and answer the same
// prompt with the same text.
func TestStartMany(t *testing.T) {
	c := testConfig()
	c.EngineID = "fleet"
	fleet, err := StartMany(context.Background(), c, []string{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, e := range fleet {
			e.Close()
		}
	})
	prompt := strings.Repeat(" sky", 40)
	a := postText(t, fleet[0].URL(), completion(prompt, 5, false))
	b := postText(t, fleet[0].URL(), completion(prompt, 5, false))
	other := postText(t, fleet[1].URL(), completion(prompt, 5, false))
	if a != b || a != other {
		t.Errorf("same prompt, different answers: %q %q %q", a, b, other)
	}
	type state struct {
		ID   string
		Hits uint64
	}
	var got []state
	addrs := map[string]bool{}
	for _, e := range fleet {
		got = append(got, state{e.Config().EngineID, e.Snapshot().Stats.PrefixHits})
		addrs[e.Addr()] = true
	}
	want := []state{{"fleet-0", 32}, {"fleet-1", 0}, {"fleet-2", 0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per-engine state (-want +got):\n%s", diff)
	}
	if len(addrs) != 3 {
		t.Errorf("addresses %v are not distinct", addrs)
	}
}

func TestAddresses(t *testing.T) {
	cases := []struct {
		listen  string
		n       int
		list    string
		want    []string
		wantErr bool
	}{
		{listen: "127.0.0.1:8000", n: 3, want: []string{"127.0.0.1:8000", "127.0.0.1:8001", "127.0.0.1:8002"}},
		{listen: "127.0.0.1:0", n: 2, want: []string{"127.0.0.1:0", "127.0.0.1:0"}},
		{listen: "x", n: 1, list: "127.1.0.1:8000, 127.1.0.2:8000", want: []string{"127.1.0.1:8000", "127.1.0.2:8000"}},
		{listen: "127.0.0.1:65535", n: 2, wantErr: true},
		{listen: "no-port", n: 1, wantErr: true},
		{listen: "127.0.0.1:1", n: 0, wantErr: true},
		{listen: "127.0.0.1:1", n: 1, list: " , ", wantErr: true},
	}
	for _, tc := range cases {
		got, err := FleetAddresses(tc.listen, tc.n, tc.list)
		if (err != nil) != tc.wantErr {
			t.Errorf("FleetAddresses(%q, %d, %q) error %v, wantErr %v", tc.listen, tc.n, tc.list, err, tc.wantErr)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("FleetAddresses(%q, %d, %q) (-want +got):\n%s", tc.listen, tc.n, tc.list, diff)
		}
	}
}

func TestBindFlags(t *testing.T) {
	c := DefaultConfig()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.BindFlags(fs)
	err := fs.Parse([]string{"--model=m", "--role=decode", "--time-scale=0.5", "--num-gpu-blocks=100",
		"--max-num-batched-tokens=2048", "--prefill-per-token=20us", "--kv-transfer-bandwidth=5e10",
		"--error-rate=0.1", "--crash-after=7", "--enable-prefix-caching=false", "--refuse", "--scheduling-policy=priority"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Engine.Model = "m"
	want.Role = server.RoleDecode
	want.TimeScale = 0.5
	want.Engine.NumBlocks = 100
	want.Engine.MaxBatchedTokens = 2048
	want.Engine.Cost.PrefillPerToken = 20 * time.Microsecond
	want.Engine.Cost.TransferBandwidth = 5e10
	want.Faults.ErrorRate = 0.1
	want.Faults.CrashAfter = 7
	want.Engine.PrefixCaching = false
	want.Refuse = true
	want.Engine.Policy = engine.PolicyPriority
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if err := fs.Parse([]string{"--role=router"}); err == nil {
		t.Error("bad role accepted")
	}
	if err := fs.Parse([]string{"--scheduling-policy=sjf"}); err == nil {
		t.Error("bad scheduling policy accepted")
	}
	for args, want := range map[string]int{
		"--kv-memory=memory-pressured":                      1200,
		"--kv-memory=calibrated":                            27000,
		"--kv-memory=memory-pressured --num-gpu-blocks=500": 500,
	} {
		c := DefaultConfig()
		fs := flag.NewFlagSet("sim", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.BindFlags(fs)
		if err := fs.Parse(strings.Fields(args)); err != nil || c.Engine.NumBlocks != want {
			t.Errorf("%s: %d blocks (%v), want %d", args, c.Engine.NumBlocks, err, want)
		}
	}
	if err := fs.Parse([]string{"--kv-memory=huge"}); err == nil {
		t.Error("unknown KV memory setting accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.TimeScale = -1 },
		func(c *Config) { c.Role = "router" },
		func(c *Config) { c.Engine.BlockSize = 0 },
		func(c *Config) { c.DefaultMaxTokens = 0 },
		func(c *Config) { c.Faults.HangRate = 2 },
	}
	for i, mutate := range bad {
		c := testConfig()
		mutate(&c)
		if _, err := Start(context.Background(), c); err == nil {
			t.Errorf("case %d: Start accepted an invalid config", i)
		}
	}
}
