// Package e2e holds end-to-end tests on the local cluster: a real
// kube-apiserver and etcd, kwok nodes with GPUs and HyperNodes, and
// tandem-scheduler, tandem-controller and tandem-router. One cluster is
// started for the package.
package e2e

import (
	"os"
	"testing"

	"github.com/tandem-serving/tandem/test/localcluster"
)

var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	opts := localcluster.Options{
		Scheduler:  true,
		Controller: true,
		// tandem-router as a process, scraped by the controller's
		// autoscaler, deciding every second over a 3 s window (the
		// defaults, 15 s and 1 min, would not fit a test).
		Router:          true,
		RouterNamespace: autoscaleNamespace,
		ControllerArgs:  []string{"--autoscale-interval=1s", "--autoscale-window=3s"},
		PodCIDR:         "127.2.0.0/16",
		Fleet: localcluster.Fleet{
			Racks: 3, NodesPerRack: 4, DomainSize: 2, GPUsPerNode: 8,
			Products: []string{"NVIDIA-H100-80GB-HBM3", "NVIDIA-H200"},
			CPU:      "96", Memory: "1Ti",
		},
	}
	os.Exit(localcluster.RunTests(m, opts, func(c *localcluster.Cluster) { cluster = c }))
}
