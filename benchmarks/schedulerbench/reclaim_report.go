package schedulerbench

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// printReclaim writes the reclaim case: its cluster, then every run with
// and without tandem-reclaim, the medians, their ratio and the goal.
func printReclaim(b *strings.Builder, r ReclaimResult) {
	c := r.Case
	f := c.Scenario.Fleet
	nodes := f.Racks * f.NodesPerRack
	critical, types := "", ""
	switch c.Name {
	case "all critical":
		critical = "; every pod system-cluster-critical (conformance keeps them all)"
	case "no node fits":
		types = "; every role asks for accelerator B200, which no node has"
	}
	fmt.Fprintf(b, "case %q (%s): the cost of tandem-reclaim, one session with it in the action list against the same session without it, alternating\n", CaseReclaim, c.Name)
	fmt.Fprintf(b, "fleet: %d nodes × %d GPUs; %d racks of %d nodes, tier-1 domains of %d; products %s by rack\n",
		nodes, f.GPUsPerNode, f.Racks, f.NodesPerRack, f.DomainSize, strings.Join(f.Products, "/"))
	fmt.Fprintf(b, "batch: %d gangs of %d–%d nodes in turn, one %d-GPU pod a node, every node busy; %d in the units' queue %q, %d in queue %q (reclaimable, weight 1); priority 10%s\n",
		c.Gangs, gangSizes[0], gangSizes[len(gangSizes)-1], f.GPUsPerNode, c.SameQueue, "default", c.Gangs-c.SameQueue, reclaimBatchQueue, critical)
	counts := map[string]int{}
	for _, s := range c.Shapes {
		counts[s.Name]++
	}
	var mix []string
	for _, s := range Shapes {
		if counts[s.Name] > 0 {
			mix = append(mix, fmt.Sprintf("%s×%d", s.Name, counts[s.Name]))
		}
	}
	fmt.Fprintf(b, "units: %d waiting (%s), priority 1000, queue \"default\", PodGroups Pending as the controller creates them%s\n", len(c.Shapes), strings.Join(mix, " "), types)
	fmt.Fprintf(b, "with: %s; without: %s; plugins: priority, gang, conformance, tandem | predicates, proportion, binpack, network-topology-aware\n",
		strings.Join(r.ActionsWith, ", "), strings.Join(r.ActionsWithout, ", "))
	fmt.Fprintf(b, "\"placed next\": units holding nodes in the following session, once the evicted pods are gone (tandem-reclaim acts for one unit a session)\n")
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	rows := []reclaimRow{
		{"session (open+actions+close)", "ms", func(m ReclaimMeasurement) float64 { return ms(m.Session) }, "≤ 1.2× without",
			func(with, without float64) bool { return with <= 1.2*without }},
		{"  open session", "ms", func(m ReclaimMeasurement) float64 { return ms(m.Open) }, "", nil},
		{"  allocate", "ms", func(m ReclaimMeasurement) float64 { return ms(m.Allocate) }, "", nil},
		{"  tandem-reclaim", "ms", func(m ReclaimMeasurement) float64 { return ms(m.Reclaim) }, "", nil},
		{"  close session", "ms", func(m ReclaimMeasurement) float64 { return ms(m.Close) }, "", nil},
		{"session CPU (process)", "ms", func(m ReclaimMeasurement) float64 { return ms(m.CPU) }, "", nil},
		{"pods evicted", "", func(m ReclaimMeasurement) float64 { return float64(m.EvictedPods) }, "", nil},
		{"gangs evicted (whole)", "", func(m ReclaimMeasurement) float64 { return float64(m.EvictedGangs) }, "", nil},
		{"  of them in the units' queue", "", func(m ReclaimMeasurement) float64 { return float64(m.SameQueue) }, "", nil},
		{"units placed next", "", func(m ReclaimMeasurement) float64 { return float64(m.Placed) }, "", nil},
		{"invariant violations", "", func(m ReclaimMeasurement) float64 { return float64(len(m.Violations)) }, "0",
			func(with, _ float64) bool { return with == 0 }},
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\tunit\t"
	for i := range r.With {
		head += fmt.Sprintf("with %d\t", i+1)
	}
	head += "median\t"
	for i := range r.Without {
		head += fmt.Sprintf("without %d\t", i+1)
	}
	head += "median\twith/without\tgoal\tmet\t"
	fmt.Fprintln(tw, head)
	for _, rw := range rows {
		line := rw.name + "\t" + rw.unit + "\t"
		with, without := reclaimValues(r.With, rw.get), reclaimValues(r.Without, rw.get)
		for _, v := range with {
			line += num(v) + "\t"
		}
		line += num(median(with)) + "\t"
		for _, v := range without {
			line += num(v) + "\t"
		}
		line += num(median(without)) + "\t"
		ratio := ""
		if m := median(without); m != 0 {
			ratio = fmt.Sprintf("%.2f", median(with)/m)
		}
		met := ""
		if rw.met != nil {
			met = "no"
			if rw.met(median(with), median(without)) {
				met = "yes"
			}
		}
		fmt.Fprintln(tw, line+ratio+"\t"+rw.goal+"\t"+met+"\t")
	}
	_ = tw.Flush()
	for _, set := range [][]ReclaimMeasurement{r.With, r.Without} {
		for _, m := range set {
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

type reclaimRow struct {
	name, unit string
	get        func(ReclaimMeasurement) float64
	goal       string
	met        func(with, without float64) bool
}

func reclaimValues(ms []ReclaimMeasurement, get func(ReclaimMeasurement) float64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = get(m)
	}
	return out
}
