package routerbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/router/kvindex"
	"github.com/tandem-serving/tandem/router/prefix"
	"github.com/tandem-serving/tandem/router/request"
	"github.com/tandem-serving/tandem/router/tokenize"
)

// Tokenization overhead: what exact mode (kvEvents.tokenizer: engine) adds
// to picking an endpoint, per prompt size. Three steps of the router's own
// code, alternating within each repetition:
//
//   - approximate: the rendered prompt's byte-block hashes (package
//     prefix), which every request pays: the baseline;
//   - engine: a /tokenize call to a tandem-sim engine over a pooled
//     loopback connection, uncached, and the chain over its token ids
//     (package kvindex): what a request pays when its tokens are not
//     cached;
//   - cached: the token cache's keys, a hit, and the chain: a repeated
//     prompt or a conversation's next turn.
//
// tandem-sim's tokenizer is a byte rule, far cheaper than a model's; the
// engine step measures the router's side (request body, HTTP, JSON of the
// answer) plus that, not vLLM's tokenizer.

// TokenizeStep is one of the measured steps.
type TokenizeStep string

const (
	StepApproximate TokenizeStep = "approximate"
	StepEngine      TokenizeStep = "engine"
	StepCached      TokenizeStep = "cached"
)

var tokenizeSteps = []TokenizeStep{StepApproximate, StepEngine, StepCached}

// TokenizeConfig sizes the measurement.
type TokenizeConfig struct {
	// Sizes are the prompt sizes in bytes (one chat message each).
	Sizes []int
	// Iterations per step and repetition; Reps repetitions.
	Iterations, Reps int
	Seed             uint64
	Logf             func(format string, args ...any)
}

// TokenizeRow is one size and step over all repetitions.
type TokenizeRow struct {
	Bytes  int          `json:"bytes"`
	Tokens int          `json:"tokens"`
	Step   TokenizeStep `json:"step"`
	// P50 and P99 are in microseconds, the medians over repetitions.
	P50 float64 `json:"p50_us"`
	P99 float64 `json:"p99_us"`
	// Ratio is P50 over the approximate step's P50 of the same size.
	Ratio float64 `json:"p50_ratio"`
}

// RunTokenize measures every size against one in-process tandem-sim engine.
func RunTokenize(ctx context.Context, cfg TokenizeConfig) ([]TokenizeRow, error) {
	if len(cfg.Sizes) == 0 || cfg.Iterations < 1 || cfg.Reps < 1 {
		return nil, fmt.Errorf("tokenize overhead: sizes, iterations and reps must be given")
	}
	scfg := sim.DefaultConfig()
	scfg.Listen, scfg.TimeScale = "127.0.0.1:0", 0
	eng, err := sim.Start(ctx, scfg)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
	defer client.CloseIdleConnections()
	const blockTokens = 16
	// No cache: every engine step calls the engine.
	uncached := tokenize.New(tokenize.Config{Timeout: 10 * time.Second, BlockTokens: blockTokens}, client)
	var rows []TokenizeRow
	for _, size := range cfg.Sizes {
		req, err := tokenizeRequest(scfg.Engine.Model, size, cfg.Seed)
		if err != nil {
			return nil, err
		}
		cached := tokenize.New(tokenize.Config{Timeout: 10 * time.Second, BlockTokens: blockTokens, CacheTokens: 1 << 24}, client)
		keys := tokenize.Keys(nil, req)
		first, err := cached.Tokenize(ctx, eng.URL(), req, keys)
		if err != nil {
			return nil, err
		}
		steps := map[TokenizeStep]func() error{
			StepApproximate: func() error {
				_ = prefix.AppendHashes(nil, prefix.Seed(req.Model), req.Prompt, prefix.DefaultBlockBytes)
				return nil
			},
			StepEngine: func() error {
				res, err := uncached.Tokenize(ctx, eng.URL(), req, nil)
				_ = kvindex.AppendHashes(nil, res.Tokens, blockTokens)
				return err
			},
			StepCached: func() error {
				res, ok := cached.Cached(req, tokenize.Keys(nil, req))
				if !ok {
					return fmt.Errorf("cached step missed")
				}
				_ = kvindex.AppendHashes(nil, res.Tokens, blockTokens)
				return nil
			},
		}
		perStep := map[TokenizeStep][][2]float64{}
		for rep := 1; rep <= cfg.Reps; rep++ {
			for _, step := range tokenizeSteps {
				lat := make([]float64, 0, cfg.Iterations)
				for range cfg.Iterations {
					if err := ctx.Err(); err != nil {
						return rows, err
					}
					start := time.Now()
					if err := steps[step](); err != nil {
						return rows, fmt.Errorf("%d bytes, %s: %w", size, step, err)
					}
					lat = append(lat, float64(time.Since(start).Nanoseconds())/1e3)
				}
				slices.Sort(lat)
				p := [2]float64{load.Percentile(lat, 50), load.Percentile(lat, 99)}
				perStep[step] = append(perStep[step], p)
				if cfg.Logf != nil {
					cfg.Logf("%7d bytes %-11s rep %d: p50 %.1f µs, p99 %.1f µs", size, step, rep, p[0], p[1])
				}
			}
		}
		base := 0.0
		for _, step := range tokenizeSteps {
			r := TokenizeRow{Bytes: len(req.Prompt), Tokens: len(first.Tokens), Step: step,
				P50: median(perStep[step], 0), P99: median(perStep[step], 1)}
			if step == StepApproximate {
				base = r.P50
			}
			if base > 0 {
				r.Ratio = r.P50 / base
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

func median(v [][2]float64, i int) float64 {
	xs := make([]float64, len(v))
	for j := range v {
		xs[j] = v[j][i]
	}
	slices.Sort(xs)
	return load.Percentile(xs, 50)
}

// tokenizeRequest is a parsed chat request whose one message is about size
// bytes of seeded words.
func tokenizeRequest(model string, size int, seed uint64) (*request.Request, error) {
	content, err := json.Marshal(load.Words(max(1, size/4), seed, 0x70c, uint64(size)))
	if err != nil {
		return nil, err
	}
	body := `{"model":"` + model + `","max_tokens":1,"messages":[{"role":"user","content":` + string(content) + `}]}`
	req := &request.Request{}
	if perr := request.Parse(request.Chat, []byte(body), req); perr != nil {
		return nil, perr
	}
	return req, nil
}

// PrintTokenize writes rows as a Markdown table.
func PrintTokenize(w io.Writer, rows []TokenizeRow) error {
	var b strings.Builder
	b.WriteString("| prompt | tokens | step | p50 | p99 | p50 / approximate |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.1f× |\n", sizeText(r.Bytes), r.Tokens, r.Step, usText(r.P50), usText(r.P99), r.Ratio)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sizeText(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("%.0f KB", float64(n)/1000)
	}
	return fmt.Sprintf("%d B", n)
}

func usText(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.1f µs", us)
}
