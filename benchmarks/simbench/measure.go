package simbench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/routerbench"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/benchmarks/sim/tokenizer"
)

// workload is n requests with unique prompts of exactly in tokens (load's
// one-token words, sent to /v1/completions so that the prompt is exactly
// the words, no chat template), each generating exactly out tokens
// (ignore_eos: calibration needs fixed shapes), and the prompts' token ids
// as the engine will see them.
func workload(n, in, out int, seed uint64) ([]load.Request, [][]uint32, error) {
	if n < 1 || in < 1 || out < 1 {
		return nil, nil, fmt.Errorf("workload of %d requests of %d tokens in, %d out: all must be at least 1", n, in, out)
	}
	reqs := make([]load.Request, n)
	prompts := make([][]uint32, n)
	for i := range reqs {
		text := load.Words(in, seed, uint64(i))
		reqs[i] = load.Request{Index: i, Key: uint64(i), After: -1, MaxTokens: out, IgnoreEOS: true,
			Messages: []load.Message{{Role: "user", Content: text}}}
		// The simulator's own tokenizer: this measures the simulator.
		prompts[i] = tokenizer.Encode(load.CompletionPrompt(reqs[i].Messages))
	}
	return reqs, prompts, nil
}

// batch is what the client measured of one set of requests; latencies in
// wall-clock ms.
type batch struct {
	ok, errors, outTokens, promptTokens int
	errKinds                            map[string]int
	ttft, itl                           []float64
	span                                time.Duration
}

func collect(results []load.Result, span time.Duration) batch {
	b := batch{span: span}
	for _, r := range results {
		if r.Err != "" {
			b.errors++
			if b.errKinds == nil {
				b.errKinds = map[string]int{}
			}
			b.errKinds[r.Err]++
			continue
		}
		b.ok++
		b.outTokens += r.OutputTokens
		b.promptTokens += r.PromptTokens
		b.ttft = append(b.ttft, ms(r.TTFT))
		for _, g := range r.ITL {
			b.itl = append(b.itl, ms(g))
		}
	}
	return b
}

// session sends requests to in-process engines of one configuration.
type session struct {
	cfg    Config
	client *load.Client
}

func newSession(cfg Config) *session {
	return &session{cfg: cfg, client: &load.Client{
		HTTP: &http.Client{Transport: load.NewTransport()}, API: load.APICompletions, Model: cfg.Engine.Model,
	}}
}

func (s *session) close() { s.client.HTTP.CloseIdleConnections() }

// startEngines starts n fresh engines on free ports at the time scale.
func (s *session) startEngines(ctx context.Context, n int, scale float64) ([]*sim.Engine, error) {
	c := sim.DefaultConfig()
	c.Engine, c.TimeScale, c.Seed = s.cfg.Engine, scale, s.cfg.Seed
	addrs, err := sim.Addresses("127.0.0.1:0", n)
	if err != nil {
		return nil, err
	}
	return sim.StartMany(ctx, c, addrs)
}

func closeAll(engines []*sim.Engine) {
	for _, e := range engines {
		e.Close()
	}
}

// send runs the requests against one target with concurrency in flight.
func (s *session) send(ctx context.Context, target string, reqs []load.Request, concurrency int) batch {
	results, span := load.Execute(ctx, load.Plan{
		Requests: reqs, Concurrency: concurrency, Targets: []string{target},
		Assigned: make([]int, len(reqs)), Client: s.client, Timeout: s.cfg.Timeout,
	})
	return collect(results, span)
}

func (s *session) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// modelMs turns wall-clock ms on an engine at the time scale into the
// modelled GPU's ms.
func (s *session) modelMs(wallMs float64) float64 { return wallMs / s.cfg.TimeScale }

// ttftCurve measures TTFT against uncached prompt length on one idle
// engine: Reps requests per length, one at a time, generating one token
// each, the prefix cache reset before every length (the prompts are unique
// anyway).
func (s *session) ttftCurve(ctx context.Context) ([]TTFTPoint, error) {
	engines, err := s.startEngines(ctx, 1, s.cfg.TimeScale)
	if err != nil {
		return nil, err
	}
	defer closeAll(engines)
	url := engines[0].URL()
	var out []TTFTPoint
	for i, n := range s.cfg.PromptTokens {
		reqs, _, err := workload(s.cfg.Reps, n, 1, s.cfg.Seed+uint64(1000+i))
		if err != nil {
			return out, err
		}
		if err := load.ResetPrefixCache(ctx, s.client.HTTP, url); err != nil {
			return out, err
		}
		b := s.send(ctx, url, reqs, 1)
		model, steps := IdleTTFT(s.cfg.Engine, n)
		p := TTFTPoint{PromptTokens: n, Chunks: steps, Reps: len(reqs), Errors: b.errors, Model: load.Num(ms(model))}
		p.Measured, p.Min, p.Max = load.Num(math.NaN()), load.Num(math.NaN()), load.Num(math.NaN())
		if b.ok > 0 {
			sum := load.Summarize(b.ttft)
			p.Measured, p.Min, p.Max = load.Num(s.modelMs(sum.P50)), load.Num(s.modelMs(slices.Min(b.ttft))), load.Num(s.modelMs(sum.Max))
			p.PromptTokens = b.promptTokens / b.ok
		}
		p.Ratio = p.Measured / p.Model
		s.logf("TTFT, %d prompt tokens: %s ms measured, %s ms modelled", n, load.FormatNum(float64(p.Measured)), load.FormatNum(float64(p.Model)))
		out = append(out, p)
	}
	return out, nil
}

