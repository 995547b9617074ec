package simbench

import (
	"math"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// vLLM's CI latency case (vllm bench latency): a batch of 8 prompts of 32
// tokens, 128 generated each.
const (
	ciBatch  = 8
	ciInput  = 32
	ciOutput = 128
)

// calibration are the figures benchmarks/sim/engine/doc.go derives or
// cites. Only the vLLM CI latency is a measurement of real GPUs; the two
// TTFTs are the doc's arithmetic from an assumed 55 % of the H100's peak.
var calibration = []struct {
	Case, Kind, Source string
	Value              float64 // ms
	PromptTokens       int     // an idle-TTFT case; 0 for the CI latency case
}{
	{"idle TTFT, uncached 1,000-token prompt", KindEstimate,
		"engine/doc.go: 30 µs per prompt token = 55% of H100 dense BF16 peak (assumed, not measured)", 37, 1000},
	{"idle TTFT, uncached 8,192-token prompt (one full step)", KindEstimate,
		"engine/doc.go: as above", 253, 8192},
	{"batch of 8 × (32 in, 128 out), end to end", KindPublished,
		"vLLM CI latency benchmark, Llama-3.1-8B, H100, TP 1: mean 997.5 ms (buildkite.com/vllm/performance-benchmark)", 997.5, 0},
}

// references puts the simulator's measurements beside the calibration
// figures: TTFT cases from the curve (NaN if its lengths miss them), the CI
// case from its own run (NaN if not run).
func references(curve []TTFTPoint, ciSim, ciModel float64) []Reference {
	var out []Reference
	for _, c := range calibration {
		ref := Reference{Case: c.Case, Kind: c.Kind, Source: c.Source, Value: load.Num(c.Value)}
		if c.PromptTokens == 0 {
			ref.Sim, ref.Model = load.Num(ciSim), load.Num(ciModel)
			out = append(out, ref)
			continue
		}
		ref.Sim, ref.Model = load.Num(math.NaN()), load.Num(math.NaN())
		for _, p := range curve {
			if p.PromptTokens == c.PromptTokens {
				ref.Sim, ref.Model = p.Measured, p.Model
			}
		}
		out = append(out, ref)
	}
	return out
}
