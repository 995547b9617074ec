package autoscalebench

import (
	"bufio"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// The accounting of the local-cluster run (--cluster): pure functions
// over what the run listed or measured, each second or at the end.

// gpuRequest is the accelerators a pod asks for, summed over containers.
func gpuRequest(p *corev1.Pod) int {
	n := 0
	for _, c := range p.Spec.Containers {
		if q, ok := c.Resources.Requests[gpuResource]; ok {
			n += int(q.Value())
		}
	}
	return n
}

// holdsGPUs is a pod that a node's GPUs are set aside for: bound and not
// finished (a terminating pod holds them until it is gone).
func holdsGPUs(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// placed is a pod bound to a node and not being deleted: what a gang
// scheduler promises for all of a gang's pods or none (kwok then reports
// each Running on its own, a moment apart).
func placed(p *corev1.Pod) bool {
	return holdsGPUs(p) && p.DeletionTimestamp == nil
}

// runs is a pod that is Running and not being deleted.
func runs(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// snapshot is one second of the cluster as the sampler listed it.
type snapshot struct {
	ServingGPUs, BatchGPUs int
	Units, ReadyUnits      int // serving pods holding GPUs; those Ready
	// Partial names the batch gangs with some but not all of their pods
	// placed.
	Partial []string
}

// takeSnapshot reads one listing: serving pods carry the group label,
// batch pods the gang label; gangSize is each live gang's pod count, and
// gangs the run itself is retiring (finished, or torn down after an
// eviction) are not judged.
func takeSnapshot(pods []corev1.Pod, groupLabel, gangLabel string, gangSize map[string]int, retired map[string]bool) snapshot {
	var s snapshot
	running := map[string]int{}
	for i := range pods {
		p := &pods[i]
		switch {
		case p.Labels[groupLabel] != "":
			if holdsGPUs(p) {
				s.ServingGPUs += gpuRequest(p)
				s.Units++
				if podReady(p) && p.DeletionTimestamp == nil {
					s.ReadyUnits++
				}
			}
		case p.Labels[gangLabel] != "":
			if holdsGPUs(p) {
				s.BatchGPUs += gpuRequest(p)
			}
			if placed(p) {
				running[p.Labels[gangLabel]]++
			}
		}
	}
	for gang, n := range running {
		if size, ok := gangSize[gang]; ok && !retired[gang] && n < size {
			s.Partial = append(s.Partial, gang)
		}
	}
	sort.Strings(s.Partial)
	return s
}

// unitsNeeded is the units that serve rate within the bound, at
// unitRate req/s each; at least one.
func unitsNeeded(rate, unitRate float64) int {
	return max(1, int(math.Ceil(rate/unitRate-1e-9)))
}

// burstToCapacity is, per burst, the whole seconds from its start until
// the ready units first reached need (0 if they already had; -1 if not
// before the burst ended). ready[t] is the ready units at second t.
func burstToCapacity(ready []int, c Curve, need func(rate float64) int) []int {
	out := make([]int, len(c.Bursts))
	for i, b := range c.Bursts {
		out[i] = -1
		want := need(c.Diurnal(b+c.BurstRamp) * c.BurstFactor)
		for t := int(b); t < len(ready) && float64(t) <= c.BurstEnd(b); t++ {
			if ready[t] >= want {
				out[i] = t - int(b)
				break
			}
		}
	}
	return out
}

// arrivalOffsets draws the day's send times: a Poisson process whose rate
// follows the curve, by thinning one at the curve's highest rate (Lewis
// and Shedler). The same seed gives the same day for every scaler.
func arrivalOffsets(c Curve, seed uint64) []time.Duration {
	top := c.Peak * max(1, c.BurstFactor)
	if top <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0xa11c))
	var out []time.Duration
	for t := rng.ExpFloat64() / top; t < c.Day; t += rng.ExpFloat64() / top {
		if rng.Float64()*top < c.Rate(t) {
			out = append(out, time.Duration(t*float64(time.Second)))
		}
	}
	return out
}

// sloTally is the load client's results judged against the bounds.
type sloTally struct {
	Requests, Met, Refused int
	Errors                 map[string]int
	TTFTs                  []float64 // seconds, of answered requests
}

// tally judges each result: met when answered with TTFT within
// ttftBound and, when itlBound > 0, its mean inter-token gap within
// itlBound. A request that got no answer (an HTTP error, a timeout, a
// cut stream) is refused.
func tally(results []load.Result, ttftBound, itlBound time.Duration) sloTally {
	t := sloTally{Errors: map[string]int{}}
	for _, r := range results {
		if r.Err == "not_sent" {
			continue
		}
		t.Requests++
		if r.Err != "" {
			t.Refused++
			t.Errors[r.Err]++
			continue
		}
		t.TTFTs = append(t.TTFTs, r.TTFT.Seconds())
		if r.TTFT <= ttftBound && (itlBound <= 0 || meanGap(r.ITL) <= itlBound) {
			t.Met++
		}
	}
	sort.Float64s(t.TTFTs)
	return t
}

func meanGap(gaps []time.Duration) time.Duration {
	if len(gaps) == 0 {
		return 0
	}
	var sum time.Duration
	for _, g := range gaps {
		sum += g
	}
	return sum / time.Duration(len(gaps))
}

// routerLoad is what the HPA baseline reads from tandem-router's
// /metrics: requests open at engines, waiting in flow control, and held
// while no unit is ready.
type routerLoad struct {
	InFlight, Queued, Held float64
}

// Waiting is the router's queue: requests not yet sent to any engine.
func (l routerLoad) Waiting() float64 { return l.Queued + l.Held }

// parseRouterLoad sums the three gauges over their labels from a
// Prometheus text page.
func parseRouterLoad(r io.Reader) (routerLoad, error) {
	var l routerLoad
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := sampleOf(line)
		if !ok {
			continue
		}
		switch name {
		case "tandem_router_endpoint_in_flight_requests":
			l.InFlight += value
		case "tandem_router_flow_queue_length":
			l.Queued += value
		case "tandem_router_scale_from_zero_held_requests":
			l.Held += value
		}
	}
	return l, sc.Err()
}

// sampleOf splits `name{labels} value [timestamp]`.
func sampleOf(line string) (string, float64, bool) {
	name, rest := line, ""
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		name, rest = line[:i], line[i:]
	}
	if strings.HasPrefix(rest, "{") {
		end := strings.LastIndex(rest, "}")
		if end < 0 {
			return "", 0, false
		}
		rest = rest[end+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return name, v, true
}
