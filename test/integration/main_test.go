// Package integration tests the ServingGroup controller against a real
// kube-apiserver and etcd (the local cluster without nodes or scheduler):
// the controller runs in-process; the tests play kubelet by writing pod
// status, so every readiness and failure is one they chose.
package integration

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/tandem-serving/tandem/test/localcluster"
)

var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	// The in-process controllers log through controller-runtime; the
	// tests read state from the API server, not from logs.
	ctrl.SetLogger(logr.Discard())
	os.Exit(localcluster.RunTests(m, localcluster.Options{ControlPlaneOnly: true}, func(c *localcluster.Cluster) { cluster = c }))
}
