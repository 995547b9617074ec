package simbench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tinyConfig runs every part in well under a second of engine time: a
// 64-token step budget so that a 100-token prompt is prefilled in two
// chunks, short outputs, and high speed-ups.
func tinyConfig() Config {
	c := DefaultConfig()
	c.Engine.MaxBatchedTokens = 64
	c.TimeScale, c.Reps, c.PromptTokens = 0.02, 2, []int{16, 100}
	c.Concurrency, c.InputTokens, c.OutputTokens, c.RequestsPerSlot = []int{1, 4}, 32, 4, 2
	c.Host = HostConfig{Engines: []int{1, 2}, TimeScale: 0.05, Concurrency: 2, InputTokens: 32, OutputTokens: 4,
		Window: 50 * time.Millisecond, Threshold: 0.1}
	c.Timeout = 20 * time.Second
	return c
}

// The whole benchmark against real in-process engines over HTTP: every
// request succeeds with the lengths asked for, and the model columns are
// the model's. Wall-clock figures are only checked to be measured.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts simulated engines and sends HTTP load")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := tinyConfig()
	rep := &Report{}
	if err := Run(ctx, cfg, rep); err != nil {
		t.Fatal(err)
	}
	measured := func(v float64) bool { return v > 0 && !math.IsInf(v, 0) }

	type ttftRow struct{ Tokens, Chunks, Errors int }
	var rows []ttftRow
	for _, p := range rep.TTFT {
		rows = append(rows, ttftRow{p.PromptTokens, p.Chunks, p.Errors})
		if want, _ := IdleTTFT(cfg.Engine, p.PromptTokens); float64(p.Model) != ms(want) {
			t.Errorf("%d tokens: model %v ms, want IdleTTFT's %v", p.PromptTokens, p.Model, ms(want))
		}
		if !measured(float64(p.Measured)) {
			t.Errorf("%d tokens: measured %v", p.PromptTokens, p.Measured)
		}
	}
	if diff := cmp.Diff([]ttftRow{{16, 1, 0}, {100, 2, 0}}, rows); diff != "" {
		t.Errorf("TTFT curve: prompt tokens as the engine counted them, chunks, errors (-want +got):\n%s", diff)
	}
	if len(rep.References) != len(calibration) || !measured(float64(rep.References[2].Sim)) {
		t.Errorf("references %+v: want the CI case measured", rep.References)
	}

	for i, p := range rep.Throughput {
		_, prompts, err := workload(8, cfg.InputTokens, cfg.OutputTokens, cfg.Seed+uint64(3000+i))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ClosedLoop(cfg.Engine, prompts, cfg.OutputTokens, p.Concurrency, ClientTurnaround)
		if err != nil {
			t.Fatal(err)
		}
		if p.Requests != 8 || p.Errors != 0 || float64(p.ModelOutputRate) != m.OutputRate() || !measured(float64(p.OutputRate)) {
			t.Errorf("concurrency %d: %d requests, %d errors, model %v tokens/s (want %v), measured %v",
				p.Concurrency, p.Requests, p.Errors, p.ModelOutputRate, m.OutputRate(), p.OutputRate)
		}
	}
	if len(rep.Throughput) != 2 {
		t.Errorf("%d throughput points, want 2", len(rep.Throughput))
	}

	if rep.Host == nil || len(rep.Host.Points) != 2 {
		t.Fatalf("host sweep: %+v, want two runs", rep.Host)
	}
	per := rep.Host.Model.Requests
	for _, p := range rep.Host.Points {
		want := float64(p.Engines) * rep.Host.Model.OutputRate() / cfg.Host.TimeScale
		if p.Errors != 0 || p.Requests != p.Engines*per || p.Steps == 0 || float64(p.Demand) != want || !measured(float64(p.Cores)) {
			t.Errorf("host, %d engines: %+v; want %d requests, demand %v, steps and CPU measured", p.Engines, p, p.Engines*per, want)
		}
	}
}

// The command end to end: flags, tables, JSON and plots.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a simulated engine and sends HTTP load")
	}
	dir := t.TempDir()
	jsonPath, plots := filepath.Join(dir, "sim.json"), filepath.Join(dir, "plots")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"--parts=ttft", "--prompt-tokens=16,32", "--reps=1", "--time-scale=0.01",
		"--json", jsonPath, "--plots", plots, "--quiet"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "TTFT vs uncached prompt tokens") || !strings.Contains(out, "sim-ttft.svg") {
		t.Errorf("stdout:\n%s", out)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		TTFT []struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"ttft"`
	}
	if err := json.Unmarshal(data, &got); err != nil || len(got.TTFT) != 2 || got.TTFT[1].PromptTokens != 32 {
		t.Errorf("JSON %s: %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(plots, "sim-ttft.svg")); err != nil {
		t.Error(err)
	}
}

func TestCommandRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--parts=ttft,gpu"},
		{"--host-engines=4,2"},
		{"--time-scale=0"},
		{"--concurrency=1,x"},
		{"--reps=0"},
		{"extra"},
	} {
		var out, errs bytes.Buffer
		if err := run(context.Background(), args, &out, &errs); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}
