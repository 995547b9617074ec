package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/test/localcluster"
)

// TestTandemUpStopsCleanly runs the tandem-up binary as a user would, waits
// for it to report ready, interrupts it, and checks that no process it
// started is left.
func TestTandemUpStopsCleanly(t *testing.T) {
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "bin", "tandem-up"), "--state-dir="+state, "--pod-cidr=127.3.0.0/16")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "local cluster ready") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("tandem-up ended before it was ready: %v", cmd.Wait())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("tandem-up not ready after 60s")
	}
	children := processesUnder(state)
	if len(children) < 4 {
		t.Fatalf("found %d processes using %s, want etcd, kube-apiserver, kwok and tandem-scheduler", len(children), state)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("tandem-up after Ctrl-C: %v", err)
	}
	if left := processesUnder(state); len(left) > 0 {
		t.Errorf("processes left after Ctrl-C: %v", left)
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processesUnder lists live processes whose command line mentions dir.
func processesUnder(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestDemoOnce runs `tandem-up --demo --once` as `make demo` would (minus
// the wait for Ctrl-C): requests cross router, controller-made pods placed
// by tandem-scheduler, and simulated engines; the later ones hit the
// prefix cache.
func TestDemoOnce(t *testing.T) {
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "bin", "tandem-up"), "--demo", "--once",
		"--state-dir="+t.TempDir(), "--pod-cidr=127.4.0.0/16")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tandem-up --demo --once: %v\n%s", err, out)
	}
	rows := 0
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 1 && (fields[1] == "stream" || fields[1] == "full") {
			rows++
			if fields[0] != "1" && !strings.Contains(line, "prefix hit") {
				t.Errorf("request %s missed the shared prefix: %s", fields[0], line)
			}
		}
	}
	if rows != 4 {
		t.Errorf("want 4 request rows, got %d:\n%s", rows, out)
	}
}
