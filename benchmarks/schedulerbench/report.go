package schedulerbench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Env is printed above the tables, so a figure carries its conditions.
type Env struct {
	Command  string
	Cores    int
	Seed     uint64
	Runs     int
	Platform string
	Date     time.Time
	Config   Config
}

// Print writes the report: the conditions; for the placement cases the
// large case's table (every run, the medians, Tandem/stock and the goal)
// and one line per small case against the optimum; then each variant of
// the reclaim case that ran.
func Print(w io.Writer, env Env, results []CaseResult, reclaim []ReclaimResult) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "tandem-bench scheduler: Volcano sessions in-process, configurations alternating\n")
	fmt.Fprintf(b, "command: %s\n", env.Command)
	fmt.Fprintf(b, "cores: %d, seed: %d, runs: %d per configuration, %s, %s\n", env.Cores, env.Seed, env.Runs, env.Platform, env.Date.UTC().Format(time.RFC3339))
	fmt.Fprintf(b, "the machine is shared: read medians and ratios measured in this run\n\n")
	if len(results) > 0 {
		fmt.Fprintf(b, "placement: one session (allocate) per run, stock plugins vs stock + Tandem\n")
		fmt.Fprintf(b, "stock: priority, gang, conformance | predicates, proportion, binpack, network-topology-aware")
		if env.Config.GPUBinpack {
			fmt.Fprintf(b, " (binpack and hypernode binpack on nvidia.com/gpu)")
		}
		targs := "default arguments"
		if env.Config.TandemArgs != nil {
			raw, _ := json.Marshal(env.Config.TandemArgs)
			targs = "arguments " + string(raw)
		}
		fmt.Fprintf(b, "; Tandem adds tandem (%s) to the first tier\n\n", targs)
	}
	for _, r := range results {
		if r.Optimum == nil {
			printLarge(b, r)
		}
	}
	var small []CaseResult
	for _, r := range results {
		if r.Optimum != nil {
			small = append(small, r)
		}
	}
	if len(small) > 0 {
		printSmall(b, small)
		b.WriteString("\n")
	}
	for _, r := range reclaim {
		if len(r.With) > 0 {
			printReclaim(b, r)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func describeCase(b *strings.Builder, r CaseResult) {
	f := r.Scenario.Fleet
	nodes := f.Racks * f.NodesPerRack
	fmt.Fprintf(b, "fleet: %d nodes × %d GPUs = %d GPUs; %d racks of %d nodes, tier-1 domains of %d (%d), one spine; products %s by rack\n",
		nodes, f.GPUsPerNode, nodes*f.GPUsPerNode, f.Racks, f.NodesPerRack, f.DomainSize, nodes/f.DomainSize, strings.Join(f.Products, "/"))
	busy := 0
	for _, g := range r.Used {
		busy += g
	}
	fmt.Fprintf(b, "already running: %d batch pods on as many nodes, %d GPUs\n", len(r.Used), busy)
	counts := map[string]int{}
	gpus := 0
	for _, s := range r.Shapes {
		counts[s.Name]++
		gpus += s.GPUs()
	}
	var mix []string
	for _, s := range append(append(Shapes, Elastic()...), NVLShapes(int32(f.DomainSize))...) {
		if counts[s.Name] > 0 {
			mix = append(mix, fmt.Sprintf("%s×%d", s.Name, counts[s.Name]))
			counts[s.Name] = 0
		}
	}
	fmt.Fprintf(b, "units: %d (%s), %d GPUs with every instance placed\n", len(r.Shapes), strings.Join(mix, " "), gpus)
}

// row is one measure across runs.
type row struct {
	name, unit string
	get        func(Measurement) float64
	goal       string
	// better compares Tandem's median to stock's for the goal column.
	met func(stock, tandem float64) bool
}

func printLarge(b *strings.Builder, r CaseResult) {
	fmt.Fprintf(b, "case %q\n", r.Name)
	describeCase(b, r)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	rows := []row{
		{"session (open+allocate+close)", "ms", func(m Measurement) float64 { return ms(m.Session) }, "≤ 1.2× stock",
			func(s, t float64) bool { return t <= 1.2*s }},
		{"  open session", "ms", func(m Measurement) float64 { return ms(m.Open) }, "", nil},
		{"  allocate", "ms", func(m Measurement) float64 { return ms(m.Allocate) }, "≤ 1.2× stock",
			func(s, t float64) bool { return t <= 1.2*s }},
		{"  close session", "ms", func(m Measurement) float64 { return ms(m.Close) }, "", nil},
		{"session CPU (process)", "ms", func(m Measurement) float64 { return ms(m.CPU) }, "", nil},
		{"units placed", "", func(m Measurement) float64 { return float64(m.Placed) }, "≥ stock",
			func(s, t float64) bool { return t >= s }},
		{"pods placed", "", func(m Measurement) float64 { return float64(m.Pods) }, "", nil},
		{"GPUs placed", "", func(m Measurement) float64 { return m.GPUs }, "", nil},
		{"mean P↔D distance", "tiers", func(m Measurement) float64 { return m.PD }, "< stock",
			func(s, t float64) bool { return t < s }},
		{"  units with P and D placed", "", func(m Measurement) float64 { return float64(m.PDUnits) }, "", nil},
		{"whole free tier-1 domains", "", func(m Measurement) float64 { return float64(m.FreeDomains) }, "> stock",
			func(s, t float64) bool { return t > s }},
		{"invariant violations", "", func(m Measurement) float64 { return float64(len(m.Violations)) }, "0",
			func(s, t float64) bool { return t == 0 }},
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\tunit\t"
	for i := range r.Stock {
		head += fmt.Sprintf("stock %d\t", i+1)
	}
	head += "median\t"
	for i := range r.Tandem {
		head += fmt.Sprintf("tandem %d\t", i+1)
	}
	head += "median\ttandem/stock\tgoal\tmet\t"
	fmt.Fprintln(tw, head)
	for _, rw := range rows {
		line := rw.name + "\t" + rw.unit + "\t"
		s, t := values(r.Stock, rw.get), values(r.Tandem, rw.get)
		for _, v := range s {
			line += num(v) + "\t"
		}
		line += num(median(s)) + "\t"
		for _, v := range t {
			line += num(v) + "\t"
		}
		line += num(median(t)) + "\t"
		ratio := ""
		if m := median(s); m != 0 && !math.IsNaN(m) {
			ratio = fmt.Sprintf("%.2f", median(t)/m)
		}
		met := ""
		if rw.met != nil {
			met = "no"
			if rw.met(median(s), median(t)) {
				met = "yes"
			}
		}
		line += ratio + "\t" + rw.goal + "\t" + met + "\t"
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
	for _, ms := range [][]Measurement{r.Stock, r.Tandem} {
		for _, m := range ms {
			for i, v := range m.Violations {
				if i == 5 {
					fmt.Fprintf(b, "  … %d more\n", len(m.Violations)-5)
					break
				}
				fmt.Fprintf(b, "  violation: %s\n", v)
			}
		}
	}
	b.WriteString("\n")
}

func printSmall(b *strings.Builder, cases []CaseResult) {
	f := cases[0].Scenario.Fleet
	fmt.Fprintf(b, "small cases: %d nodes each (2 racks, tier-1 domains of 2, %d GPUs, H100 rack and H200 rack), a quarter of the nodes partly busy;\n",
		f.Racks*f.NodesPerRack, f.GPUsPerNode)
	fmt.Fprintf(b, "optimum: the smallest mean P↔D distance over every placement of all the case's units (branch and bound);\n")
	fmt.Fprintf(b, "\"exact\" when the search finished, else a proven range [lower, best found]. Medians over the runs.\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tunits (P/D)\tplaced stock\tplaced tandem\tP↔D stock\tP↔D tandem\toptimum\tsearch\ttandem = optimum\t")
	for _, c := range cases {
		pd := 0
		for _, s := range c.Shapes {
			if searchUnitOf(s).prefill > 0 && searchUnitOf(s).decode > 0 {
				pd++
			}
		}
		placed := func(ms []Measurement) float64 {
			return median(values(ms, func(m Measurement) float64 { return float64(m.Placed) }))
		}
		pdOf := func(ms []Measurement) float64 { return median(values(ms, func(m Measurement) float64 { return m.PD })) }
		o := c.Optimum
		opt, kind, eq := "infeasible", "", ""
		switch {
		case !o.Feasible:
		case o.Exact:
			opt, kind = num(o.Lower), fmt.Sprintf("exact, %d visits", o.Visits)
		default:
			opt, kind = fmt.Sprintf("[%s, %s]", num(o.Lower), num(o.Upper)), fmt.Sprintf("bound, budget %d", o.Visits-1)
		}
		all := int(placed(c.Tandem)) == len(c.Shapes)
		switch {
		case !o.Feasible:
		case !all:
			eq = "n/a (not all placed)"
		case o.Exact && math.Abs(pdOf(c.Tandem)-o.Lower) < 1e-9:
			eq = "yes"
		case o.Exact:
			eq = "no"
		default:
			eq = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%d (%d)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c.Name, len(c.Shapes), pd,
			num(placed(c.Stock)), num(placed(c.Tandem)), num(pdOf(c.Stock)), num(pdOf(c.Tandem)), opt, kind, eq)
	}
	_ = tw.Flush()
	for _, c := range cases {
		var mix []string
		for _, s := range c.Shapes {
			mix = append(mix, s.Name)
		}
		fmt.Fprintf(b, "  %s: %s; busy GPUs %v\n", c.Name, strings.Join(mix, ", "), sortedUsed(c.Used))
	}
	for _, c := range cases {
		for _, ms := range [][]Measurement{c.Stock, c.Tandem} {
			for _, m := range ms {
				for _, v := range m.Violations {
					fmt.Fprintf(b, "  %s violation: %s\n", c.Name, v)
				}
			}
		}
	}
}

func sortedUsed(used map[string]int) string {
	var parts []string
	for n, g := range used {
		parts = append(parts, fmt.Sprintf("%s:%d", n, g))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func values(ms []Measurement, get func(Measurement) float64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = get(m)
	}
	return out
}

// median of the values that are numbers; NaN when none is.
func median(v []float64) float64 {
	var s []float64
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// num prints a figure with three significant digits (whole numbers as
// they are).
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
