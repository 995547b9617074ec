package schedulerbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	"volcano.sh/volcano/pkg/scheduler/util"

	"github.com/tandem-serving/tandem/plugins/scenario"
	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// The reclaim case's queues and priority classes.
const (
	// reclaimBatchQueue holds the gangs that are not in the units' queue.
	reclaimBatchQueue = "batch"
	servingPriority   = "serving-high"
	batchPriority     = "batch-low"
)

// reclaimVariants of the reclaim case: the one the goal is about, then
// two where tandem-reclaim tries every waiting unit in vain, its cost in
// every session while units wait for capacity nothing may give back.
var reclaimVariants = []string{
	// evictable: the gangs may go; the first unit gets room.
	"evictable",
	// all critical: every batch pod is critical to the cluster;
	// conformance refuses every gang (each gang's vote is asked once).
	"all critical",
	// no node fits: every unit asks for an accelerator type no node has;
	// every gang passes the vote and none holds a node a unit may use.
	"no node fits",
}

// gangSizes are the batch gangs' sizes in nodes, in turn: five on
// average, so 200 gangs fill 1,000 nodes.
var gangSizes = []int{3, 4, 5, 6, 7}

// ReclaimCase is the reclaim benchmark's cluster: every node running one
// 8-GPU pod of a low-priority batch gang, and high-priority units waiting.
type ReclaimCase struct {
	// Name is the variant (reclaimVariants).
	Name     string
	Scenario scenario.Scenario
	Shapes   []Shape
	// Gangs is the number of batch gangs, SameQueue of them in the units'
	// queue (the others in a reclaimable queue of their own).
	Gangs, SameQueue int
}

// ReclaimMeasurement is one reclaim session and what the next one did.
type ReclaimMeasurement struct {
	Session, Open, Allocate, Reclaim, Close, CPU time.Duration
	// Evicted pods, and the gangs they belong to (every pod of a gang goes
	// or none: Violations would say otherwise), SameQueue of those gangs
	// in the units' queue.
	EvictedPods, EvictedGangs, SameQueue int
	// Placed are the units holding nodes in the next session, once the
	// evicted pods are gone.
	Placed int
	// Violations are scenario.Check's findings on both sessions, and any
	// gang evicted in part.
	Violations []string
}

// ReclaimResult holds every run of the reclaim case, with tandem-reclaim
// in the action list and without it.
type ReclaimResult struct {
	Case          ReclaimCase
	With, Without []ReclaimMeasurement
	// Actions are the two action lists.
	ActionsWith, ActionsWithout []string
}

// reclaimActions are the shipped configuration's actions
// (deploy/scheduler/tandem-scheduler.conf), with or without
// tandem-reclaim.
func reclaimActions(with bool) []string {
	if with {
		return []string{"enqueue", "allocate", tandem.ReclaimActionName, "backfill"}
	}
	return []string{"enqueue", "allocate", "backfill"}
}

