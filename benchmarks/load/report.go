package load

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// tableMetrics are the columns of the run tables, a subset of Metrics.
var tableMetrics = []string{
	"req/s", "out tok/s", "TTFT p50 ms", "TTFT p90 ms", "TTFT p99 ms", "ITL p50 ms", "ITL p90 ms",
	"E2E p50 ms", "E2E p90 ms", "hit rate", "oracle inf", "oracle LRU",
}

func metricByName(name string) Metric {
	for _, m := range Metrics {
		if m.Name == name {
			return m
		}
	}
	panic("load: no metric " + name)
}

// FormatNum prints a figure with about three significant digits, "-" for
// NaN or infinity: the number format of every benchmark table.
func FormatNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, errs[k])
	}
	return strings.Join(parts, ",")
}

// Print writes the report as tables: the environment, every run, the median
// per policy (and rate), the ratios to the baseline policy, and the knees.
func (r *Report) Print(w io.Writer) error {
	fmt.Fprintf(w, "command:  %s\n", r.Env.Command)
	fmt.Fprintf(w, "platform: %s, %d cores, seed %d, %s\n", r.Env.Platform, r.Env.Cores, r.Env.Seed, r.Env.Date.Format("2006-01-02 15:04 MST"))
	if r.Env.Notes != "" {
		fmt.Fprintf(w, "fleet:    %s\n", r.Env.Notes)
	}
	fmt.Fprintf(w, "workload: %s; api %s, model %s\n", r.Workload.Describe(), r.API, r.Model)
	if len(r.SweepRates) > 0 {
		fmt.Fprintf(w, "arrival:  poisson, sweep over %v req/s\n", r.SweepRates)
	} else {
		fmt.Fprintf(w, "arrival:  %s\n", r.Arrival.Describe())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\nruns (wall-clock latencies of successful requests; hit rate from the engines' metrics;")
	fmt.Fprintln(w, "oracle: the workload's best hit rate with an infinite cache, and with the fleet's KV blocks pooled under LRU)")
	r.runTable(tw, r.Runs, true)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nmedian of repetitions")
	r.runTable(tw, medianRuns(r.Runs), false)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Ratios) > 0 {
		fmt.Fprintf(w, "\nratio to %s (median over repetitions of the per-repetition ratio)\n", r.Policies[0])
		ratioTable(tw, r.Ratios)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Knees) > 0 {
		fmt.Fprintf(w, "\nknee: throughput where p90 TTFT crosses %s ms\n", FormatNum(r.TTFTBound))
		r.kneeTable(tw)
	}
	return tw.Flush()
}

func (r *Report) runTable(tw io.Writer, runs []RunSummary, withRep bool) {
	head := []string{"policy", "rep", "rate", "ok", "errors"}
	if !withRep {
		head = []string{"policy", "reps", "rate", "ok", "errors"}
	}
	fmt.Fprintln(tw, strings.Join(append(head, tableMetrics...), "\t")+"\t")
	for _, s := range runs {
		row := []string{s.Policy, strconv.Itoa(s.Rep), FormatNum(float64(s.Rate)), fmt.Sprintf("%d/%d", s.OK, s.Requests), errorsText(s.Errors)}
		for _, name := range tableMetrics {
			row = append(row, FormatNum(metricByName(name).Get(s)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
}

// medianRuns folds the repetitions of each (policy, rate) into one row of
// medians; Rep holds the number of repetitions and OK the median count.
func medianRuns(runs []RunSummary) []RunSummary {
	type key struct {
		policy string
		rate   float64
	}
	var order []key
	groups := map[key][]RunSummary{}
	for _, s := range runs {
		rate := float64(s.Rate)
		if math.IsNaN(rate) {
			rate = -1 // closed loop; NaN would never equal itself as a map key
		}
		k := key{s.Policy, math.Round(rate*1000) / 1000}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := make([]RunSummary, 0, len(order))
	for _, k := range order {
		g := groups[k]
		col := func(f func(RunSummary) float64) Num {
			vals := make([]float64, len(g))
			for i, s := range g {
				vals[i] = f(s)
			}
			return Num(Median(vals))
		}
		m := RunSummary{Policy: k.policy, Rep: len(g), Requests: g[0].Requests}
		m.Rate = col(func(s RunSummary) float64 { return float64(s.Rate) })
		m.OK = int(col(func(s RunSummary) float64 { return float64(s.OK) }))
		m.RequestRate = col(func(s RunSummary) float64 { return float64(s.RequestRate) })
		m.OutputTokenRate = col(func(s RunSummary) float64 { return float64(s.OutputTokenRate) })
		m.TTFT = Latency{P50: col(func(s RunSummary) float64 { return float64(s.TTFT.P50) }),
			P90: col(func(s RunSummary) float64 { return float64(s.TTFT.P90) }),
			P99: col(func(s RunSummary) float64 { return float64(s.TTFT.P99) })}
		m.ITL = Latency{P50: col(func(s RunSummary) float64 { return float64(s.ITL.P50) }),
			P90: col(func(s RunSummary) float64 { return float64(s.ITL.P90) })}
		m.E2E = Latency{P50: col(func(s RunSummary) float64 { return float64(s.E2E.P50) }),
			P90: col(func(s RunSummary) float64 { return float64(s.E2E.P90) }),
			P99: col(func(s RunSummary) float64 { return float64(s.E2E.P99) })}
		m.HitRate = col(func(s RunSummary) float64 { return float64(s.HitRate) })
		m.Oracle = g[0].Oracle
		out = append(out, m)
	}
	return out
}

func ratioTable(tw io.Writer, ratios []Ratio) {
	fmt.Fprintln(tw, "policy\tmetric\tmedian\tper repetition\t")
	for _, r := range ratios {
		if slices.Contains([]string{"oracle inf", "oracle LRU", "hit/oracle inf", "hit/oracle LRU"}, r.Metric) {
			continue // the oracle is the workload's, the same for every policy
		}
		per := make([]string, len(r.PerRep))
		for i, v := range r.PerRep {
			per[i] = FormatNum(float64(v))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Policy, r.Metric, FormatNum(float64(r.Median)), strings.Join(per, " "))
	}
}

func (r *Report) kneeTable(tw io.Writer) {
	fmt.Fprintln(tw, "policy\tknee req/s (median)\tat rate\tper repetition\tratio to "+r.Policies[0]+"\t")
	medianOf := func(policy string, f func(Knee) float64) float64 {
		var v []float64
		for _, k := range r.Knees {
			if k.Policy == policy {
				v = append(v, f(k.Knee))
			}
		}
		return Median(v)
	}
	base := medianOf(r.Policies[0], func(k Knee) float64 { return k.Throughput })
	for _, p := range r.Policies {
		var per []string
		for _, k := range r.Knees {
			if k.Policy == p {
				s := FormatNum(k.Throughput)
				switch k.Censored {
				case "above":
					s = "≥" + s
				case "below":
					s = "<" + s
				}
				per = append(per, s)
			}
		}
		tput := medianOf(p, func(k Knee) float64 { return k.Throughput })
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", p, FormatNum(tput), FormatNum(medianOf(p, func(k Knee) float64 { return k.Rate })),
			strings.Join(per, " "), FormatNum(tput/base))
	}
}

// WriteJSON writes the whole report, runs included, as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return EncodeJSON(w, r) }

// EncodeJSON writes v as indented JSON, as every benchmark records results.
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteJSONFile writes v as indented JSON to path; no path, no file.
func WriteJSONFile(path string, v any) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := EncodeJSON(f, v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteCSV writes one row per run with every metric, for plotting.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	head := []string{"workload", "api", "policy", "rep", "offered_rate", "requests", "ok", "errors", "seconds"}
	for _, m := range Metrics {
		head = append(head, m.Name)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, s := range r.Runs {
		errs := ""
		if len(s.Errors) > 0 {
			errs = errorsText(s.Errors)
		}
		row := []string{r.Workload.Kind, r.API, s.Policy, strconv.Itoa(s.Rep), csvNum(float64(s.Rate)),
			strconv.Itoa(s.Requests), strconv.Itoa(s.OK), errs, csvNum(float64(s.Seconds))}
		for _, m := range Metrics {
			row = append(row, csvNum(m.Get(s)))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
