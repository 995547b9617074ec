package routerbench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// PolicyRow is one policy's headline at one offered rate: medians over
// repetitions, and ratios to the baseline policy (the median of the
// per-repetition ratios between runs of the same repetition and rate).
type PolicyRow struct {
	Policy string  `json:"policy"`
	Rate   float64 `json:"offered_rate"`
	Reps   int     `json:"reps"`
	// OK and Requests are summed over repetitions; Errors too.
	OK       int            `json:"ok"`
	Requests int            `json:"requests"`
	Errors   map[string]int `json:"errors,omitempty"`
	// Values are the medians of headlineMetrics, in order; Ratios their
	// ratios to the baseline.
	Values []load.Num `json:"values"`
	Ratios []load.Num `json:"ratios"`
	// Router's own figures: CPU seconds and peak RSS (medians), its
	// estimated hit rate (median) and the share of picks by reason
	// (summed over repetitions).
	RouterCPU     load.Num `json:"router_cpu_s"`
	RouterPeakMB  load.Num `json:"router_peak_rss_mib"`
	RouterHitRate load.Num `json:"router_estimated_hit_rate"`
	Picks         string   `json:"picks"`
	Retries       float64  `json:"retries"`
	// TokenSources are exact mode's token sources as shares, summed over
	// repetitions, tokenize fallbacks among them as "fallback-<reason>";
	// empty for a router without exact mode.
	TokenSources string `json:"exact_token_sources,omitempty"`
	// PD counts the router's prefill/decode decisions and Served the
	// requests the engines finished by engine role (a disaggregated
	// request counts once at a prefill and once at a decode engine), both
	// summed over repetitions.
	PD     map[string]float64 `json:"prefill_decode,omitempty"`
	Served map[string]uint64  `json:"served_by_role,omitempty"`
	// Busiest is, per engine role, the busiest engine's finished requests
	// over the role's mean per engine (1: even; 4 of 4 engines: one took
	// all), the median over repetitions.
	Busiest map[string]load.Num `json:"busiest_engine,omitempty"`
}

// headlineMetrics are the headline columns: load's metrics by name.
var headlineMetrics = []string{"req/s", "TTFT p50 ms", "TTFT p90 ms", "TTFT p99 ms", "E2E p90 ms", "hit rate", "hit/oracle inf", "hit/oracle LRU"}

func loadMetric(name string) load.Metric {
	for _, m := range load.Metrics {
		if m.Name == name {
			return m
		}
	}
	panic("routerbench: load has no metric " + name)
}

// rateKey groups runs by offered rate; closed loops (NaN) share one key.
func rateKey(v load.Num) float64 {
	if math.IsNaN(float64(v)) {
		return -1
	}
	return math.Round(float64(v)*1000) / 1000
}

// PolicyRows folds runs (and the router's figures, one per run, in the
// same order) into one row per policy and rate, in first-seen order;
// baseline names the policy of the ratios.
func PolicyRows(runs []load.RunSummary, routers []RouterRun, baseline string) []PolicyRow {
	return foldRows(runs, routers, baseline, headlineMetrics)
}

