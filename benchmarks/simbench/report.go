package simbench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// TTFTPoint is one prompt length of the idle-engine TTFT curve, in the
// modelled GPU's ms.
type TTFTPoint struct {
	// PromptTokens is the prompt length as the engine counted it (usage).
	PromptTokens int `json:"prompt_tokens"`
	// Chunks is the model's number of prefill steps.
	Chunks int `json:"chunks"`
	Reps   int `json:"reps"`
	Errors int `json:"errors"`
	// Measured is the median over Reps; Min and Max the extremes.
	Measured load.Num `json:"measured_ms"`
	Min      load.Num `json:"min_ms"`
	Max      load.Num `json:"max_ms"`
	Model    load.Num `json:"model_ms"`
	Ratio    load.Num `json:"measured_over_model"`
}

// ThroughputPoint is one concurrency of the closed-loop curve: rates per
// modelled second, latencies (p50) in modelled ms.
type ThroughputPoint struct {
	Concurrency int      `json:"concurrency"`
	Requests    int      `json:"requests"`
	Errors      int      `json:"errors"`
	OutputRate  load.Num `json:"output_tokens_per_s"`
	RequestRate load.Num `json:"requests_per_s"`
	TTFT        load.Num `json:"ttft_p50_ms"`
	ITL         load.Num `json:"itl_p50_ms"`
	ITLMean     load.Num `json:"itl_mean_ms"`

	ModelOutputRate  load.Num `json:"model_output_tokens_per_s"`
	ModelRequestRate load.Num `json:"model_requests_per_s"`
	ModelTTFT        load.Num `json:"model_ttft_p50_ms"`
	ModelITL         load.Num `json:"model_itl_p50_ms"`
	ModelITLMean     load.Num `json:"model_itl_mean_ms"`
	// Ratio is OutputRate ÷ ModelOutputRate.
	Ratio load.Num `json:"measured_over_model"`
}

// Reference kinds: how much a figure the model was calibrated on is worth.
const (
	// KindPublished is a measurement of real GPUs that someone published.
	KindPublished = "published measurement"
	// KindEstimate is arithmetic from hardware peaks: the model's own input.
	KindEstimate = "calibration estimate"
)

// Reference is a figure from benchmarks/sim/engine/doc.go beside what the
// model predicts and what the simulator measured for the same case.
type Reference struct {
	Case   string   `json:"case"`
	Kind   string   `json:"kind"`
	Source string   `json:"source"`
	Value  load.Num `json:"value_ms"`
	Model  load.Num `json:"model_ms"`
	Sim    load.Num `json:"sim_ms"`
}

// HostResult is the host-capacity sweep.
type HostResult struct {
	Config HostConfig `json:"config"`
	// Model is one engine's closed loop as the model runs it, in modelled
	// time.
	Model  ModelRun    `json:"model"`
	Points []HostPoint `json:"points"`
	Limit  HostLimit   `json:"limit"`
}

// Report is everything one run of the benchmark measured.
type Report struct {
	Env        load.Env          `json:"env"`
	Config     Config            `json:"config"`
	TTFT       []TTFTPoint       `json:"ttft,omitempty"`
	References []Reference       `json:"references,omitempty"`
	Throughput []ThroughputPoint `json:"throughput,omitempty"`
	Host       *HostResult       `json:"host,omitempty"`
	Outputs    *OutputsResult    `json:"outputs,omitempty"`
}

func num(v load.Num) string { return load.FormatNum(float64(v)) }

