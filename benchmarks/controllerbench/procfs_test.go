package controllerbench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatus(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    Memory
		wantErr string
	}{
		{
			name: "kernel layout",
			text: "Name:\ttandem-ctl\nVmPeak:\t 1912344 kB\nVmHWM:\t  122880 kB\nVmRSS:\t  116736 kB\nThreads:\t12\n",
			want: Memory{Peak: 122880 << 10, Current: 116736 << 10},
		},
		{name: "kernel thread without memory lines", text: "Name:\tkthreadd\nState:\tS (sleeping)\n", wantErr: "missing"},
		{name: "unit other than kB", text: "VmHWM:\t1 MB\nVmRSS:\t1 kB\n", wantErr: "VmHWM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatus(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseStatus() error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStatus() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "utime 250 and stime 50 ticks",
			text: "4242 (tandem-ctl) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 50 0 0 20 0 12 0 100 0 0\n",
			want: 3 * time.Second,
		},
		{
			name: "command name with spaces and parentheses",
			text: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 100 0 0\n",
			want: 30 * time.Millisecond,
		},
		{name: "truncated", text: "7 (a) R 1 7", wantErr: true},
		{name: "no command name", text: "7 a R", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat(tc.text)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseStat() error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseStat() = %s, want %s", got, tc.want)
			}
		})
	}
}

// The parsers must read this kernel's files; the benchmark only runs on
// Linux.
func TestReadOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Peak < m.Current || m.Current <= 0 {
		t.Errorf("readMemory() = %+v, want 0 < Current <= Peak", m)
	}
	if _, err := readCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