// foldRows is PolicyRows with the rows' Values and Ratios being metrics
// (load's metrics by name), in order.
func foldRows(runs []load.RunSummary, routers []RouterRun, baseline string, metrics []string) []PolicyRow {
	type key struct {
		policy string
		rate   float64
	}
	var order []key
	groups := map[key][]int{}
	base := map[[2]float64]load.RunSummary{} // (rep, rate) -> baseline run
	for i, r := range runs {
		k := key{r.Policy, rateKey(r.Rate)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
		if r.Policy == baseline {
			base[[2]float64{float64(r.Rep), k.rate}] = r
		}
	}
	var out []PolicyRow
	for _, k := range order {
		idx := groups[k]
		row := PolicyRow{Policy: k.policy, Rate: float64(runs[idx[0]].Rate), Reps: len(idx), Errors: map[string]int{},
			PD: map[string]float64{}, Served: map[string]uint64{}}
		picks, sources := map[string]float64{}, map[string]float64{}
		busiest := map[string][]float64{}
		var cpu, peak, est []float64
		for _, i := range idx {
			row.OK += runs[i].OK
			row.Requests += runs[i].Requests
			for e, n := range runs[i].Errors {
				row.Errors[e] += n
			}
			if i < len(routers) {
				rr := routers[i]
				cpu, peak = append(cpu, float64(rr.CPU)), append(peak, float64(rr.PeakRSSMB))
				est = append(est, rr.Metrics.EstimatedHitRate())
				for p, n := range rr.Metrics.Picks {
					picks[p] += n
				}
				row.Retries += rr.Metrics.Retries
				for src, n := range rr.Metrics.TokenSources {
					sources[src] += n
				}
				for reason, n := range rr.Metrics.Fallbacks {
					sources["fallback-"+reason] += n
				}
				for d, n := range rr.Metrics.PD {
					row.PD[d] += n
				}
				for _, e := range rr.Engines {
					row.Served[e.Role] += e.Requests
				}
				for role, v := range busiestShare(rr.Engines) {
					busiest[role] = append(busiest[role], v)
				}
			}
		}
		for _, name := range metrics {
			m := loadMetric(name)
			var vals, ratios []float64
			for _, i := range idx {
				vals = append(vals, m.Get(runs[i]))
				if b, ok := base[[2]float64{float64(runs[i].Rep), k.rate}]; ok {
					ratios = append(ratios, ratio(m.Get(runs[i]), m.Get(b)))
				}
			}
			row.Values = append(row.Values, load.Num(load.Median(vals)))
			row.Ratios = append(row.Ratios, load.Num(load.Median(ratios)))
		}
		row.RouterCPU, row.RouterPeakMB = load.Num(load.Median(cpu)), load.Num(load.Median(peak))
		row.RouterHitRate = load.Num(load.Median(est))
		row.Picks = RouterMetrics{Picks: picks}.PicksText()
		if len(sources) > 0 {
			row.TokenSources = sharesText(sources)
		}
		if len(row.Errors) == 0 {
			row.Errors = nil
		}
		if len(row.PD) == 0 {
			row.PD = nil
		}
		if len(row.Served) == 0 {
			row.Served = nil
		}
		for role, v := range busiest {
			if row.Busiest == nil {
				row.Busiest = map[string]load.Num{}
			}
			row.Busiest[role] = load.Num(load.Median(v))
		}
		out = append(out, row)
	}
	return out
}

// value reads a headline metric of a row by name.
func (r PolicyRow) value(name string) float64 {
	return float64(r.Values[slices.Index(headlineMetrics, name)])
}

// Check is one of issue 6's routing goals, evaluated on the medians.
type Check struct {
	What  string  `json:"what"`
	Value float64 `json:"value"`
	Goal  string  `json:"goal"`
}

// Checks evaluates what applies of issue 6's goals at each rate: tandem's
// hit rate against the oracle, its p90 TTFT against round-robin's and,
// on a workload without sharing, its p99 TTFT against least-request's;
// with a sweep's knees, tandem's knee against round-robin's (medians over
// repetitions).
func Checks(kind string, rows []PolicyRow, knees []load.KneeRun) []Check {
	find := func(policy string, rate float64) (PolicyRow, bool) {
		for _, r := range rows {
			if r.Policy == policy && rateKey(load.Num(r.Rate)) == rateKey(load.Num(rate)) {
				return r, true
			}
		}
		return PolicyRow{}, false
	}
	var out []Check
	for _, t := range rows {
		if t.Policy != "tandem" {
			continue
		}
		at := ""
		if !math.IsNaN(t.Rate) {
			at = fmt.Sprintf(" at %s req/s", load.FormatNum(t.Rate))
		}
		if kind != load.Random {
			out = append(out, Check{"tandem hit rate ÷ oracle (infinite cache)" + at, t.value("hit/oracle inf"), "≥ 0.9"})
			if rr, ok := find("round-robin", t.Rate); ok {
				out = append(out, Check{"tandem TTFT p90 ÷ round-robin's" + at, ratio(t.value("TTFT p90 ms"), rr.value("TTFT p90 ms")), "≤ 0.2 at the knee"})
			}
		} else if lr, ok := find("least-request", t.Rate); ok {
			out = append(out, Check{"tandem TTFT p99 ÷ least-request's" + at, ratio(t.value("TTFT p99 ms"), lr.value("TTFT p99 ms")), "≤ 1.1"})
		}
	}
	knee := func(policy string) float64 {
		var v []float64
		for _, k := range knees {
			if k.Policy == policy {
				v = append(v, k.Throughput)
			}
		}
		return load.Median(v)
	}
	if t, rr := knee("tandem"), knee("round-robin"); !math.IsNaN(t) && !math.IsNaN(rr) {
		out = append(out, Check{"tandem knee throughput ÷ round-robin's", ratio(t, rr), "≥ 2"})
	}
	return out
}

// PrintPolicies writes one workload's result: the headline table, the
// checks, then tandem-bench load's full tables.
func PrintPolicies(w io.Writer, res PoliciesResult) error {
	r := res.Report
	baseline := r.Policies[0]
	fmt.Fprintf(w, "\n=== workload %s\n", r.Workload.Describe())
	rows := PolicyRows(r.Runs, res.Routers, baseline)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if err := headlineTable(w, tw, "policy", baseline, rows, headlineMetrics, []string{"req/s", "TTFT p50 ms", "TTFT p90 ms", "hit rate"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nthe router's own figures (CPU from ready to the end of a run, medians; picks summed)")
	fmt.Fprintln(tw, "policy\trate\tCPU s\tpeak RSS MiB\testimated hit rate\tretries\tpicks by reason\t")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Policy, load.FormatNum(row.Rate), load.FormatNum(float64(row.RouterCPU)),
			load.FormatNum(float64(row.RouterPeakMB)), load.FormatNum(float64(row.RouterHitRate)), load.FormatNum(row.Retries), row.Picks)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if slices.ContainsFunc(rows, func(r PolicyRow) bool { return r.TokenSources != "" }) {
		fmt.Fprintln(w, "\nexact mode: where request token ids came from (shares of requests, summed over repetitions)")
		for _, row := range rows {
			if row.TokenSources != "" {
				fmt.Fprintf(tw, "%s\t%s\t%s\t\n", row.Policy, load.FormatNum(row.Rate), row.TokenSources)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if notes := KneeNotes(r.Knees, r.Runs, r.Policies); len(notes) > 0 {
		fmt.Fprintf(w, "\nknees: throughput where p90 TTFT crosses %s ms, median over repetitions\n", load.FormatNum(r.TTFTBound))
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if checks := Checks(r.Workload.Kind, rows, r.Knees); len(checks) > 0 {
		fmt.Fprintln(w, "\nissue 6's goals (medians of this run)")
		for _, c := range checks {
			fmt.Fprintf(tw, "%s\t%s\tgoal %s\t\n", c.What, load.FormatNum(c.Value), c.Goal)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\n--- every run, as tandem-bench load reports it (policy = the router's)")
	return r.Print(w)
}

// KneeNotes says per policy where its knee is and whether the sweep found
// it: crossed in every repetition, not crossed up to the highest rate it
// ran (the knee is above), or crossed already at its lowest (below).
func KneeNotes(knees []load.KneeRun, runs []load.RunSummary, policies []string) []string {
	var out []string
	for _, p := range policies {
		var tput []float64
		above, below, n := 0, 0, 0
		for _, k := range knees {
			if k.Policy != p {
				continue
			}
			n++
			tput = append(tput, k.Throughput)
			switch k.Censored {
			case "above":
				above++
			case "below":
				below++
			}
		}
		if n == 0 {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range runs {
			if r.Policy == p && !math.IsNaN(float64(r.Rate)) {
				lo, hi = min(lo, float64(r.Rate)), max(hi, float64(r.Rate))
			}
		}
		s := fmt.Sprintf("%s: %s req/s", p, load.FormatNum(load.Median(tput)))
		switch {
		case above > 0:
			s += fmt.Sprintf(" — did NOT cross the bound in %d of %d repetitions up to %s req/s offered (its highest rate): the knee is higher", above, n, load.FormatNum(hi))
		case below > 0:
			s += fmt.Sprintf(" — crossed the bound already at its lowest rate, %s req/s offered, in %d of %d repetitions: the knee is lower", load.FormatNum(lo), below, n)
		default:
			s += fmt.Sprintf(" — crossed inside the sweep in all %d repetitions", n)
		}
		out = append(out, s)
	}
	return out
}

// headlineTable writes rows (foldRows over metrics) as a table whose
// first column is called label: the medians of metrics, then the ratios
// to baseline of those named in ratios.
func headlineTable(w io.Writer, tw *tabwriter.Writer, label, baseline string, rows []PolicyRow, metrics, ratios []string) error {
	fmt.Fprintf(w, "\nheadline: medians over repetitions; ×%s = median of per-repetition ratios to %s\n", baseline, baseline)
	head := []string{label, "rate", "reps", "ok", "errors"}
	head = append(head, metrics...)
	for _, name := range ratios {
		head = append(head, "×"+baseline+" "+strings.TrimSuffix(name, " ms"))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range rows {
		cells := []string{row.Policy, load.FormatNum(row.Rate), strconv.Itoa(row.Reps), fmt.Sprintf("%d/%d", row.OK, row.Requests), errorsText(row.Errors)}
		for _, v := range row.Values {
			cells = append(cells, load.FormatNum(float64(v)))
		}
		for _, name := range ratios {
			cells = append(cells, load.FormatNum(float64(row.Ratios[slices.Index(metrics, name)])))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	return tw.Flush()
}
