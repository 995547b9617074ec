package simbench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"text/tabwriter"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// OutputsConfig is the outputs part: where answers end and how big tokens
// are, both measured through the HTTP API as a client sees them.
type OutputsConfig struct {
	// Requests of MaxTokens each, without ignore_eos, unique prompts.
	Requests  int `json:"requests"`
	MaxTokens int `json:"max_tokens"`
	// Texts per style of load.Text, TextTokens each as the harness
	// guesses, tokenized by the engine's /tokenize.
	Texts      int `json:"texts"`
	TextTokens int `json:"text_tokens"`
}

// LengthsResult is the distribution of generated tokens as fractions of
// max_tokens: measured from the usage the engine reported, and the
// analytic values of the engine's log-normal capped at max_tokens.
type LengthsResult struct {
	Requests  int `json:"requests"`
	Errors    int `json:"errors"`
	MaxTokens int `json:"max_tokens"`
	// Measured.
	Mean   load.Num `json:"mean_fraction"`
	Median load.Num `json:"median_fraction"`
	P90    load.Num `json:"p90_fraction"`
	Capped load.Num `json:"capped_share"`
	// Model: E[min(X, 1)], the median and P(X ≥ 1) for ln X ~ N(μ, σ²).
	ModelMean   load.Num `json:"model_mean_fraction"`
	ModelMedian load.Num `json:"model_median_fraction"`
	ModelP90    load.Num `json:"model_p90_fraction"`
	ModelCapped load.Num `json:"model_capped_share"`
}

// TextPoint is one style of synthetic text through the engine's tokenizer.
type TextPoint struct {
	Style  string `json:"style"`
	Texts  int    `json:"texts"`
	Asked  int    `json:"asked_tokens"`
	Tokens int    `json:"tokens"`
	Bytes  int    `json:"bytes"`
	// BytesPerToken is Bytes ÷ Tokens; TokensPerAsked Tokens ÷ Asked.
	BytesPerToken  load.Num `json:"bytes_per_token"`
	TokensPerAsked load.Num `json:"tokens_per_asked"`
}

// OutputsResult is the outputs part.
type OutputsResult struct {
	Lengths LengthsResult `json:"lengths"`
	Text    []TextPoint   `json:"text"`
}

// modelLengths are the analytic figures of the default log-normal,
// fractions of max_tokens.
func modelLengths(l engine.Lengths) (mean, median, p90, capped float64) {
	mu := math.Log(l.MeanFraction) - l.Sigma*l.Sigma/2
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	capped = 1 - phi(-mu/l.Sigma)
	mean = l.MeanFraction*phi((-mu-l.Sigma*l.Sigma)/l.Sigma) + capped
	const z90 = 1.2815515655446004 // Φ⁻¹(0.9)
	return mean, math.Exp(mu), min(1, math.Exp(mu+z90*l.Sigma)), capped
}

