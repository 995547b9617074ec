package simbench

import (
	"errors"
	"fmt"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim/engine"
)

// IdleTTFT is the model's time to first token for an uncached prompt of n
// tokens on an idle engine, in closed form: the prompt is prefilled in
// chunks of at most MaxBatchedTokens, one step each, and the step of the
// last chunk yields the first token. Chunk k (c_k tokens, d_k computed
// before it) costs
//
//	StepOverhead + PrefillPerToken·c_k + KVReadPerToken·(d_k + c_k)
//
// so a long prompt pays one step overhead per chunk and re-reads the KV of
// the chunks before it. steps is the number of chunks.
func IdleTTFT(p engine.Params, n int) (ttft time.Duration, steps int) {
	for done := 0; done < n; steps++ {
		c := min(n-done, p.MaxBatchedTokens)
		done += c
		ttft += p.Cost.StepTime(engine.Shape{PrefillTokens: c, ContextTokens: done})
	}
	return ttft, steps
}

// ModelRun is what the engine model predicts for a closed loop, in
// modelled (GPU) time.
type ModelRun struct {
	Requests     int
	OutputTokens int
	Steps        int
	// Span is from the first arrival to the last token.
	Span time.Duration
	// TTFT, ITL (every gap between a sequence's tokens, pooled) and E2E, ms.
	TTFT, ITL, E2E load.Summary
}

// OutputRate is generated tokens per modelled second.
func (m ModelRun) OutputRate() float64 { return float64(m.OutputTokens) / m.Span.Seconds() }

// RequestRate is finished requests per modelled second.
func (m ModelRun) RequestRate() float64 { return float64(m.Requests) / m.Span.Seconds() }

// ClientTurnaround is how long after a request ends the closed loop's
// client sends the next one, in modelled time. Any real client takes some
// time, and the engine starts its next step the instant the last one ends,
// so the next request always misses that step and waits for the one after;
// with a step of 7.4 ms or more, 1 ms stands for every turnaround below
// that.
const ClientTurnaround = time.Millisecond

// ClosedLoop runs the engine model (engine.Core, the same scheduler and
// cost model the simulated engine steps through) in virtual time on the
// prompts, in order, with concurrency of them in flight: the first ones
// arrive together at time 0 and each finished request is followed by the
// next turnaround later. A request joins the first step that starts at or
// after its arrival; an engine with nothing to do waits for the next
// arrival. Every request generates maxTokens tokens.
func ClosedLoop(p engine.Params, prompts [][]uint32, maxTokens, concurrency int, turnaround time.Duration) (ModelRun, error) {
	if len(prompts) == 0 || maxTokens < 1 || concurrency < 1 || turnaround < 0 {
		return ModelRun{}, errors.New("model run: need prompts, max tokens and concurrency of at least 1, and no negative turnaround")
	}
	c, err := engine.NewCore(p)
	if err != nil {
		return ModelRun{}, err
	}
	arrived := map[*engine.Seq]time.Duration{}
	last := map[*engine.Seq]time.Duration{}
	var due []time.Duration // arrival times of the next requests, rising
	for range min(concurrency, len(prompts)) {
		due = append(due, 0)
	}
	next := 0
	var ttft, itl, e2e []float64
	run := ModelRun{Requests: len(prompts)}
	for next < len(prompts) || c.NumRunning()+c.NumWaiting() > 0 {
		for len(due) > 0 && due[0] <= c.Now() {
			s, err := c.Add(engine.Request{Prompt: prompts[next], MaxTokens: maxTokens, OutputSeed: uint64(next)})
			if err != nil {
				return ModelRun{}, fmt.Errorf("model run, request %d: %w", next, err)
			}
			arrived[s] = due[0]
			due, next = due[1:], next+1
		}
		plan := c.Schedule()
		if plan.Empty() {
			if len(plan.Preempted) > 0 {
				continue // memory freed: schedule again, as the engine does
			}
			if c.NumRunning()+c.NumWaiting() > 0 || len(due) == 0 {
				return ModelRun{}, fmt.Errorf("model run: %d requests waiting and nothing schedulable", c.NumWaiting())
			}
			c.Advance(due[0] - c.Now()) // idle until the next request arrives
			continue
		}
		out := c.Complete(plan)
		now := c.Now()
		run.Steps++
		for _, s := range out.Tokens {
			if s.NumOutput() == 1 {
				ttft = append(ttft, ms(now-arrived[s]))
			} else {
				itl = append(itl, ms(now-last[s]))
			}
			last[s] = now
		}
		for _, s := range out.Finished {
			e2e = append(e2e, ms(now-arrived[s]))
			run.OutputTokens += s.NumOutput()
			delete(arrived, s)
			delete(last, s)
			if next+len(due) < len(prompts) {
				due = append(due, now+turnaround)
			}
		}
	}
	run.Span = c.Now()
	run.TTFT, run.ITL, run.E2E = load.Summarize(ttft), load.Summarize(itl), load.Summarize(e2e)
	return run, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
