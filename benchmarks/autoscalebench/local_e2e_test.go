package autoscalebench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/test/localcluster"
)

// TestLocalClusterTinyDay runs `tandem-bench autoscale --cluster` for a
// 15-second day: three fresh local clusters (the binaries in bin/, as
// make test builds them), the same arrivals through tandem-router each
// time. It checks the table has the three scalers' rows and that each
// served requests; what the figures are is the benchmark's business.
func TestLocalClusterTinyDay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three local clusters; skipped in -short mode")
	}
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kwok", "tandem-scheduler", "tandem-controller", "tandem-router"} {
		if _, err := os.Stat(filepath.Join(root, "bin", bin)); err != nil {
			t.Fatalf("the local cluster needs bin/%s (make build tools): %v", bin, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	args := []string{"--cluster", "--day", "15s", "--trough", "2", "--peak", "4", "--bursts", "0.4",
		"--burst-ramp", "3s", "--burst-hold", "2s", "--cold-start", "2s", "--down-window", "4s",
		"--interval", "1s", "--window", "3s", "--gang-mean", "5s", "--racks", "1", "--nodes-per-rack", "4",
		"--pod-cidr", "127.45.0.0/16", "--state-dir", filepath.Join(dir, "state"), "--plots", filepath.Join(dir, "plots")}
	var out, errs bytes.Buffer
	if err := runLocal(ctx, args, &out, &errs); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errs.String())
	}
	text := out.String()
	t.Logf("output:\n%s", text)
	if !strings.Contains(text, "LOCAL CLUSTER, not the model") {
		t.Errorf("the output does not say it ran on the local cluster")
	}
	for _, scaler := range []string{Static, HPAKey, TandemKey} {
		served, ok := servedIn(text, scaler)
		if !ok {
			t.Errorf("no %s row in the table", scaler)
			continue
		}
		if served <= 0 {
			t.Errorf("%s: %v requests served", scaler, served)
		}
	}
	for _, name := range []string{"autoscale-cluster-gpus.svg", "autoscale-cluster-batch-share.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, "plots", name))
		if err != nil || !bytes.Contains(b, []byte("<svg")) {
			t.Errorf("%s: not an SVG (%v)", name, err)
		}
	}
}

// servedIn reads a scaler's row of the table: requests minus refused.
func servedIn(table, scaler string) (float64, bool) {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != scaler {
			continue
		}
		requests, err1 := strconv.ParseFloat(f[1], 64)
		refused, err2 := strconv.ParseFloat(f[4], 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return requests - refused, true
	}
	return 0, false
}
