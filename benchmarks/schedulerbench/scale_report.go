package schedulerbench

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// PrintScale writes the scale case's report: per fleet and size every run
// of both configurations, medians, tandem/Volcano and the goals; the
// growth exponents; and the small cases against their optimum.
func PrintScale(w io.Writer, env Env, results []ScaleResult) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "tandem-bench scheduler -case scale: one session per run, Volcano's allocate vs tandem-allocate (then allocate), alternating\n")
	fmt.Fprintf(b, "command: %s\n", env.Command)
	fmt.Fprintf(b, "cores: %d, seed: %d, runs: %d per configuration (Volcano once above %d nodes), %s, %s\n", env.Cores, env.Seed, env.Runs,
		env.Config.VolcanoMaxNodes, env.Platform, env.Date.UTC().Format(time.RFC3339))
	fmt.Fprintf(b, "plugins (both): priority, gang, conformance, tandem | predicates, proportion, binpack, network-topology-aware")
	if env.Config.GPUBinpack {
		fmt.Fprintf(b, " (binpack and hypernode binpack on nvidia.com/gpu)")
	}
	fmt.Fprintf(b, "\nvolcano: actions allocate; tandem: actions tandem-allocate, allocate\n")
	fmt.Fprintf(b, "the machine is shared: read medians and ratios measured in this run\n\n")
	type point struct {
		nodes           int
		volcano, tandem float64 // median session, ms
	}
	growth := map[string][]point{}
	var fleets []string
	var small []ScaleResult
	for _, r := range results {
		if r.Optimum != nil {
			small = append(small, r)
			continue
		}
		printScaleCase(b, r)
		if _, ok := growth[r.Fleet]; !ok {
			fleets = append(fleets, r.Fleet)
		}
		session := func(m Measurement) float64 { return float64(m.Session) / 1e6 }
		growth[r.Fleet] = append(growth[r.Fleet], point{len(r.Scenario.Fleet.Nodes()),
			median(values(r.Volcano, session)), median(values(r.Tandem, session))})
	}
	for _, f := range fleets {
		ps := growth[f]
		for i := 1; i < len(ps); i++ {
			a, c := ps[i-1], ps[i]
			ev := Exponent(a.nodes, c.nodes, time.Duration(a.volcano*1e6), time.Duration(c.volcano*1e6))
			et := Exponent(a.nodes, c.nodes, time.Duration(a.tandem*1e6), time.Duration(c.tandem*1e6))
			fmt.Fprintf(b, "growth %s %d→%d nodes (session time ∝ nodes^e, medians): volcano e = %s, tandem e = %s\n", f, a.nodes, c.nodes, num(ev), num(et))
		}
	}
	if len(fleets) > 0 {
		b.WriteString("\n")
	}
	if len(small) > 0 {
		printScaleSmall(b, small)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func printScaleCase(b *strings.Builder, r ScaleResult) {
	fmt.Fprintf(b, "case %q\n", r.Name)
	describeScale(b, r)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	rate := func(m Measurement) float64 {
		if m.Session <= 0 {
			return math.NaN()
		}
		return float64(m.Pods) / m.Session.Seconds()
	}
	rows := []row{
		{"session (open+actions+close)", "ms", func(m Measurement) float64 { return ms(m.Session) }, "≤ 0.2× volcano",
			func(v, t float64) bool { return t <= 0.2*v }},
		{"  tandem-allocate", "ms", func(m Measurement) float64 { return ms(m.TandemAllocate) }, "", nil},
		{"  allocate", "ms", func(m Measurement) float64 { return ms(m.Allocate) }, "", nil},
		{"session CPU (process)", "ms", func(m Measurement) float64 { return ms(m.CPU) }, "", nil},
		{"pods placed per second", "1/s", rate, "", nil},
		{"units placed", "", func(m Measurement) float64 { return float64(m.Placed) }, "≥ volcano",
			func(v, t float64) bool { return t >= v }},
		{"pods placed", "", func(m Measurement) float64 { return float64(m.Pods) }, "", nil},
		{"GPUs placed", "", func(m Measurement) float64 { return m.GPUs }, "", nil},
		{"mean P↔D distance", "tiers", func(m Measurement) float64 { return m.PD }, "≤ volcano",
			func(v, t float64) bool { return t <= v+1e-9 }},
		{"whole free tier-1 domains", "", func(m Measurement) float64 { return float64(m.FreeDomains) }, "≥ volcano",
			func(v, t float64) bool { return t >= v }},
		{"invariant violations", "", func(m Measurement) float64 { return float64(len(m.Violations)) }, "0",
			func(_, t float64) bool { return t == 0 }},
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\tunit\t"
	for i := range r.Volcano {
		head += fmt.Sprintf("volcano %d\t", i+1)
	}
	head += "median\t"
	for i := range r.Tandem {
		head += fmt.Sprintf("tandem %d\t", i+1)
	}
	head += "median\ttandem/volcano\tgoal\tmet\t"
	fmt.Fprintln(tw, head)
	for _, rw := range rows {
		line := rw.name + "\t" + rw.unit + "\t"
		v, t := values(r.Volcano, rw.get), values(r.Tandem, rw.get)
		for _, x := range v {
			line += num(x) + "\t"
		}
		line += num(median(v)) + "\t"
		for _, x := range t {
			line += num(x) + "\t"
		}
		line += num(median(t)) + "\t"
		ratio := ""
		if m := median(v); m != 0 && !math.IsNaN(m) {
			ratio = fmt.Sprintf("%.3g", median(t)/m)
		}
		met := ""
		if rw.met != nil {
			met = "no"
			if rw.met(median(v), median(t)) {
				met = "yes"
			}
		}
		fmt.Fprintln(tw, line+ratio+"\t"+rw.goal+"\t"+met+"\t")
	}
	_ = tw.Flush()
	for _, ms := range [][]Measurement{r.Volcano, r.Tandem} {
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

func describeScale(b *strings.Builder, r ScaleResult) {
	describeCase(b, CaseResult{Case: r.Case})
}

func printScaleSmall(b *strings.Builder, cases []ScaleResult) {
	fmt.Fprintf(b, "small cases (those of -case placement, same seed), medians over the runs; optimum as there\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tunits\tplaced volcano\tplaced tandem\tP↔D volcano\tP↔D tandem\toptimum\tsearch\ttandem = optimum\tviolations\t")
	for _, c := range cases {
		placed := func(ms []Measurement) float64 {
			return median(values(ms, func(m Measurement) float64 { return float64(m.Placed) }))
		}
		pd := func(ms []Measurement) float64 { return median(values(ms, func(m Measurement) float64 { return m.PD })) }
		viol := 0
		for _, ms := range [][]Measurement{c.Volcano, c.Tandem} {
			for _, m := range ms {
				viol += len(m.Violations)
			}
		}
		o := c.Optimum
		opt, kind, eq := "infeasible", "", ""
		switch {
		case !o.Feasible:
		case o.Exact:
			opt, kind = num(o.Lower), fmt.Sprintf("exact, %d visits", o.Visits)
		default:
			opt, kind = fmt.Sprintf("[%s, %s]", num(o.Lower), num(o.Upper)), fmt.Sprintf("bound, budget %d", o.Visits-1)
		}
		switch {
		case !o.Feasible:
		case int(placed(c.Tandem)) != len(c.Shapes):
			eq = "n/a (not all placed)"
		case o.Exact && math.Abs(pd(c.Tandem)-o.Lower) < 1e-9:
			eq = "yes"
		case o.Exact:
			eq = "no"
		default:
			eq = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", c.Name, len(c.Shapes), num(placed(c.Volcano)), num(placed(c.Tandem)),
			num(pd(c.Volcano)), num(pd(c.Tandem)), opt, kind, eq, viol)
	}
	_ = tw.Flush()
	b.WriteString("\n")
}
