package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

func TestInjectorIsSeeded(t *testing.T) {
	f := Faults{ErrorRate: 0.3, HangRate: 0.1, SpikeRate: 0.5, SpikeLatency: time.Second}
	draw := func(stream uint64) []string {
		in := newInjector(f, 42, stream)
		var out []string
		for i := 0; i < 40; i++ {
			act, delay := in.decide()
			out = append(out, []string{"ok", "crash", "hang", "fail"}[act]+map[bool]string{true: "+spike"}[delay > 0])
		}
		return out
	}
	if diff := cmp.Diff(draw(0), draw(0)); diff != "" {
		t.Errorf("same seed, different faults:\n%s", diff)
	}
	if cmp.Equal(draw(0), draw(1)) {
		t.Error("two engines of a fleet draw the same faults")
	}
	seen := map[string]bool{}
	for _, d := range draw(0) {
		seen[d] = true
	}
	for _, want := range []string{"ok", "ok+spike", "fail", "hang"} {
		if !seen[want] {
			t.Errorf("40 draws never gave %q: %v", want, draw(0))
		}
	}
}

func TestInjectorCrashAfter(t *testing.T) {
	in := newInjector(Faults{CrashAfter: 2}, 1, 0)
	var got []action
	for i := 0; i < 4; i++ {
		act, _ := in.decide()
		got = append(got, act)
	}
	if diff := cmp.Diff([]action{proceed, proceed, crash, crash}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFaultsValidate(t *testing.T) {
	for _, f := range []Faults{{ErrorRate: 1.5}, {HangRate: -0.1}, {SpikeLatency: -1}, {CrashAfter: -1}} {
		if f.Validate() == nil {
			t.Errorf("%+v accepted", f)
		}
	}
}

func TestErrorRateAnswers500(t *testing.T) {
	e := startEngine(t, RoleBoth, func(_ *engine.Params, o *Options) { o.Faults.ErrorRate = 1 })
	status, body := post(t, e.url+"/v1/completions", `{"model":"test-model","prompt":"x","max_tokens":1}`)
	var got errorBody
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if status != 500 || got.Error.Type != "InternalServerError" || got.Error.Code != 500 {
		t.Errorf("status %d body %s", status, body)
	}
	if n := e.eng.Snapshot().Stats.PromptTokens; n != 0 {
		t.Errorf("a failed request reached the engine (%d prompt tokens)", n)
	}
}

func TestHangNeverAnswers(t *testing.T) {
	e := startEngine(t, RoleBoth, func(_ *engine.Params, o *Options) { o.Faults.HangRate = 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.url+"/v1/completions",
		strings.NewReader(`{"model":"test-model","prompt":"x","max_tokens":1}`))
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("hung request answered %d", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v, want the client's deadline", err)
	}
	// Other endpoints still answer.
	r, err := http.Get(e.url + "/health")
	if err != nil {
		t.Fatalf("health during a hang: %v", err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Errorf("health during a hang: status %d", r.StatusCode)
	}
}

func TestSpikeIsScaled(t *testing.T) {
	// At time scale 0 a one-hour spike takes no time.
	e := startEngine(t, RoleBoth, func(_ *engine.Params, o *Options) {
		o.Faults.SpikeRate, o.Faults.SpikeLatency = 1, time.Hour
	})
	if status, body := post(t, e.url+"/v1/completions", `{"model":"test-model","prompt":"x","max_tokens":1}`); status != 200 {
		t.Errorf("status %d: %s", status, body)
	}
}
