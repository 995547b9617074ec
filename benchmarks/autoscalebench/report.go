package autoscalebench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Goals of issue 16.
const (
	GoalAttainment   = 0.99
	GoalServingSaved = 0.30
	GoalBatchShare   = 0.80
)

// Header says what was run, in what model.
type Header struct {
	Command, Platform string
}

// Print writes the run's table and goals.
func Print(w io.Writer, h Header, c Config, d Derived, rs []Result) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "command:  %s\n", h.Command)
	fmt.Fprintf(b, "platform: %s (virtual time; the figures do not depend on the machine)\n", h.Platform)
	fmt.Fprintf(b, "MODEL, not the local cluster: a discrete-time simulation (1 s steps, seed %d) of an M/M/c serving pool,\n", c.Seed)
	fmt.Fprintf(b, "  per-engine rates calibrated from benchmarks/results/router.md (see benchmarks/autoscalebench/doc.go)\n")
	fmt.Fprintf(b, "day %s compressed into %.0f s; rate %.0f to %.0f req/s (diurnal), bursts ×%g in %.0f s held %.0f s at %s; shared-prefix %.0f%%, chat %.0f%%\n",
		"00:00-24:00", c.Curve.Day, c.Curve.Trough, c.Curve.Peak, c.Curve.BurstFactor, c.Curve.BurstRamp, c.Curve.BurstHold,
		joinSeconds(c.Curve.Bursts), 100*c.SharedFraction, 100*(1-c.SharedFraction))
	fmt.Fprintf(b, "cluster %d GPUs; unit %d GPUs = %d engines; cold start %d s; engine rates shared %.1f, chat %.1f req/s; TTFT bound %v s\n",
		c.GPUs, c.UnitGPUs, c.Model.EnginesPerUnit, c.ColdStart, c.Model.Shared.Rate, c.Model.Chat.Rate, c.Model.Bound)
	fmt.Fprintf(b, "batch: gangs of %v GPUs queued without end, mean %.0f s of work each, whole gangs only; serving reclaims the fewest, youngest gangs\n",
		c.GangSizes, c.GangMeanSec)
	fmt.Fprintf(b, "static: %d units (the model's need at the day's highest rate, %.0f req/s); hpa: waiting requests per unit target %g, 10%% tolerance, 300 s down stabilisation, %d s period;\n",
		d.StaticUnits, d.PeakRate, c.HPAQueuePerUnit, c.IntervalSec)
	fmt.Fprintf(b, "tandem: controller/autoscale.Decide every %d s, window %d s, targets p90 TTFT %v and %g in flight per unit (utilisation %.2f), down window %d s, coldStart %d s; both autoscalers start at %d units\n\n",
		c.IntervalSec, c.WindowSec, c.TTFTTarget, d.InFlightPerUnit, c.Utilisation, c.DownWindowSec, c.tandemColdStart(), d.InitialUnits)

	if c.HPAInFlight {
		fmt.Fprintf(b, "hpa-in-flight (extra row): the same HPA on requests in flight per unit, target %g (tandem's)\n\n", d.InFlightPerUnit)
	}
	static := rs[0]
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scaler\trequests\tSLO attainment\trefused\tunserved at end\tserving GPU-h\tvs static\tbatch GPU-h\tspare GPU-h\tbatch share of spare\tbatch lost to reclaim GPU-h\tgangs reclaimed\tscale events\tmax units\tburst→capacity s\tpartial gangs\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%.0f\t%.4f\t%.0f\t%.0f\t%.1f\t%.3f\t%.1f\t%.1f\t%.3f\t%.1f\t%d\t%d\t%d\t%s\t%d\t\n",
			r.Scaler, r.Requests, r.Attainment(), r.Refused, r.Unserved, r.ServingGPUSec/3600, r.ServingGPUSec/static.ServingGPUSec,
			r.BatchGPUSec/3600, r.Spare()/3600, r.BatchShare(), r.ReclaimLostGPUSec/3600, r.Reclaimed, r.ScaleEvents, r.MaxUnits,
			burstTimes(r.BurstCapacity), r.PartialGangSteps)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(b, "\nburst need (units the model needs at each burst's peak): %v; burst→capacity: seconds from a burst's start until that many units were ready (- : not within the burst)\n", d.BurstNeed)
	fmt.Fprintf(b, "partial gangs: steps at which some running gang did not hold exactly its GPUs (checked every step)\n\n")
	fmt.Fprintln(b, "goals (issue 16)")
	gw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(gw, "scaler\tattainment ≥ 0.99\tserving GPU-h ≤ 0.70 × static\tbatch ≥ 0.80 of spare\tno partial gang\t")
	for _, r := range rs {
		saved := "n/a (is the baseline)"
		if r.Scaler != Static {
			ratio := r.ServingGPUSec / static.ServingGPUSec
			saved = verdict(ratio <= 1-GoalServingSaved+1e-9, fmt.Sprintf("%.3f", ratio)) // 0.7 × x is not exact in floats
		}
		fmt.Fprintf(gw, "%s\t%s\t%s\t%s\t%s\t\n", r.Scaler,
			verdict(r.Attainment() >= GoalAttainment-1e-9, fmt.Sprintf("%.4f", r.Attainment())), saved,
			verdict(r.BatchShare() >= GoalBatchShare-1e-9, fmt.Sprintf("%.3f", r.BatchShare())),
			verdict(r.PartialGangSteps == 0, fmt.Sprintf("%d", r.PartialGangSteps)))
	}
	if err := gw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(ok bool, v string) string {
	if ok {
		return v + " met"
	}
	return v + " NOT MET"
}

func burstTimes(ts []int) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = "-"
		if t >= 0 {
			parts[i] = fmt.Sprint(t)
		}
	}
	return strings.Join(parts, ",")
}

func joinSeconds(ts []float64) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%.0f s", t)
	}
	return strings.Join(parts, ", ")
}
