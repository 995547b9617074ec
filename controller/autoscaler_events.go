package controller

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// acceleratorsOf says what units units of the group hold, as
// "16 nvidia.com/gpu", per accelerator resource in name order; "" for a
// group without accelerators. The autoscaler's events name it, so an
// operator sees in `kubectl describe sg` how many GPUs a scale-down gave
// back to the queue's batch jobs (Volcano hands them on as usual) and a
// scale-up took from it.
func acceleratorsOf(sg *v1alpha1.ServingGroup, units int32) string {
	per := map[string]int64{}
	for _, r := range sg.Spec.Roles {
		if r.Accelerator == nil {
			continue
		}
		res := r.Accelerator.Resource
		if res == "" {
			res = "nvidia.com/gpu" // the CRD default
		}
		// Zero is unset in objects built without the CRD's defaults (1).
		count, size, replicas := max(int64(r.Accelerator.Count), 1), max(int64(r.Size), 1), max(int64(r.Replicas), 1)
		per[res] += int64(units) * replicas * size * count
	}
	names := make([]string, 0, len(per))
	for res := range per {
		names = append(names, res)
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, res := range names {
		parts = append(parts, fmt.Sprintf("%d %s", per[res], res))
	}
	return strings.Join(parts, ", ")
}

// scaleNote ends a ScaledUp or ScaledDown event: the accelerators the
// change moves between serving and the group's Volcano queue.
func scaleNote(sg *v1alpha1.ServingGroup, from, to int32) string {
	queue := sg.Spec.Queue
	if queue == "" {
		queue = "default"
	}
	switch {
	case to > from:
		if a := acceleratorsOf(sg, to-from); a != "" {
			return fmt.Sprintf("; asks queue %s for %s", queue, a)
		}
	case to < from:
		if a := acceleratorsOf(sg, from-to); a != "" {
			return fmt.Sprintf("; frees %s in queue %s for other jobs", a, queue)
		}
	}
	return ""
}