// Print writes the report as tables.
func (r *Report) Print(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "command:  %s\n", r.Env.Command)
	fmt.Fprintf(w, "platform: %s, %d cores, seed %d, %s\n", r.Env.Platform, r.Env.Cores, r.Env.Seed, r.Env.Date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "engine:   %s on one H100 as modelled in benchmarks/sim/engine (doc.go cites the calibration)\n", c.Engine.Model)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(r.TTFT) > 0 {
		fmt.Fprintf(w, "\nTTFT vs uncached prompt tokens: one idle tandem-sim engine over HTTP at time scale %g, %d requests per length,\n", c.TimeScale, c.Reps)
		fmt.Fprintln(w, "one at a time, max_tokens 1; measured = median (min, max) of the client's TTFT ÷ time scale; model = the closed")
		fmt.Fprintf(w, "form of chunked prefill (%d-token steps); all in the modelled GPU's ms\n", c.Engine.MaxBatchedTokens)
		fmt.Fprintln(tw, "prompt tokens\tprefill steps\tmeasured ms\tmin\tmax\tmodel ms\tmeasured/model\terrors\t")
		for _, p := range r.TTFT {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t\n", p.PromptTokens, p.Chunks, num(p.Measured), num(p.Min), num(p.Max), num(p.Model), num(p.Ratio), p.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.References) > 0 {
		fmt.Fprintln(w, "\nthe figures the model was calibrated on (benchmarks/sim/engine/doc.go), the model's value and the simulator's")
		fmt.Fprintln(w, "measurement over HTTP for the same case, modelled ms")
		lw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(lw, "  figure ms\tmodel ms\tsim ms\tcase\tkind: source")
		for _, ref := range r.References {
			fmt.Fprintf(lw, "  %s\t%s\t%s\t%s\t%s: %s\n", strconv.FormatFloat(float64(ref.Value), 'f', -1, 64),
				num(ref.Model), num(ref.Sim), ref.Case, ref.Kind, ref.Source)
		}
		if err := lw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Throughput) > 0 {
		fmt.Fprintf(w, "\nthroughput vs concurrency: one tandem-sim engine over HTTP at time scale %g, closed loop, unique prompts of %d tokens,\n",
			c.TimeScale, c.InputTokens)
		fmt.Fprintf(w, "%d generated; %d requests per unit of concurrency (at least 8), a fresh engine per point; rates per modelled second,\n",
			c.OutputTokens, c.RequestsPerSlot)
		fmt.Fprintln(w, "latencies in modelled ms; model = the engine model run in virtual time on the same prompts, each next request sent")
		fmt.Fprintln(w, "1 ms after the last one ended (it misses the step that starts at that instant, as over HTTP)")
		fmt.Fprintln(tw, "concurrency\trequests\tout tok/s\tmodel\tratio\treq/s\tmodel\tTTFT p50 ms\tmodel\tITL p50 ms\tmodel\tITL mean\tmodel\terrors\t")
		for _, p := range r.Throughput {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", p.Concurrency, p.Requests,
				num(p.OutputRate), num(p.ModelOutputRate), num(p.Ratio), num(p.RequestRate), num(p.ModelRequestRate),
				num(p.TTFT), num(p.ModelTTFT), num(p.ITL), num(p.ModelITL), num(p.ITLMean), num(p.ModelITLMean), p.Errors)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if r.Host != nil {
		if err := r.printHost(w, tw); err != nil {
			return err
		}
	}
	if r.Outputs != nil {
		if err := r.printOutputs(w, tw); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) printHost(w io.Writer, tw *tabwriter.Writer) error {
	h := r.Host
	hc := h.Config
	fmt.Fprintf(w, "\nhost capacity: N engines in this process at time scale %g, each under its own closed loop of %d requests in flight\n",
		hc.TimeScale, hc.Concurrency)
	fmt.Fprintf(w, "(unique %d-token prompts, %d generated, %d requests per engine; model: %s tokens per modelled second per engine,\n",
		hc.InputTokens, hc.OutputTokens, h.Model.Requests, load.FormatNum(h.Model.OutputRate()))
	fmt.Fprintf(w, "mean ITL %s ms); demand = N × that ÷ time scale, the tokens per wall-clock second a host that keeps up delivers;\n",
		load.FormatNum(h.Model.ITL.Mean))
	fmt.Fprintln(w, "speed = modelled span × time scale ÷ wall span; deviation = max(1 − speed, ITL ratio − 1); cores = the process's")
	fmt.Fprintln(w, "CPU time (engines, HTTP servers and the load client) ÷ wall time; machine = every process's (/proc/stat)")
	fmt.Fprintln(tw, "engines\trequests\tdemand tok/s\tachieved tok/s\tspeed\tITL mean ms\tmodel\tITL ratio\tdeviation\tcores\tmachine\tCPU µs/token\tsteps/s\terrors\t")
	for _, p := range h.Points {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", p.Engines, p.Requests, num(p.Demand), num(p.Achieved),
			num(p.Speed), num(p.ITL), num(p.ModelITL), num(p.ITLRatio), percent(float64(p.Deviation)), num(p.Cores),
			num(p.MachineCores), num(p.CPUPerToken), num(p.StepRate), p.Errors)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, r.hostVerdict())
	return nil
}

// hostVerdict says in words where the host stopped keeping up.
func (r *Report) hostVerdict() string {
	h := r.Host
	l, hc, cores := h.Limit, h.Config, r.Env.Cores
	th := percent(hc.Threshold)
	perEngine := h.Model.OutputRate()
	switch l.Censored {
	case "below":
		return fmt.Sprintf("even %d engine(s) deviated beyond %s from the model: the demand (%s tokens/s) is past this host; "+
			"raise --host-time-scale", l.FirstBeyond, th, load.FormatNum(l.Demand))
	case "above":
		return fmt.Sprintf("every run stayed within %s of the model, up to %d engines (%s tokens per wall-clock second): the limit is above that; "+
			"lower --host-time-scale or add engines", th, l.LastWithin, load.FormatNum(l.Demand))
	}
	if cores < 1 {
		cores = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "limit: within %s of the model up to %d engines, beyond it at %d; the crossing, interpolated, is at %s engines = %s generated\n",
		th, l.LastWithin, l.FirstBeyond, load.FormatNum(l.Engines), load.FormatNum(l.Demand))
	fmt.Fprintf(&b, "tokens per wall-clock second on this machine's %d cores, %s per core. A real-time engine (time scale 1) under this load makes\n",
		cores, load.FormatNum(l.Demand/float64(cores)))
	fmt.Fprintf(&b, "%s tokens/s, so one core drives about %s of them (%s engines ÷ time scale %g ÷ %d cores), if host cost per step and per\n",
		load.FormatNum(perEngine), load.FormatNum(l.Engines/hc.TimeScale/float64(cores)), load.FormatNum(l.Engines), hc.TimeScale, cores)
	b.WriteString("streamed token does not depend on the time scale (sleeping costs nothing)")
	return b.String()
}

func percent(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}