// ciLatency repeats vLLM's CI latency case (a batch of 8 prompts of 32
// tokens, 128 generated each) Reps times on a fresh engine: the batch's
// span, first send to last token, against the model's.
func (s *session) ciLatency(ctx context.Context) (measured, model float64, err error) {
	engines, err := s.startEngines(ctx, 1, s.cfg.TimeScale)
	if err != nil {
		return 0, 0, err
	}
	defer closeAll(engines)
	var spans []float64
	for k := range s.cfg.Reps {
		reqs, prompts, err := workload(ciBatch, ciInput, ciOutput, s.cfg.Seed+uint64(2000+k))
		if err != nil {
			return 0, 0, err
		}
		if k == 0 {
			m, err := ClosedLoop(s.cfg.Engine, prompts, ciOutput, ciBatch, ClientTurnaround)
			if err != nil {
				return 0, 0, err
			}
			model = ms(m.Span)
		}
		if b := s.send(ctx, engines[0].URL(), reqs, ciBatch); b.errors == 0 {
			spans = append(spans, s.modelMs(ms(b.span)))
		}
	}
	return load.Median(spans), model, nil
}

// throughputCurve runs a closed loop at every concurrency on a fresh
// engine, RequestsPerSlot × concurrency requests (at least 8), next to the
// model's run of the same prompts.
func (s *session) throughputCurve(ctx context.Context) ([]ThroughputPoint, error) {
	var out []ThroughputPoint
	for i, c := range s.cfg.Concurrency {
		p, err := s.throughputPoint(ctx, c, s.cfg.Seed+uint64(3000+i))
		if err != nil {
			return out, err
		}
		s.logf("concurrency %d: %s output tokens/s measured, %s modelled", c,
			load.FormatNum(float64(p.OutputRate)), load.FormatNum(float64(p.ModelOutputRate)))
		out = append(out, p)
	}
	return out, nil
}

func (s *session) throughputPoint(ctx context.Context, c int, seed uint64) (ThroughputPoint, error) {
	n := max(s.cfg.RequestsPerSlot*c, 8)
	reqs, prompts, err := workload(n, s.cfg.InputTokens, s.cfg.OutputTokens, seed)
	if err != nil {
		return ThroughputPoint{}, err
	}
	m, err := ClosedLoop(s.cfg.Engine, prompts, s.cfg.OutputTokens, c, ClientTurnaround)
	if err != nil {
		return ThroughputPoint{}, err
	}
	engines, err := s.startEngines(ctx, 1, s.cfg.TimeScale)
	if err != nil {
		return ThroughputPoint{}, err
	}
	b := s.send(ctx, engines[0].URL(), reqs, c)
	closeAll(engines)
	itl := load.Summarize(b.itl)
	modelSecs := b.span.Seconds() / s.cfg.TimeScale
	p := ThroughputPoint{
		Concurrency: c, Requests: n, Errors: b.errors,
		OutputRate:  load.Num(float64(b.outTokens) / modelSecs),
		RequestRate: load.Num(float64(b.ok) / modelSecs),
		TTFT:        load.Num(s.modelMs(load.Summarize(b.ttft).P50)),
		ITL:         load.Num(s.modelMs(itl.P50)),
		ITLMean:     load.Num(s.modelMs(itl.Mean)),

		ModelOutputRate:  load.Num(m.OutputRate()),
		ModelRequestRate: load.Num(m.RequestRate()),
		ModelTTFT:        load.Num(m.TTFT.P50),
		ModelITL:         load.Num(m.ITL.P50),
		ModelITLMean:     load.Num(m.ITL.Mean),
	}
	p.Ratio = p.OutputRate / p.ModelOutputRate
	return p, nil
}

