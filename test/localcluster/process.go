package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one child of the cluster. Each runs in its own process group
// so that stopping it also stops anything it started, and its PID is kept
// in the state folder so a later run can stop what an earlier one left.
type process struct {
	name    string
	order   int
	bin     string
	args    []string
	cmd     *exec.Cmd
	pidFile string
	done    chan struct{}
	err     error
}

// startProcess runs bin with args, output to <stateDir>/logs/<name>.log.
// order is the start position, kept in the PID file name so that stale
// processes are stopped in reverse order too.
func startProcess(stateDir string, order int, name, bin string, args ...string) (*process, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s binary: %w (run `make tools build`)", name, err)
	}
	logDir := filepath.Join(stateDir, "logs")
	pidDir := filepath.Join(stateDir, "pids")
	for _, d := range []string{logDir, pidDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	logFile, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Setpgid: the child leads its own group; Pdeathsig: if this process
	// dies without cleaning up, the kernel still stops the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{
		name:    name,
		order:   order,
		bin:     bin,
		args:    args,
		cmd:     cmd,
		pidFile: filepath.Join(pidDir, fmt.Sprintf("%02d-%s.pid", order, name)),
		done:    make(chan struct{}),
	}
	if err := os.WriteFile(p.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, waits up to grace, then kills it.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The group may outlive its leader (e.g. a child that ignored SIGTERM).
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = os.Remove(p.pidFile)
}

// StopStale stops the processes an earlier run left in stateDir, latest
// started first, and reports which it found.
func StopStale(stateDir string, grace time.Duration) ([]string, error) {
	pidDir := filepath.Join(stateDir, "pids")
	entries, err := os.ReadDir(pidDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	var stopped []string
	for _, name := range names {
		path := filepath.Join(pidDir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return stopped, err
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err == nil && syscall.Kill(-pid, 0) == nil {
			stopGroup(pid, grace)
			stopped = append(stopped, strings.TrimSuffix(name, ".pid"))
		}
		_ = os.Remove(path)
	}
	return stopped, nil
}

// stopGroup stops a process group that is not our child: SIGTERM, poll
// until it is gone or grace has passed, then SIGKILL.
func stopGroup(pgid int, grace time.Duration) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
