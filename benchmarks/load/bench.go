package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Fleet is what one run talks to.
type Fleet struct {
	// Targets get the requests: engines, or a router in front of them.
	Targets []string
	// Engines are scraped for prefix-cache metrics and capacity; empty
	// means no measured hit rate.
	Engines []string
	// Close releases the fleet; nil when there is nothing to release.
	Close func()
}

// Config is a whole benchmark: one workload, run under each policy, each
// repeated, at one arrival process or at every rate of a sweep.
type Config struct {
	Workload Spec
	Arrival  Arrival
	// API is APIChat or APICompletions.
	API string
	// Model is the model name requests carry; empty asks the first
	// target's /v1/models.
	Model string
	// Policies are the harness's spreading policies, the first being the
	// baseline of ratios. With a single target (a router) they make no
	// difference: give one.
	Policies []string
	Reps     int
	// SweepRates, if set, replaces the arrival's rate: every rate is run as
	// Poisson arrivals and the knee found per policy.
	SweepRates []float64
	// TTFTBound is the sweep's p90 TTFT bound.
	TTFTBound time.Duration
	// Timeout bounds each request.
	Timeout time.Duration
	// NewFleet gives the fleet for one run: fresh simulated engines, or the
	// same external ones every time.
	NewFleet func(ctx context.Context) (Fleet, error)
	// ResetCache posts /reset_prefix_cache to every engine before a run, so
	// each run starts cold (tandem-sim; vLLM in development mode).
	ResetCache bool
	// BlockSize and CapacityBlocks override what the oracle reads from the
	// engines' vllm:cache_config_info (block size default 16).
	BlockSize, CapacityBlocks int
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Report is the result of Run.
type Report struct {
	Env      Env          `json:"env"`
	Workload Spec         `json:"workload"`
	Arrival  Arrival      `json:"arrival"`
	API      string       `json:"api"`
	Model    string       `json:"model"`
	Policies []string     `json:"policies"`
	Runs     []RunSummary `json:"runs"`
	// Ratios compare each policy with the first (non-sweep runs).
	Ratios []Ratio `json:"ratios,omitempty"`
	// SweepRates, Knees and TTFTBound describe a sweep: its rates, the
	// knee per policy and repetition, and the p90 TTFT bound.
	SweepRates []float64 `json:"sweep_rates,omitempty"`
	Knees      []KneeRun `json:"knees,omitempty"`
	TTFTBound  float64   `json:"ttft_bound_ms,omitempty"`
}

// KneeRun is one policy's knee in one repetition of a sweep.
type KneeRun struct {
	Policy string `json:"policy"`
	Rep    int    `json:"rep"`
	Knee
}

// Env is where and how the benchmark ran.
type Env struct {
	Command  string    `json:"command"`
	Cores    int       `json:"cores"`
	Seed     uint64    `json:"seed"`
	Platform string    `json:"platform"`
	Date     time.Time `json:"date"`
	// Notes describe the fleet (e.g. "4 in-process tandem-sim engines,
	// time scale 0.1").
	Notes string `json:"notes,omitempty"`
}

// NewEnv describes this process's run: the command as typed (program name
// without its folder), the machine's cores and platform, now.
func NewEnv(seed uint64, notes string) Env {
	return Env{
		Command: strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " "),
		Cores:   runtime.NumCPU(), Seed: seed, Date: time.Now(), Notes: notes,
		Platform: fmt.Sprintf("%s/%s %s", runtime.GOOS, runtime.GOARCH, runtime.Version()),
	}
}

type runKey struct {
	policy string
	rep    int
	rate   float64 // 0: the configured arrival
}

