package autoscalebench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// LocalHeader says what was run, where.
type LocalHeader struct {
	Command, Commit, Machine, Date string
}

// PrintLocal writes the local-cluster run's table and goals, with the
// same columns as the model's where the cluster measures them.
func PrintLocal(w io.Writer, h LocalHeader, c LocalConfig, rs []LocalResult) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "command:  %s\n", h.Command)
	fmt.Fprintf(b, "commit:   %s\n", h.Commit)
	fmt.Fprintf(b, "machine:  %s\n", h.Machine)
	fmt.Fprintf(b, "date:     %s\n", h.Date)
	fmt.Fprintf(b, "LOCAL CLUSTER, not the model: real etcd, kube-apiserver, tandem-scheduler (Volcano + tandem plugin, tandem-reclaim), tandem-controller and tandem-router\n")
	fmt.Fprintf(b, "  on kwok nodes (fake GPUs), simulated engines (benchmarks/sim at time scale %g) at the pods' addresses; wall-clock seconds, one fresh cluster per scaler\n", c.TimeScale)
	fmt.Fprintf(b, "day compressed into %.0f s; rate %g to %g req/s (diurnal), bursts ×%g in %.0f s held %.0f s at %s; Poisson arrivals, seed %d, the same for every scaler\n",
		c.Curve.Day, c.Curve.Trough, c.Curve.Peak, c.Curve.BurstFactor, c.Curve.BurstRamp, c.Curve.BurstHold, joinSeconds(c.Curve.Bursts), c.Seed)
	fmt.Fprintf(b, "traffic: chat through tandem-router, %d conversations open of up to %d turns, %d shared system prompts of %d tokens, max_tokens %d\n",
		c.Conversations, c.Turns, c.Groups, c.SystemTokens, c.MaxTokens)
	fmt.Fprintf(b, "tandem-router flow control scaled to the engines' time scale: %s\n", strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(c.routerFlowConfig(), "flowControl:\n")), "\n ", ","))
	fmt.Fprintf(b, "cluster %d nodes × %d GPUs = %d GPUs; unit = 1 engine pod of %d GPUs; cold start %s (pod Running and engine listening → readiness gate set)\n",
		c.Fleet.Racks*c.Fleet.NodesPerRack, c.Fleet.GPUsPerNode, c.GPUs(), c.UnitGPUs, c.ColdStart)
	itl := "not bounded"
	if c.ITLBound > 0 {
		itl = "mean ITL ≤ " + c.ITLBound.String()
	}
	fmt.Fprintf(b, "SLO: TTFT ≤ %s, %s; a request with no answer (error, timeout) is refused and misses it; need = ceil(rate ÷ %g req/s per unit)\n", c.TTFTBound, itl, c.UnitRate)
	fmt.Fprintf(b, "batch: %d gangs kept waiting (Volcano PodGroups of 2-GPU kwok pods, sizes %v GPUs, mean %s each once whole), lower priority than serving, same queue\n",
		c.GangsQueued, c.GangSizes, c.GangMean)
	fmt.Fprintf(b, "static: %d units (need at the day's peak, %.1f req/s); hpa: hpa.go's algorithm every %s on the router's queue (flow-control queue + scale-from-zero hold) per ready unit, target %g, down stabilisation %s, writing the scale subresource;\n",
		c.StaticUnits(), c.peakRate(), c.Interval, c.HPAQueuePerUnit, c.DownWindow)
	ttft := "unset"
	if c.TTFTTarget > 0 {
		ttft = c.TTFTTarget.String()
	}
	fmt.Fprintf(b, "tandem: spec.autoscaling (in flight per unit %d, p90 TTFT %s, scaleDownWindow %s, coldStart %s), tandem-controller --autoscale-interval=%s --autoscale-window=%s reading the router's /metrics; both autoscalers start at %d units\n\n",
		c.InFlightPerUnit, ttft, c.DownWindow, c.ColdStart, c.Interval, c.Window, c.InitialUnits())

	staticGPUSec := float64(c.StaticUnits()*c.UnitGPUs) * c.Curve.Day
	if i := slices.IndexFunc(rs, func(r LocalResult) bool { return r.Scaler == Static }); i >= 0 {
		staticGPUSec = rs[i].ServingGPUSec
	} else {
		fmt.Fprintf(b, "no static-peak row: \"vs static\" is against %d units held all day (%.3f GPU-h), not measured in this run\n\n", c.StaticUnits(), staticGPUSec/3600)
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scaler\trequests\tSLO attainment\tTTFT p50/p90/p99 s\trefused\tserving GPU-h\tvs static\tbatch GPU-h\tspare GPU-h\tbatch share of spare\tgangs reclaimed\tgangs done\tscale events\tmax units\tburst→capacity s\tpartial gangs\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.0f\t%.4f\t%.2f/%.2f/%.2f\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%s\t%d\t\n",
			r.Scaler, r.Requests, r.Attainment(), r.TTFTp50, r.TTFTp90, r.TTFTp99, r.Refused, r.ServingGPUSec/3600, r.ServingGPUSec/staticGPUSec,
			r.BatchGPUSec/3600, r.Spare()/3600, r.BatchShare(), r.Reclaimed, r.Completed, r.ScaleEvents, r.MaxUnits,
			burstTimes(r.BurstCapacity), len(r.PartialGangs))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(b, "\nGPU-hours: each second's bound pods' GPU requests (serving: the group's pods; batch: the gangs' pods), summed over the day\n")
	fmt.Fprintf(b, "burst→capacity: seconds from a burst's start until that many units were Ready (need at the burst's peak; - : not within the burst)\n")
	fmt.Fprintf(b, "partial gangs: batch PodGroups seen, in the once-a-second listing, with some but not all of their pods bound\n")
	for _, r := range rs {
		fmt.Fprintf(b, "%s: scale events from %s; refused by kind %s", r.Scaler, r.EventsFrom, errorKinds(r.Errors))
		if len(r.PartialGangs) > 0 {
			fmt.Fprintf(b, "; partial gangs %v (%d seconds)", r.PartialGangs, r.PartialGangSteps)
		}
		fmt.Fprintln(b)
	}
	fmt.Fprintln(b, "\ngoals (issue 16)")
	gw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(gw, "scaler\tattainment ≥ 0.99\tserving GPU-h ≤ 0.70 × static\tbatch ≥ 0.80 of spare\tno partial gang\t")
	for _, r := range rs {
		saved := "n/a (is the baseline)"
		if r.Scaler != Static {
			ratio := r.ServingGPUSec / staticGPUSec
			saved = verdict(ratio <= 1-GoalServingSaved+1e-9, fmt.Sprintf("%.3f", ratio))
		}
		fmt.Fprintf(gw, "%s\t%s\t%s\t%s\t%s\t\n", r.Scaler,
			verdict(r.Attainment() >= GoalAttainment-1e-9, fmt.Sprintf("%.4f", r.Attainment())), saved,
			verdict(r.BatchShare() >= GoalBatchShare-1e-9, fmt.Sprintf("%.3f", r.BatchShare())),
			verdict(len(r.PartialGangs) == 0, fmt.Sprintf("%d", len(r.PartialGangs))))
	}
	if err := gw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func errorKinds(errs map[string]int) string {
	if len(errs) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return strings.Join(parts, ", ")
}
