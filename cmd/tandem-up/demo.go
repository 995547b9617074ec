package main

import (
	"context"
	"fmt"
	"time"

	"github.com/tandem-serving/tandem/test/localcluster"
)

// runDemo places one gang through tandem-scheduler and prints where its
// pods landed.
func runDemo(ctx context.Context, cluster *localcluster.Cluster) error {
	gang := localcluster.Gang{Namespace: "default", Name: "demo-gang", MinMember: 2, Pods: 2, GPUs: 4}
	fmt.Printf("\ndemo: PodGroup %s (minMember %d) with %d pods of %d GPUs each\n", gang.Name, gang.MinMember, gang.Pods, gang.GPUs)
	began := time.Now()
	if err := gang.Create(ctx, cluster); err != nil {
		return err
	}
	placed, err := gang.WaitRunning(ctx, cluster, time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("demo: gang Running after %s\n", time.Since(began).Round(100*time.Millisecond))
	for _, p := range placed {
		fmt.Printf("  %-12s node %-10s %-22s %-14s pod IP %s\n", p.Pod, p.Node, p.Product, p.Domain, p.IP)
	}
	return nil
}
