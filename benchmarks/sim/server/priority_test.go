package server

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// startOneSlot serves an engine with one running slot in real time (time
// scale 1), so requests sent while it is busy wait in its queue.
func startOneSlot(t *testing.T, policy engine.Policy) testEngine {
	t.Helper()
	p := engine.DefaultParams()
	p.Model = model
	p.NumBlocks = 256
	p.MaxNumSeqs = 1
	p.Policy = policy
	var eng *engine.Engine
	m := NewMetrics(model, func() engine.Snapshot { return eng.Snapshot() })
	eng, err := engine.Start(context.Background(), p, 1, m)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Model: model, Role: RoleBoth, EngineID: "e", Host: "127.0.0.1", Port: 1, Seed: 1, Stopping: eng.Done()}, eng, m)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		eng.Stop()
		ts.Close()
	})
	return testEngine{url: ts.URL, eng: eng}
}

// finishOrder sends a long request that holds the only slot, then the
// queued ones in order (each once the previous is queued), and returns the
// names in the order their answers came back.
func finishOrder(t *testing.T, e testEngine, queued []string, priority map[string]int) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	send := func(name string, prompt string, maxTokens, prio int) {
		defer wg.Done()
		body := fmt.Sprintf(`{"model":%q,"prompt":%q,"max_tokens":%d,"priority":%d}`, model, prompt, maxTokens, prio)
		if code, b := post(t, e.url+"/v1/completions", body); code != 200 {
			t.Errorf("%s: status %d: %s", name, code, b)
		}
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
	}
	waitFor := func(running, waiting int) {
		for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(time.Millisecond) {
			if s := e.eng.Snapshot(); s.Running == running && s.Waiting == waiting {
				return
			}
		}
		t.Fatalf("the engine never had %d running and %d waiting", running, waiting)
	}
	wg.Add(1)
	// 60 steps of at least 7.4 ms: the queue fills long before it ends.
	go send("long", "hold the slot", 60, 0)
	waitFor(1, 0)
	for i, name := range queued {
		wg.Add(1)
		go send(name, "request "+name, 20, priority[name])
		waitFor(1, i+1)
	}
	wg.Wait()
	return order
}

func TestPriorityOverHTTP(t *testing.T) {
	queued := []string{"late-low", "urgent", "normal"}
	prio := map[string]int{"late-low": 10, "urgent": -5, "normal": 0}
	cases := []struct {
		policy engine.Policy
		want   []string
	}{
		{engine.PolicyFCFS, []string{"long", "late-low", "urgent", "normal"}},
		{engine.PolicyPriority, []string{"long", "urgent", "normal", "late-low"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.policy), func(t *testing.T) {
			got := finishOrder(t, startOneSlot(t, tc.policy), queued, prio)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("finish order (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPriorityField(t *testing.T) {
	e := startEngine(t, RoleBoth, nil)
	cases := []struct {
		name, priority string
		wantStatus     int
		wantIn         string
	}{
		{"an integer is accepted (fcfs ignores it, as vLLM V1 does)", "3", 200, `"finish_reason"`},
		{"a negative integer is accepted", "-2", 200, `"finish_reason"`},
		{"a string is a client error", `"high"`, 400, "priority"},
		{"a fraction is a client error", "1.5", 400, "priority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"model":%q,"prompt":"hi","max_tokens":2,"priority":%s}`, model, tc.priority)
			code, b := post(t, e.url+"/v1/completions", body)
			if code != tc.wantStatus || !strings.Contains(string(b), tc.wantIn) {
				t.Errorf("status %d body %s; want status %d and %q in the body", code, b, tc.wantStatus, tc.wantIn)
			}
		})
	}
}
