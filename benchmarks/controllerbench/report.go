package controllerbench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Env describes where and how the benchmark ran, printed above the table.
type Env struct {
	Command string
	Cores   int
	Seed    uint64
	Timeout time.Duration
	// Platform is e.g. "linux/amd64 go1.26".
	Platform string
	Date     time.Time
}

// row is one line of the table: a label, its unit, how to read the value
// from a run (NaN when the run has none) and the goal it is held to.
type row struct {
	label, unit string
	value       func(Result) float64
	goal        string
}

const mib = 1 << 20

func stageRow(s Stage, frac float64, goal string) row {
	label := fmt.Sprintf("%s, %d%%", s, int(frac*100))
	if frac == 1 {
		label = fmt.Sprintf("%s, all", s)
	}
	return row{label, "s", func(r Result) float64 {
		at, ok := Milestone(r.Reached[s], r.Totals[s], frac)
		if !ok {
			return math.NaN()
		}
		return at.Seconds()
	}, goal}
}

func quantileRow(label string, h func(Result) Histogram, q float64) row {
	return row{label, "ms", func(r Result) float64 { return h(r).Quantile(q) * 1000 }, ""}
}

func cpuRow(name string) row {
	return row{"CPU " + name, "s", func(r Result) float64 {
		d, ok := r.CPU[name]
		if !ok {
			return math.NaN()
		}
		return d.Seconds()
	}, ""}
}

func rows() []row {
	reconcile := func(r Result) Histogram { return r.Reconcile }
	out := []row{
		{"groups created, all", "s", func(r Result) float64 { return r.Created.Seconds() }, ""},
		stageRow(PodCreated, 0.5, ""), stageRow(PodCreated, 1, ""),
		stageRow(PodBound, 0.5, ""), stageRow(PodBound, 1, ""),
		stageRow(PodRunning, 0.5, ""), stageRow(PodRunning, 0.9, ""), stageRow(PodRunning, 1, "≤ 60 s"),
		stageRow(GroupUnitsReady, 1, ""),
		stageRow(GroupAvailable, 1, ""),
		{"reconciles", "", func(r Result) float64 { return r.Reconcile.Count }, ""},
		{"reconciles with error", "", func(r Result) float64 { return r.ReconcileResults["error"] }, ""},
		{"failed creates/deletes", "", func(r Result) float64 { return r.ActionErrors }, ""},
		{"pods recreated", "", func(r Result) float64 { return float64(r.Recreated) }, "0"},
		quantileRow("reconcile p50", reconcile, 0.5),
		quantileRow("reconcile p90", reconcile, 0.9),
		quantileRow("reconcile p99", reconcile, 0.99),
		{"work queue wait, mean", "ms", func(r Result) float64 { return mean(r.QueueWait) * 1000 }, ""},
		{"controller API requests", "", func(r Result) float64 { return r.APIRequests }, ""},
		{"controller peak RSS (VmHWM)", "MiB", func(r Result) float64 { return float64(r.Controller.Peak) / mib }, "< 300 MB"},
		{"controller RSS at end", "MiB", func(r Result) float64 { return float64(r.Controller.Current) / mib }, ""},
		{"scheduler peak RSS (VmHWM)", "MiB", func(r Result) float64 { return float64(r.Scheduler.Peak) / mib }, ""},
	}
	for _, name := range components {
		out = append(out, cpuRow(name))
	}
	return append(out, row{"cluster start", "s", func(r Result) float64 { return r.ClusterStart.Seconds() }, ""})
}

// mean is the average observation: exact, unlike quantiles of the work
// queue's coarse (factor 10) buckets.
func mean(h Histogram) float64 {
	if h.Count <= 0 {
		return math.NaN()
	}
	return h.Sum / h.Count
}

// Median of values, NaN counted as larger than any number (a run that
// never got there is slower than every run that did).
func Median(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	sorted := append([]float64(nil), values...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		return !math.IsNaN(a) && (math.IsNaN(b) || a < b)
	})
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2 // NaN if either is
}

// Print writes the header and the table of every run and the median.
func Print(w io.Writer, env Env, results []Result) error {
	if len(results) == 0 {
		return fmt.Errorf("no results")
	}
	first := results[0]
	f := first.Fleet
	fmt.Fprintf(w, "tandem-bench controller: %d ServingGroups, %d units, %d pods (1 GPU each)\n", first.Groups, first.Units, first.Pods)
	fmt.Fprintf(w, "fleet: %d racks × %d nodes × %d GPUs = %d nodes, %d GPUs (kwok)\n",
		f.Racks, f.NodesPerRack, f.GPUsPerNode, f.Racks*f.NodesPerRack, f.Racks*f.NodesPerRack*f.GPUsPerNode)
	fmt.Fprintf(w, "command: %s\n", env.Command)
	fmt.Fprintf(w, "cores: %d, seed: %d, runs: %d, timeout: %s, %s, %s\n",
		env.Cores, env.Seed, len(results), env.Timeout, env.Platform, env.Date.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "times from the first create; the machine is shared, read the median\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"", "unit"}
	for i := range results {
		header = append(header, fmt.Sprintf("run %d", i+1))
	}
	header = append(header, "median", "goal")
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	// Labels are padded to one width so they read left-aligned in a
	// right-aligned table.
	width := 0
	for _, r := range rows() {
		width = max(width, utf8.RuneCountInString(r.label))
	}
	for _, r := range rows() {
		cells := []string{r.label + strings.Repeat(" ", width-utf8.RuneCountInString(r.label)), r.unit}
		var values []float64
		for _, res := range results {
			v := r.value(res)
			values = append(values, v)
			cells = append(cells, format(v, r.unit))
		}
		cells = append(cells, format(Median(values), r.unit), r.goal)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for i, res := range results {
		if !res.Complete {
			fmt.Fprintf(w, "\nrun %d did not finish: %s", i+1, shortfall(res))
		}
		if res.StateDir != "" {
			fmt.Fprintf(w, "\nrun %d logs: %s", i+1, res.StateDir)
		}
	}
	fmt.Fprintln(w)
	return nil
}

// shortfall says how far each stage got.
func shortfall(r Result) string {
	var parts []string
	for s := range numStages {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s, len(r.Reached[s]), r.Totals[s]))
	}
	return strings.Join(parts, ", ")
}

// format prints v to the precision its unit deserves: counts and MiB
// whole, times with two significant decimals below 10.
func format(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case unit == "" || unit == "MiB" || math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
