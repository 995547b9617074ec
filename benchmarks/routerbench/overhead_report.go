package routerbench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// OverheadRun is one measured window of one mode.
type OverheadRun struct {
	Case string `json:"case"`
	Mode string `json:"mode"`
	Rep  int    `json:"rep"`
	// OK requests completed in the window; Errors by kind.
	OK     int            `json:"ok"`
	Errors map[string]int `json:"errors,omitempty"`
	// Seconds is the window; RPS successful requests per second.
	Seconds float64  `json:"seconds"`
	RPS     load.Num `json:"rps"`
	// Latencies of successful requests, ms.
	P50  load.Num `json:"p50_ms"`
	P90  load.Num `json:"p90_ms"`
	P99  load.Num `json:"p99_ms"`
	Mean load.Num `json:"mean_ms"`
	Max  load.Num `json:"max_ms"`
	// RouterCPU is the router process's CPU seconds in the window,
	// RouterCores the same per second; RSS and its peak in MiB (NaN for
	// direct runs).
	RouterCPU    load.Num `json:"router_cpu_s"`
	RouterCores  load.Num `json:"router_cores"`
	RouterRSSMB  load.Num `json:"router_rss_mib"`
	RouterPeakMB load.Num `json:"router_peak_rss_mib"`
	// BenchCores is this process's CPU per second: the client and the
	// in-process engines. MachineBusy is the share of the whole machine's
	// CPU that was busy, every process included.
	BenchCores  load.Num `json:"bench_cores"`
	MachineBusy load.Num `json:"machine_busy"`
}

