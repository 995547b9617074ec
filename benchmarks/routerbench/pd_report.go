package routerbench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// pdMetrics are the P/D headline's columns (load's metrics by name);
// pdRatios those also shown as ratios to the aggregated fleet.
var (
	pdMetrics = []string{"req/s", "out tok/s", "TTFT p50 ms", "TTFT p90 ms", "TTFT p99 ms",
		"ITL p50 ms", "ITL p90 ms", "ITL p99 ms", "E2E p50 ms", "E2E p90 ms", "E2E p99 ms"}
	pdRatios = []string{"TTFT p50 ms", "TTFT p90 ms", "ITL p90 ms", "ITL p99 ms", "E2E p90 ms"}
)

// PDRows folds the runs of a P/D result into one row per fleet and rate
// with pdMetrics as Values and Ratios (to the aggregated fleet).
func PDRows(res PoliciesResult) []PolicyRow {
	return foldRows(res.Report.Runs, res.Routers, res.Report.Policies[0], pdMetrics)
}

// PrefillShare is the share of a row's P/D decisions that sent the
// prompt to a prefill engine; NaN for a fleet without decode engines.
func PrefillShare(row PolicyRow) float64 {
	total := 0.0
	for _, n := range row.PD {
		total += n
	}
	return ratio(row.PD["disaggregated"], total)
}

// byRole lists a figure per engine role in role order, e.g. "decode
// 240, prefill 240", "-" for none.
func byRole[V any](m map[string]V, format func(V) string) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, role := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, role+" "+format(m[role]))
	}
	return strings.Join(parts, ", ")
}

// PrintPD writes one workload's P/D result: the headline (latency
// percentiles, throughput, ratios to the aggregated fleet), where requests
// went and the router's own figures, then tandem-bench load's tables
// (which end with each fleet's knee in a sweep).
func PrintPD(w io.Writer, res PoliciesResult) error {
	r := res.Report
	baseline := r.Policies[0]
	fmt.Fprintf(w, "\n=== workload %s\n", r.Workload.Describe())
	rows := PDRows(res)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if err := headlineTable(w, tw, "fleet", baseline, rows, pdMetrics, pdRatios); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nthe prefill path and the spread over engines (decisions and finished requests summed over repetitions; "+
		"the busiest engine's requests ÷ its role's mean per engine, median) and the router's own figures (medians)")
	fmt.Fprintln(tw, "fleet\trate\tprefilled remotely\tP/D decisions\tfinished by engine role\tbusiest engine ÷ role mean\tretries\tCPU s\tpeak RSS MiB\t")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Policy, load.FormatNum(row.Rate), load.FormatNum(PrefillShare(row)),
			sharesText(row.PD), byRole(row.Served, func(n uint64) string { return strconv.FormatUint(n, 10) }),
			byRole(row.Busiest, func(v load.Num) string { return load.FormatNum(float64(v)) }), load.FormatNum(row.Retries),
			load.FormatNum(float64(row.RouterCPU)), load.FormatNum(float64(row.RouterPeakMB)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n--- every run, as tandem-bench load reports it (policy = the fleet)")
	return r.Print(w)
}