// Run runs the benchmark. Runs alternate policies within each repetition
// (A, B, A, B, …) so slow drifts of a shared machine hit every policy alike.
func Run(ctx context.Context, cfg Config, env Env) (*Report, error) {
	reqs, err := cfg.Workload.Generate()
	if err != nil {
		return nil, err
	}
	outputs := make([]int, len(reqs))
	for i := range reqs {
		outputs[i] = reqs[i].MaxTokens
	}
	rep := &Report{Env: env, Workload: cfg.Workload, Arrival: cfg.Arrival, API: cfg.API, Policies: cfg.Policies}
	rep.Workload.TraceRecords, rep.Workload.Trace = len(cfg.Workload.Trace), nil
	rates := []float64{0}
	if len(cfg.SweepRates) > 0 {
		rates = cfg.SweepRates
		rep.SweepRates, rep.TTFTBound = cfg.SweepRates, ms(cfg.TTFTBound)
	}
	r := &runner{cfg: cfg, reqs: reqs, outputs: outputs, oracles: map[[2]int]OracleResult{}}
	for _, rate := range rates {
		for k := range cfg.Reps {
			for _, policy := range cfg.Policies {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				s, err := r.one(ctx, runKey{policy, k + 1, rate})
				if err != nil {
					return rep, err
				}
				rep.Runs = append(rep.Runs, s)
			}
		}
	}
	rep.Model = r.model
	if len(cfg.SweepRates) == 0 && len(cfg.Policies) > 1 {
		rep.Ratios = Ratios(rep.Runs, cfg.Policies[0])
	}
	if len(cfg.SweepRates) > 0 {
		rep.Knees = knees(rep.Runs, cfg.Policies, cfg.Reps, ms(cfg.TTFTBound))
	}
	return rep, nil
}

func knees(runs []RunSummary, policies []string, reps int, boundMs float64) []KneeRun {
	var out []KneeRun
	for _, p := range policies {
		for k := 1; k <= reps; k++ {
			var pts []SweepPoint
			for _, r := range runs {
				if r.Policy == p && r.Rep == k {
					pts = append(pts, SweepPoint{Rate: float64(r.Rate), Throughput: float64(r.RequestRate), P90TTFT: float64(r.TTFT.P90)})
				}
			}
			out = append(out, KneeRun{Policy: p, Rep: k, Knee: FindKnee(pts, boundMs)})
		}
	}
	return out
}

type runner struct {
	cfg     Config
	reqs    []Request
	prompts [][]uint32
	outputs []int
	model   string
	oracles map[[2]int]OracleResult // by block size and capacity
	// noOracle: the target could not tokenize and no engine was named.
	noOracle bool
	hc       http.Client
}

// one runs a single (policy, repetition, rate) on a fleet of its own.
func (r *runner) one(ctx context.Context, k runKey) (RunSummary, error) {
	fleet, err := r.cfg.NewFleet(ctx)
	if err != nil {
		return RunSummary{}, err
	}
	if fleet.Close != nil {
		defer fleet.Close()
	}
	if err := r.prepare(ctx, fleet); err != nil {
		return RunSummary{}, err
	}
	arrival := r.cfg.Arrival
	if k.rate > 0 {
		arrival = Arrival{Kind: Poisson, Steps: []RateStep{{Rate: k.rate}}}
	}
	offsets, err := arrival.Schedule(r.reqs, r.cfg.Workload.Seed)
	if err != nil {
		return RunSummary{}, err
	}
	assigned, err := Assign(k.policy, r.reqs, len(fleet.Targets), stream(r.cfg.Workload.Seed, uint64(k.rep)))
	if err != nil {
		return RunSummary{}, err
	}
	before, err := r.scrape(ctx, fleet.Engines)
	if err != nil {
		return RunSummary{}, err
	}
	client := &Client{HTTP: &http.Client{Transport: NewTransport()}, API: r.cfg.API, Model: r.model}
	defer client.HTTP.CloseIdleConnections()
	results, elapsed := Execute(ctx, Plan{
		Requests: r.reqs, Offsets: offsets, Concurrency: arrival.Concurrency,
		Targets: fleet.Targets, Assigned: assigned, Client: client, Timeout: r.cfg.Timeout,
	})
	after, err := r.scrape(ctx, fleet.Engines)
	if err != nil {
		return RunSummary{}, err
	}
	rate := math.NaN()
	if offsets != nil {
		rate = MeanRate(offsets)
	}
	s := summarize(k.policy, k.rep, rate, results, elapsed, fleet.Targets)
	s.Engines = after.Sub(before)
	if s.Engines.PrefixQueries > 0 {
		s.HitRate = Num(s.Engines.PrefixHits / s.Engines.PrefixQueries)
	}
	s.Oracle = r.oracle(after, results)
	r.logf("%s rep %d%s: %d/%d ok, %.1f req/s, TTFT p90 %.1f ms, hit rate %.3f (oracle: infinite %.3f, LRU %.3f)",
		k.policy, k.rep, rateNote(k.rate), s.OK, s.Requests, float64(s.RequestRate), float64(s.TTFT.P90),
		float64(s.HitRate), s.Oracle.Infinite, s.Oracle.LRU)
	return s, nil
}

func rateNote(rate float64) string {
	if rate == 0 {
		return ""
	}
	return fmt.Sprintf(" at %g req/s", rate)
}