// reclaimCase: the large fleet, every node running one 8-GPU batch pod;
// gangs of gangSizes nodes in turn over shuffled nodes, every second one
// of five (two in five) in the units' queue, created a random 0–24 h
// before; and units of the large case's shapes, in the default queue.
func reclaimCase(f localcluster.Fleet, cfg Config, rng *rand.Rand, variant string) (ReclaimCase, error) {
	nodes := f.Nodes()
	need := 0
	for i := range cfg.ReclaimGangs {
		need += gangSizes[i%len(gangSizes)]
	}
	if need != len(nodes) {
		return ReclaimCase{}, fmt.Errorf("%d gangs of %v nodes in turn take %d nodes; the fleet has %d", cfg.ReclaimGangs, gangSizes, need, len(nodes))
	}
	rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	c := ReclaimCase{Name: variant, Gangs: cfg.ReclaimGangs}
	s := scenario.Scenario{Fleet: f, Enqueue: true,
		Queues: []*schedulingv1beta1.Queue{util.BuildQueue(reclaimBatchQueue, 1, nil)},
		PriorityClasses: []*schedulingv1.PriorityClass{
			{ObjectMeta: metav1.ObjectMeta{Name: servingPriority}, Value: 1000},
			{ObjectMeta: metav1.ObjectMeta{Name: batchPriority}, Value: 10},
		}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	for i := range cfg.ReclaimGangs {
		queue := reclaimBatchQueue
		if i%5 < 2 {
			queue = scenario.DefaultQueue
			c.SameQueue++
		}
		var on []string
		for range gangSizes[i%len(gangSizes)] {
			on = append(on, nodes[next].Name)
			next++
		}
		pods, pg := scenario.BatchGang(fmt.Sprintf("gang-%03d", i), queue, batchPriority, int64(f.GPUsPerNode), on...)
		for _, p := range pods {
			if variant == "all critical" {
				p.Spec.PriorityClassName = "system-cluster-critical" // conformance's name; the pod's own priority is unset
			}
		}
		pg.CreationTimestamp = metav1.NewTime(now.Add(-time.Duration(rng.IntN(24*60)) * time.Minute))
		s.Pods, s.PodGroups = append(s.Pods, pods...), append(s.PodGroups, pg)
	}
	c.Shapes = Mix(cfg.ReclaimUnits, Shapes, rng)
	for i, sh := range c.Shapes {
		sg := sh.ServingGroup(fmt.Sprintf("u%03d-%s", i, sh.Name))
		sg.Spec.PriorityClassName = servingPriority
		if variant == "no node fits" {
			for r := range sg.Spec.Roles {
				if acc := sg.Spec.Roles[r].Accelerator; acc != nil {
					acc.Types = []string{"B200"}
				}
			}
		}
		s.Groups = append(s.Groups, sg)
	}
	c.Scenario = s
	return c, nil
}

// RunReclaim runs each variant of the reclaim case Runs times each way, alternating with
// and without tandem-reclaim, and after each session the next one (not
// timed), to count the units that then hold nodes.
func RunReclaim(ctx context.Context, cfg Config) ([]ReclaimResult, error) {
	f, err := cfg.LargeFleet()
	if err != nil {
		return nil, err
	}
	args := pluginArgs(cfg.GPUBinpack)
	if cfg.TandemArgs != nil {
		args[tandem.Name] = cfg.TandemArgs
	}
	var out []ReclaimResult
	for _, variant := range reclaimVariants {
		// The same cluster and units for every variant.
		rng := rand.New(rand.NewPCG(cfg.Seed, 0x7ec1a1))
		c, err := reclaimCase(f, cfg, rng, variant)
		if err != nil {
			return out, err
		}
		res := ReclaimResult{Case: c, ActionsWith: reclaimActions(true), ActionsWithout: reclaimActions(false)}
		// One untimed session each way first: a process's first sessions
		// pay for lazy initialisation (seen: a first allocate of 4 s
		// against 0.2 s after).
		for _, with := range []bool{true, false} {
			s := c.Scenario
			s.Actions, s.Arguments = reclaimActions(with), args
			if _, err := s.Run(); err != nil {
				return out, fmt.Errorf("reclaim case (%s), warm-up: %w", c.Name, err)
			}
		}
		for run := range cfg.Runs {
			for _, with := range []bool{true, false} {
				if err := ctx.Err(); err != nil {
					return append(out, res), err
				}
				s := c.Scenario
				s.Actions, s.Arguments = reclaimActions(with), args
				m, err := measureReclaim(s)
				if err != nil {
					return append(out, res), fmt.Errorf("reclaim case (%s): %w", c.Name, err)
				}
				name := "without"
				if with {
					name = "with"
					res.With = append(res.With, m)
				} else {
					res.Without = append(res.Without, m)
				}
				cfg.logf("reclaim (%s) run %d %-7s: session %v (allocate %v, tandem-reclaim %v), evicted %d pods of %d gangs, %d units placed next, %d violations",
					c.Name, run+1, name, m.Session.Round(time.Millisecond), m.Allocate.Round(time.Millisecond), m.Reclaim.Round(time.Millisecond),
					m.EvictedPods, m.EvictedGangs, m.Placed, len(m.Violations))
			}
		}
		out = append(out, res)
	}
	return out, nil
}

func measureReclaim(s scenario.Scenario) (ReclaimMeasurement, error) {
	r, err := s.Run()
	if err != nil {
		return ReclaimMeasurement{}, err
	}
	m := ReclaimMeasurement{
		Session: r.Timing.Session(), Open: r.Timing.Open, Close: r.Timing.Close, CPU: r.Timing.CPU,
		Allocate: r.Timing.Actions["allocate"], Reclaim: r.Timing.Actions[tandem.ReclaimActionName],
		EvictedPods: len(r.Releasing),
	}
	m.Violations = append(m.Violations, scenario.Check(s.Fleet, r)...)
	gangs, whole := evictedGangs(r)
	m.Violations = append(m.Violations, whole...)
	m.EvictedGangs = len(gangs)
	for pg := range gangs {
		if r.PodGroups[pg].Spec.Queue == scenario.DefaultQueue {
			m.SameQueue++
		}
	}
	next := s.Next(r)
	nr, err := next.Run()
	if err != nil {
		return m, err
	}
	m.Violations = append(m.Violations, scenario.Check(next.Fleet, nr)...)
	holding := map[string]bool{} // units' PodGroups with a pod on a node
	for key, node := range nr.Placed {
		if pod := nr.Pods[key]; node != "" && pod.Namespace == Namespace {
			holding[pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]] = true
		}
	}
	m.Placed = len(holding)
	return m, nil
}

// evictedGangs maps each PodGroup (namespace/name) with an evicted pod to
// its evicted pods' count, and describes every one evicted in part.
func evictedGangs(r *scenario.Result) (map[string]int, []string) {
	evicted := map[string]int{}
	releasing := map[string]bool{}
	for _, key := range r.Releasing {
		releasing[key] = true
		pod := r.Pods[key]
		evicted[pod.Namespace+"/"+pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]]++
	}
	members := map[string]int{}
	for key, pod := range r.Pods {
		if r.Placed[key] != "" || releasing[key] {
			members[pod.Namespace+"/"+pod.Annotations[schedulingv1beta1.KubeGroupNameAnnotationKey]]++
		}
	}
	var partial []string
	for pg, n := range evicted {
		if n != members[pg] {
			partial = append(partial, fmt.Sprintf("gang %s evicted in part: %d of %d pods", pg, n, members[pg]))
		}
	}
	return evicted, partial
}
