package localcluster

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
)

// RunTests is a test package's TestMain body: it starts a cluster with
// opts under a fresh temporary state folder, hands it to use, runs the
// tests and stops the cluster, keeping its logs when a test failed. Under
// -short it runs nothing. Call as os.Exit(localcluster.RunTests(m, opts,
// func(c *Cluster) { cluster = c })).
func RunTests(m *testing.M, opts Options, use func(*Cluster)) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("skipping tests that need the local cluster in -short mode")
		return 0
	}
	dir, err := os.MkdirTemp("", "tandem-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opts.StateDir = dir
	c, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start local cluster:", err)
		return 1
	}
	use(c)
	code := m.Run()
	c.Stop()
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "cluster logs kept in", dir)
	}
	return code
}
