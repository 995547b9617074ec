// Package integration tests the ServingGroup controller against a real
// kube-apiserver and etcd (the local cluster without nodes or scheduler):
// the controller runs in-process; the tests play kubelet by writing pod
// status, so every readiness and failure is one they chose.
package integration

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
		fmt.Println("skipping integration tests in -short mode")
		return 0
	}
	dir, err := os.MkdirTemp("", "tandem-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cluster, err = localcluster.Start(context.Background(), localcluster.Options{StateDir: dir, ControlPlaneOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local control plane:", err)
		return 1
	}
	code := m.Run()
	cluster.Stop()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "control plane logs kept in", dir)
	}
	return code
}