func (s *session) outputs(ctx context.Context) (OutputsResult, error) {
	o := s.cfg.Outputs
	engines, err := s.startEngines(ctx, 1, 0)
	if err != nil {
		return OutputsResult{}, err
	}
	defer closeAll(engines)
	e := engines[0]
	reqs := make([]load.Request, o.Requests)
	for i := range reqs {
		reqs[i] = load.Request{Index: i, After: -1, MaxTokens: o.MaxTokens,
			Messages: []load.Message{{Role: "user", Content: load.Text(64, load.Prose, s.cfg.Seed+5000, uint64(i))}}}
	}
	results, _ := load.Execute(ctx, load.Plan{
		Requests: reqs, Concurrency: 16, Targets: []string{e.URL()},
		Assigned: make([]int, len(reqs)), Client: s.client, Timeout: s.cfg.Timeout,
	})
	res := OutputsResult{Lengths: LengthsResult{Requests: o.Requests, MaxTokens: o.MaxTokens}}
	var fractions []float64
	capped := 0
	for _, r := range results {
		if r.Err != "" {
			res.Lengths.Errors++
			continue
		}
		fractions = append(fractions, float64(r.OutputTokens)/float64(o.MaxTokens))
		if r.OutputTokens >= o.MaxTokens {
			capped++
		}
	}
	l := &res.Lengths
	if n := len(fractions); n > 0 {
		sum := 0.0
		for _, f := range fractions {
			sum += f
		}
		slices.Sort(fractions)
		l.Mean, l.Capped = load.Num(sum/float64(n)), load.Num(float64(capped)/float64(n))
		l.Median, l.P90 = load.Num(load.Percentile(fractions, 50)), load.Num(load.Percentile(fractions, 90))
	}
	mean, median, p90, capShare := modelLengths(e.Config().Lengths)
	l.ModelMean, l.ModelMedian, l.ModelP90, l.ModelCapped = load.Num(mean), load.Num(median), load.Num(p90), load.Num(capShare)
	s.logf("outputs: %d requests of max_tokens %d, mean %.3f of it (model %.3f)", o.Requests, o.MaxTokens, float64(l.Mean), mean)

	hc := &http.Client{}
	for _, st := range []struct {
		name  string
		style load.Style
	}{{"prose", load.Prose}, {"code", load.Code}, {"records", load.Records}} {
		p := TextPoint{Style: st.name, Texts: o.Texts, Asked: o.Texts * o.TextTokens}
		for i := range o.Texts {
			text := load.Text(o.TextTokens, st.style, s.cfg.Seed+6000, uint64(i))
			toks, err := load.Tokenize(ctx, hc, e.URL(), load.APICompletions, s.cfg.Engine.Model, []load.Message{{Role: "user", Content: text}})
			if err != nil {
				return res, err
			}
			p.Tokens += len(toks)
			p.Bytes += len(text)
		}
		p.BytesPerToken = load.Num(float64(p.Bytes) / float64(p.Tokens))
		p.TokensPerAsked = load.Num(float64(p.Tokens) / float64(p.Asked))
		res.Text = append(res.Text, p)
	}
	return res, nil
}

func (r *Report) printOutputs(w io.Writer, tw *tabwriter.Writer) error {
	o, l := r.Outputs, r.Outputs.Lengths
	fmt.Fprintf(w, "\noutput lengths: one tandem-sim engine (default --output-lengths) over HTTP at time scale 0, %d requests of\n", l.Requests)
	fmt.Fprintf(w, "max_tokens %d without ignore_eos, unique prompts, 16 in flight; generated tokens (usage) as fractions of max_tokens;\n", l.MaxTokens)
	fmt.Fprintln(w, "model = the engine's log-normal (mean 0.3 before the cap, σ 1) capped at 1, analytically")
	fmt.Fprintln(tw, "\tmean\tmedian\tp90\tat the cap\terrors\t")
	fmt.Fprintf(tw, "measured\t%s\t%s\t%s\t%s\t%d\t\n", num(l.Mean), num(l.Median), num(l.P90), num(l.Capped), l.Errors)
	fmt.Fprintf(tw, "model\t%s\t%s\t%s\t%s\t\t\n", num(l.ModelMean), num(l.ModelMedian), num(l.ModelP90), num(l.ModelCapped))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nsynthetic text (benchmarks/load's Text) through the engine's POST /tokenize: texts written for the asked tokens by the")
	fmt.Fprintln(w, "harness's rule of thumb (4 bytes a token for prose, 3 for code and records), counted by the engine")
	fmt.Fprintln(tw, "style\ttexts\tasked tokens\ttokens\tbytes\tbytes/token\ttokens/asked\t")
	for _, p := range o.Text {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", p.Style, p.Texts, p.Asked, p.Tokens, p.Bytes, num(p.BytesPerToken), num(p.TokensPerAsked))
	}
	return tw.Flush()
}
