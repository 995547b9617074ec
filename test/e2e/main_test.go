// Package e2e holds end-to-end tests on the local cluster: a real
// kube-apiserver and etcd, kwok nodes with GPUs and HyperNodes, and
// tandem-scheduler. One cluster is started for the package.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/tandem-serving/tandem/test/localcluster"
)

var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping end-to-end tests in -short mode")
		return 0
	}
	dir, err := os.MkdirTemp("", "tandem-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster, err = localcluster.Start(context.Background(), localcluster.Options{
		StateDir:   dir,
		Scheduler:  true,
		Controller: true,
		PodCIDR:    "127.2.0.0/16",
		Fleet: localcluster.Fleet{
			Racks: 3, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8,
			Products: []string{"NVIDIA-H100-80GB-HBM3", "NVIDIA-H200"},
			CPU:      "96", Memory: "1Ti",
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local cluster:", err)
		return 1
	}
	code := m.Run()
	cluster.Stop()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "cluster logs kept in", dir)
	}
	return code
}