// hostSweep runs the host-capacity sweep, stopping once two engine counts
// in a row deviate beyond the threshold.
func (s *session) hostSweep(ctx context.Context) (HostResult, error) {
	h := s.cfg.Host
	res := HostResult{Config: h}
	// One wave (Concurrency requests together) sizes the runs: enough
	// requests per engine that a run lasts about Window if the host keeps up.
	_, wave, err := workload(h.Concurrency, h.InputTokens, h.OutputTokens, s.cfg.Seed+4000)
	if err != nil {
		return res, err
	}
	w, err := ClosedLoop(s.cfg.Engine, wave, h.OutputTokens, h.Concurrency, ClientTurnaround)
	if err != nil {
		return res, err
	}
	waves := max(2, int(math.Ceil(h.Window.Seconds()/(w.Span.Seconds()*h.TimeScale))))
	reqs, prompts, err := workload(waves*h.Concurrency, h.InputTokens, h.OutputTokens, s.cfg.Seed+4001)
	if err != nil {
		return res, err
	}
	if res.Model, err = ClosedLoop(s.cfg.Engine, prompts, h.OutputTokens, h.Concurrency, ClientTurnaround); err != nil {
		return res, err
	}
	for _, n := range h.Engines {
		p, err := s.hostPoint(ctx, n, reqs, res.Model)
		if err != nil {
			return res, err
		}
		s.logf("host, %d engines at time scale %g: speed %s, ITL ratio %s, deviation %s, %s cores",
			n, h.TimeScale, load.FormatNum(float64(p.Speed)), load.FormatNum(float64(p.ITLRatio)),
			load.FormatNum(float64(p.Deviation)), load.FormatNum(float64(p.Cores)))
		res.Points = append(res.Points, p)
		if overTwice(res.Points, h.Threshold) {
			break
		}
	}
	res.Limit = FindHostLimit(res.Points, h.Threshold)
	return res, nil
}

// hostPoint runs n engines at once, each under its own closed loop of the
// same requests (each engine has its own cache, so they stay uncached).
func (s *session) hostPoint(ctx context.Context, n int, reqs []load.Request, model ModelRun) (HostPoint, error) {
	h := s.cfg.Host
	engines, err := s.startEngines(ctx, n, h.TimeScale)
	if err != nil {
		return HostPoint{}, err
	}
	defer closeAll(engines)
	batches := make([]batch, n)
	before, err := cpuTime()
	if err != nil {
		return HostPoint{}, err
	}
	machineBefore, err := machineTime()
	if err != nil {
		return HostPoint{}, err
	}
	began := time.Now()
	var wg sync.WaitGroup
	for i, e := range engines {
		wg.Go(func() { batches[i] = s.send(ctx, e.URL(), reqs, h.Concurrency) })
	}
	wg.Wait()
	wall := time.Since(began)
	after, err := cpuTime()
	if err != nil {
		return HostPoint{}, err
	}
	machineAfter, err := machineTime()
	if err != nil {
		return HostPoint{}, err
	}
	if err := ctx.Err(); err != nil {
		return HostPoint{}, err
	}
	p := HostPoint{Engines: n, Requests: n * len(reqs)}
	var itl []float64
	tokens := 0
	for _, b := range batches {
		p.Errors += b.errors
		tokens += b.outTokens
		itl = append(itl, b.itl...)
	}
	for _, e := range engines {
		p.Steps += e.Snapshot().Stats.Steps
	}
	secs := wall.Seconds()
	p.Demand = load.Num(float64(n) * model.OutputRate() / h.TimeScale)
	p.Achieved = load.Num(float64(tokens) / secs)
	p.Speed = load.Num(model.Span.Seconds() * h.TimeScale / secs)
	p.ITL = load.Num(load.Summarize(itl).Mean / h.TimeScale)
	p.ModelITL = load.Num(model.ITL.Mean)
	p.ITLRatio = p.ITL / p.ModelITL
	p.Deviation = load.Num(Deviation(float64(p.Speed), float64(p.ITLRatio), p.Errors))
	cpu := (after - before).Seconds()
	p.Cores = load.Num(cpu / secs)
	p.MachineCores = load.Num(routerbench.BusyFraction(machineBefore, machineAfter) * float64(runtime.NumCPU()))
	p.CPUPerToken = load.Num(cpu / float64(tokens) * 1e6)
	p.StepRate = load.Num(float64(p.Steps) / secs)
	return p, nil
}

// cpuTime is the process's user plus system CPU time over all its threads
// (getrusage: microseconds, finer than /proc's 10 ms clock ticks over a
// run of a few seconds).
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// machineTime reads the whole machine's CPU time counters, so that a run
// can tell how busy other processes kept the cores.
func machineTime() (routerbench.CPUTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return routerbench.CPUTimes{}, err
	}
	return routerbench.ParseProcStat(string(data))
}
