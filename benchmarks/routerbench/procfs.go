package routerbench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/controllerbench"
)

// Usage is a process's CPU time so far and its resident memory.
type Usage struct {
	CPU time.Duration
	// RSS is VmRSS and PeakRSS VmHWM, in bytes.
	RSS, PeakRSS int64
}

// ReadUsage reads process pid's usage from /proc (Linux only).
func ReadUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, err
	}
	cpu, err := controllerbench.ParseStat(string(stat))
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, err
	}
	mem, err := controllerbench.ParseStatus(string(status))
	if err != nil {
		return Usage{}, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return Usage{CPU: cpu, RSS: mem.Current, PeakRSS: mem.Peak}, nil
}

// CPUTimes are the machine's CPU time counters from /proc/stat's first
// line, in clock ticks summed over cores.
type CPUTimes struct {
	Busy, Total uint64
}

// ParseProcStat reads the aggregate "cpu" line of /proc/stat: busy is
// every field but idle and iowait.
func ParseProcStat(text string) (CPUTimes, error) {
	line, _, _ := strings.Cut(text, "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return CPUTimes{}, fmt.Errorf("/proc/stat: want a first line \"cpu user nice system idle ...\", got %q", line)
	}
	var t CPUTimes
	for i, f := range fields[1:] {
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return CPUTimes{}, fmt.Errorf("/proc/stat: %w", err)
		}
		t.Total += n
		if i != 3 && i != 4 { // idle, iowait
			t.Busy += n
		}
	}
	return t, nil
}

// BusyFraction is the share of the machine's CPU time that was busy
// between two readings; NaN when no time passed.
func BusyFraction(before, after CPUTimes) float64 {
	return ratio(float64(after.Busy-before.Busy), float64(after.Total-before.Total))
}

func readMachine() (CPUTimes, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUTimes{}, err
	}
	return ParseProcStat(string(data))
}
