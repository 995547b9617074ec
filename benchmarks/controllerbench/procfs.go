package controllerbench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Memory is a process's resident memory from /proc/<pid>/status.
type Memory struct {
	// Peak is VmHWM, the high-water mark of the resident set.
	Peak int64 // bytes
	// Current is VmRSS.
	Current int64 // bytes
}

// ParseStatus reads VmHWM and VmRSS from the text of /proc/<pid>/status.
func ParseStatus(text string) (Memory, error) {
	var m Memory
	found := 0
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmHWM":
			dst = &m.Peak
		case "VmRSS":
			dst = &m.Current
		default:
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return Memory{}, fmt.Errorf("%s: want \"<n> kB\", got %q", key, strings.TrimSpace(value))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("%s: %w", key, err)
		}
		*dst = kb * 1024
		found++
	}
	if found != 2 {
		return Memory{}, fmt.Errorf("VmHWM or VmRSS missing")
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat: 100
// on every Linux architecture Go supports.
const clockTicks = 100

// ParseStat returns the CPU time (user + system, all threads) from the
// text of /proc/<pid>/stat. The command name in parentheses may itself
// hold spaces and parentheses, so fields are counted from the last ')'.
func ParseStat(text string) (time.Duration, error) {
	end := strings.LastIndexByte(text, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name")
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15).
	fields := strings.Fields(text[end+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("want at least 15 fields, got %d", len(fields)+2)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// readMemory reads the resident memory of process pid.
func readMemory(pid int) (Memory, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	return ParseStatus(string(data))
}

// readCPU reads the CPU time process pid has used so far.
func readCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return ParseStat(string(data))
}
