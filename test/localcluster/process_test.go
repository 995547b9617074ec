package localcluster

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStopStaleStopsWhatAnEarlierRunLeft starts children the way a run does,
// forgets them (as a killed tandem-up would), and checks StopStale ends
// them, latest first, and clears their PID files.
func TestStopStaleStopsWhatAnEarlierRunLeft(t *testing.T) {
	dir := t.TempDir()
	bin := "/bin/sleep"
	var pids []int
	for i, name := range []string{"first", "second"} {
		p, err := startProcess(dir, i, name, bin, "300")
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, p.cmd.Process.Pid)
		t.Cleanup(func() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) })
	}
	stopped, err := StopStale(dir, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"01-second", "00-first"}, stopped); diff != "" {
		t.Errorf("stopped (-want +got):\n%s", diff)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("process %d still alive after StopStale", pid)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "pids", "*"))
	if len(left) != 0 {
		t.Errorf("PID files left: %v", left)
	}
	again, err := StopStale(dir, time.Second)
	if err != nil || len(again) != 0 {
		t.Errorf("second StopStale = %v, %v; want nothing", again, err)
	}
}

// alive reports whether pid exists and is not a zombie (our own children
// linger as zombies until reaped by the Wait goroutine).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(data) - 1; i > 0; i-- {
		if data[i] == ')' && i+2 < len(data) {
			return data[i+2] != 'Z'
		}
	}
	return true
}