// summarize fills the request figures from a loop's result.
func (r *OverheadRun) summarize(res LoopResult) {
	r.OK, r.Seconds = len(res.Latencies), res.Window.Seconds()
	if len(res.Errors) > 0 {
		r.Errors = res.Errors
	}
	r.RPS = load.Num(ratio(float64(r.OK), r.Seconds))
	ms := make([]float64, len(res.Latencies))
	for i, d := range res.Latencies {
		ms[i] = float64(d) / float64(time.Millisecond)
	}
	s := load.Summarize(ms)
	r.P50, r.P90, r.P99 = load.Num(s.P50), load.Num(s.P90), load.Num(s.P99)
	r.Mean, r.Max = load.Num(s.Mean), load.Num(s.Max)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// overheadMetric is a column of the overhead tables.
type overheadMetric struct {
	name string
	get  func(OverheadRun) float64
}

var overheadMetrics = []overheadMetric{
	{"req/s", func(r OverheadRun) float64 { return float64(r.RPS) }},
	{"p50 ms", func(r OverheadRun) float64 { return float64(r.P50) }},
	{"p90 ms", func(r OverheadRun) float64 { return float64(r.P90) }},
	{"p99 ms", func(r OverheadRun) float64 { return float64(r.P99) }},
	{"router CPU s", func(r OverheadRun) float64 { return float64(r.RouterCPU) }},
	{"router cores", func(r OverheadRun) float64 { return float64(r.RouterCores) }},
	{"router µs/req", func(r OverheadRun) float64 { return float64(r.RouterCPU) / float64(r.OK) * 1e6 }},
	// Cores per 1,000 req/s is the sizing figure: a router at R req/s
	// needs about R/1000 times it.
	{"router cores/1k req/s", func(r OverheadRun) float64 { return ratio(float64(r.RouterCores), float64(r.RPS)/1000) }},
	{"router RSS MiB", func(r OverheadRun) float64 { return float64(r.RouterRSSMB) }},
	{"router peak MiB", func(r OverheadRun) float64 { return float64(r.RouterPeakMB) }},
	{"bench cores", func(r OverheadRun) float64 { return float64(r.BenchCores) }},
	{"machine busy", func(r OverheadRun) float64 { return float64(r.MachineBusy) }},
}

// OverheadMedian is the median of one case's and mode's repetitions.
type OverheadMedian struct {
	Case, Mode string
	Reps       int
	// Errors sums the repetitions' errors.
	Errors map[string]int
	// Values are the medians of overheadMetrics, in order.
	Values []float64
}

// OverheadMedians folds repetitions into medians per case and mode, in
// first-seen order.
func OverheadMedians(runs []OverheadRun) []OverheadMedian {
	type key struct{ c, m string }
	var order []key
	groups := map[key][]OverheadRun{}
	for _, r := range runs {
		k := key{r.Case, r.Mode}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	out := make([]OverheadMedian, 0, len(order))
	for _, k := range order {
		g := groups[k]
		m := OverheadMedian{Case: k.c, Mode: k.m, Reps: len(g), Errors: map[string]int{}}
		for _, om := range overheadMetrics {
			vals := make([]float64, len(g))
			for i, r := range g {
				vals[i] = om.get(r)
			}
			m.Values = append(m.Values, load.Median(vals))
		}
		for _, r := range g {
			for e, n := range r.Errors {
				m.Errors[e] += n
			}
		}
		out = append(out, m)
	}
	return out
}

// OverheadRatio compares a router mode with direct in one case: the
// median over repetitions of per-repetition figures, each taken between
// runs of the same repetition (run back to back).
type OverheadRatio struct {
	Case string `json:"case"`
	Mode string `json:"mode"`
	// RPS, P50 and P99 are router ÷ direct.
	RPS load.Num `json:"rps_ratio"`
	P50 load.Num `json:"p50_ratio"`
	P99 load.Num `json:"p99_ratio"`
	// AddedP50 and AddedP99 are router − direct, ms.
	AddedP50 load.Num `json:"added_p50_ms"`
	AddedP99 load.Num `json:"added_p99_ms"`
	// PerRepRPS are the repetitions' req/s ratios, in order.
	PerRepRPS []load.Num `json:"per_rep_rps_ratio"`
}

// OverheadRatios compares every router mode with direct, per case.
func OverheadRatios(runs []OverheadRun) []OverheadRatio {
	type key struct {
		c   string
		rep int
	}
	direct := map[key]OverheadRun{}
	type mk struct{ c, m string }
	var order []mk
	for _, r := range runs {
		if r.Mode == ModeDirect {
			direct[key{r.Case, r.Rep}] = r
		} else if !slices.Contains(order, mk{r.Case, r.Mode}) {
			order = append(order, mk{r.Case, r.Mode})
		}
	}
	var out []OverheadRatio
	for _, o := range order {
		var rps, p50, p99, a50, a99 []float64
		var per []load.Num
		for _, r := range runs {
			d, ok := direct[key{r.Case, r.Rep}]
			if r.Case != o.c || r.Mode != o.m || !ok {
				continue
			}
			rps = append(rps, ratio(float64(r.RPS), float64(d.RPS)))
			per = append(per, load.Num(rps[len(rps)-1]))
			p50 = append(p50, ratio(float64(r.P50), float64(d.P50)))
			p99 = append(p99, ratio(float64(r.P99), float64(d.P99)))
			a50 = append(a50, float64(r.P50-d.P50))
			a99 = append(a99, float64(r.P99-d.P99))
		}
		med := func(v []float64) load.Num { return load.Num(load.Median(v)) }
		out = append(out, OverheadRatio{Case: o.c, Mode: o.m, RPS: med(rps), P50: med(p50), P99: med(p99),
			AddedP50: med(a50), AddedP99: med(a99), PerRepRPS: per})
	}
	return out
}

// Env is where and how a benchmark ran.
type Env struct {
	load.Env
	// Router is the tandem-router binary and its build (e.g. "bin/tandem-router, built 2026-11-22 01:44").
	Router string `json:"router"`
}

func (e Env) print(w io.Writer) {
	fmt.Fprintf(w, "command:  %s\n", e.Command)
	fmt.Fprintf(w, "platform: %s, %d cores, seed %d, %s\n", e.Platform, e.Cores, e.Seed, e.Date.Format("2006-01-02 15:04 MST"))
	if e.Router != "" {
		fmt.Fprintf(w, "router:   %s\n", e.Router)
	}
	if e.Notes != "" {
		fmt.Fprintf(w, "setup:    %s\n", e.Notes)
	}
}

// OverheadReport is the whole overhead benchmark.
type OverheadReport struct {
	Env    Env             `json:"env"`
	Runs   []OverheadRun   `json:"runs"`
	Ratios []OverheadRatio `json:"ratios"`
}

// kthenaCitation is a peer's figure for this setup that this benchmark does
// not measure (Kthena's router needs its Kubernetes resources to run); it
// is printed as a citation, with its source, never beside the results.
const kthenaCitation = `external citation, NOT measured in this run: Kthena's router, as reported in Tandem's architecture brief
(section "Numbers to beat", the project's design notes, not part of this repository; read 2026-12-03), measured by the
brief's authors on another 2-core shared machine, concurrency 32, small non-streaming chats, trivial engines: about
4.4-5.2k req/s, p50 5-7 ms, p99 16-20 ms, against 22-40k req/s direct; with 20 ms engines, p99 28-62 ms against 23 ms
direct. No streaming figure was given. The brief's goal for Tandem: at least 2x that rate.`

// Print writes the report's tables.
func (r *OverheadReport) Print(w io.Writer) error {
	r.Env.print(w)
	fmt.Fprintln(w, "note:     client, engines and router share the machine's cores; the router's CPU is its process's")
	fmt.Fprintln(w, "          own, \"bench cores\" the client's plus the in-process engines', \"machine busy\" all processes'.")
	fmt.Fprintln(w, "\n"+kthenaCitation)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nruns (latency: send to last byte of successful requests in the measured window)")
	head := []string{"case", "mode", "rep", "ok", "errors"}
	for _, m := range overheadMetrics {
		head = append(head, m.name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, run := range r.Runs {
		row := []string{run.Case, run.Mode, strconv.Itoa(run.Rep), strconv.Itoa(run.OK), errorsText(run.Errors)}
		for _, m := range overheadMetrics {
			row = append(row, load.FormatNum(m.get(run)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nmedian of repetitions (errors: summed)")
	head[2], head[3] = "reps", "errors"
	fmt.Fprintln(tw, strings.Join(slices.Delete(slices.Clone(head), 4, 5), "\t")+"\t")
	for _, m := range OverheadMedians(r.Runs) {
		row := []string{m.Case, m.Mode, strconv.Itoa(m.Reps), errorsText(m.Errors)}
		for _, v := range m.Values {
			row = append(row, load.FormatNum(v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nrouter against direct (median over repetitions of per-repetition figures)")
	fmt.Fprintln(tw, "case\tmode\treq/s ÷ direct\tper repetition\tp50 ÷ direct\tp99 ÷ direct\tadded p50 ms\tadded p99 ms\t")
	for _, q := range r.Ratios {
		per := make([]string, len(q.PerRepRPS))
		for i, v := range q.PerRepRPS {
			per[i] = load.FormatNum(float64(v))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", q.Case, q.Mode, load.FormatNum(float64(q.RPS)), strings.Join(per, " "),
			load.FormatNum(float64(q.P50)), load.FormatNum(float64(q.P99)), load.FormatNum(float64(q.AddedP50)), load.FormatNum(float64(q.AddedP99)))
	}
	return tw.Flush()
}
