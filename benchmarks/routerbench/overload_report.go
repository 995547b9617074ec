package routerbench

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// PrintOverload writes the goals, the fairness case, then the sweep as
// router-policies prints it.
func PrintOverload(w io.Writer, res OverloadResult, cfg OverloadConfig) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	top := 0.0
	if len(res.Goals) > 0 {
		top = res.Goals[0].Factor
	}
	perRate := fmt.Sprintf("%d requests", cfg.Workloads[0].Requests)
	if cfg.SweepFor > 0 {
		perRate = cfg.SweepFor.String() + " of arrivals"
	}
	fmt.Fprintf(w, "\n=== flow control under overload: knee %s req/s (given), offered %v × the knee, %s per rate, %d reps\n",
		load.FormatNum(cfg.Knee), cfg.Factors, perRate, cfg.Reps)
	fmt.Fprintf(w, "goals at %g× the knee (medians over repetitions): served ≥ 0.9× the policy's peak, p90 TTFT of served ≤ the bound, hit rate ≥ 0.9× its value at the knee\n", top)
	fmt.Fprintln(tw, "policy\tpeak req/s\tat rate\treq/s at top\t÷ peak (≥0.9)\tp90 TTFT ms (≤bound)\tbound ms\thit at knee\thit at top\t÷ (≥0.9)\terror share\tmet\t")
	for _, g := range res.Goals {
		thr, ttft, hit := g.Met()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", g.Policy, load.FormatNum(g.Peak), load.FormatNum(g.PeakRate),
			load.FormatNum(g.At), load.FormatNum(g.AtRatio), load.FormatNum(g.P90TTFT), load.FormatNum(g.BoundMs),
			load.FormatNum(g.HitKnee), load.FormatNum(g.HitAt), load.FormatNum(g.HitRatio), load.FormatNum(g.Refused), metText(thr, ttft, hit))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Fairness) > 0 {
		fmt.Fprintf(w, "\nfairness: heavy tenant at %g× the knee (%s req/s), light at %g× (%s req/s), same priority, %s of arrivals; light alone first, then both (fresh fleet each)\n",
			cfg.HeavyFactor, load.FormatNum(cfg.Knee*cfg.HeavyFactor), cfg.LightFactor, load.FormatNum(cfg.Knee*cfg.LightFactor), cfg.FairFor)
		fmt.Fprintln(tw, "policy\trep\tcase\ttenant\toffered\tok\terrors\treq/s\tTTFT p50 ms\tTTFT p90 ms\tTTFT p99 ms\t")
		for _, r := range res.Fairness {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Policy, r.Rep, r.Case, r.Tenant, load.FormatNum(r.Offered), r.OK, r.Sent,
				errorsText(r.Errors), load.FormatNum(float64(r.ReqRate)), load.FormatNum(float64(r.TTFT.P50)), load.FormatNum(float64(r.TTFT.P90)), load.FormatNum(float64(r.TTFT.P99)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nfairness goal: the light tenant's p90 TTFT beside the heavy one ≤ 1.5× its solo value (medians; ratio = median of per-repetition ratios)")
		fmt.Fprintln(tw, "policy\treps\tlight solo p90 ms\tlight mixed p90 ms\tratio (≤1.5)\tlight ok share\theavy req/s\theavy ok share\tmet\t")
		for _, g := range res.FairGoals {
			met := "no"
			if g.Ratio <= 1.5 {
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", g.Policy, g.Repetition, load.FormatNum(float64(g.SoloP90)), load.FormatNum(float64(g.MixedP90)),
				load.FormatNum(float64(g.Ratio)), load.FormatNum(float64(g.LightOK)), load.FormatNum(float64(g.HeavyReqS)), load.FormatNum(float64(g.HeavyOK)), met)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if res.Sweep.Report == nil {
		return nil
	}
	return PrintPolicies(w, res.Sweep)
}

func metText(checks ...bool) string {
	s := ""
	for _, c := range checks {
		if c {
			s += "y"
		} else {
			s += "n"
		}
	}
	return s + " (thr,ttft,hit)"
}