func (r *runner) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// prepare learns the model name once and resets the engines' caches.
func (r *runner) prepare(ctx context.Context, fleet Fleet) error {
	if len(fleet.Targets) == 0 {
		return errors.New("the fleet has no targets")
	}
	if r.model == "" {
		r.model = r.cfg.Model
	}
	if r.model == "" {
		m, err := ModelOf(ctx, &r.hc, fleet.Targets[0])
		if err != nil {
			return err
		}
		r.model = m
	}
	if r.prompts == nil && !r.noOracle {
		if err := r.tokenize(ctx, fleet); err != nil {
			if len(fleet.Engines) > 0 {
				return err
			}
			// A router need not answer /tokenize; without engines to ask
			// there is no hit rate to set against the oracle either.
			r.logf("no oracle: %v (name the engines to ask, e.g. --metrics)", err)
			r.noOracle = true
		}
	}
	if !r.cfg.ResetCache {
		return nil
	}
	for _, e := range fleet.Engines {
		if err := ResetPrefixCache(ctx, &r.hc, e); err != nil {
			return err
		}
	}
	return nil
}

// tokenize learns every prompt's token ids from the first engine's
// /tokenize (the router's when no engine is listed), for the oracle.
func (r *runner) tokenize(ctx context.Context, fleet Fleet) error {
	base := fleet.Targets[0]
	if len(fleet.Engines) > 0 {
		base = fleet.Engines[0]
	}
	prompts := make([][]uint32, len(r.reqs))
	for i := range r.reqs {
		toks, err := Tokenize(ctx, &r.hc, base, r.cfg.API, r.model, r.reqs[i].Messages)
		if err != nil {
			return fmt.Errorf("request %d: %w", i, err)
		}
		prompts[i] = toks
	}
	r.prompts = prompts
	return nil
}

// scrape sums the engines' metrics; settings are summed too (capacity) but
// the block size is the first engine's.
func (r *runner) scrape(ctx context.Context, engines []string) (EngineMetrics, error) {
	var total EngineMetrics
	for i, e := range engines {
		m, err := Scrape(ctx, &r.hc, e)
		if err != nil {
			return total, err
		}
		total.PrefixQueries += m.PrefixQueries
		total.PrefixHits += m.PrefixHits
		total.Preemptions += m.Preemptions
		total.NumGPUBlocks += m.NumGPUBlocks
		if i == 0 {
			total.BlockSize = m.BlockSize
		}
	}
	return total, nil
}

// oracle computes the hit-rate oracles once per block size and capacity,
// with the output lengths of the first run that asks: engines end answers
// where they like, so the lengths are known only from the usage reported
// (the same every run on the simulator, where they depend on the prompt
// alone). A request that failed counts as its max_tokens.
func (r *runner) oracle(m EngineMetrics, results []Result) OracleResult {
	if r.noOracle {
		return OracleResult{}
	}
	bs, capacity := r.cfg.BlockSize, r.cfg.CapacityBlocks
	if bs == 0 {
		bs = m.BlockSize
	}
	if bs == 0 {
		bs = 16
	}
	if capacity == 0 {
		capacity = m.NumGPUBlocks
	}
	key := [2]int{bs, capacity}
	if o, ok := r.oracles[key]; ok {
		return o
	}
	outputs := slices.Clone(r.outputs)
	for _, res := range results {
		if res.Err == "" && res.Index >= 0 && res.Index < len(outputs) {
			outputs[res.Index] = res.OutputTokens
		}
	}
	o := Oracle(r.prompts, outputs, bs, capacity)
	r.oracles[key] = o
	return o
}

// ModelOf asks a server's /v1/models for its first model.
func ModelOf(ctx context.Context, hc *http.Client, base string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("list models at %s: %w", base, err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("list models at %s (status %d; pass --model): %w", base, resp.StatusCode, err)
	}
	if len(list.Data) == 0 {
		return "", fmt.Errorf("list models at %s: status %d and no model; pass --model", base, resp.StatusCode)
	}
	return list.Data[0].ID, nil
}

// ResetPrefixCache posts /reset_prefix_cache. A 404 (a vLLM not in
// development mode) is not an error: the run simply starts warm.
func ResetPrefixCache(ctx context.Context, hc *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/reset_prefix_cache", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reset prefix cache at %s: %w", base, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("reset prefix cache at %s: status %d", base, resp.StatusCode)
	}
	return nil
}
