package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRootfsRoundTrip(t *testing.T) {
	want := rootfsEntries("tandem-router", []byte("\x7fELF..."))
	var buf bytes.Buffer
	if err := writeTar(&buf, want, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	got, err := readTar(&buf, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(entry{})); d != "" {
		t.Errorf("layer entries (-want +got):\n%s", d)
	}
}

func TestReadTarLimit(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTar(&buf, rootfsEntries("x", make([]byte, 2048)), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := readTar(&buf, 1024); err == nil || !strings.Contains(err.Error(), "more than the 1024 allowed") {
		t.Errorf("readTar over its limit: err %v, want the limit named", err)
	}
}

func TestCheckRootfs(t *testing.T) {
	binary := []byte("binary")
	change := func(name string, f func(*entry)) func([]entry) []entry {
		return func(es []entry) []entry {
			for i := range es {
				if es[i].Name == name {
					f(&es[i])
				}
			}
			return es
		}
	}
	drop := func(name string) func([]entry) []entry {
		return func(es []entry) []entry {
			var out []entry
			for _, e := range es {
				if e.Name != name {
					out = append(out, e)
				}
			}
			return out
		}
	}
	cases := []struct {
		name   string
		mutate func([]entry) []entry
		want   []string
	}{
		{name: "as written", mutate: func(es []entry) []entry { return es }},
		{name: "passwd without nonroot", mutate: change("etc/passwd", func(e *entry) { e.Data = []byte("root:x:0:0::/:/sbin/nologin\n") }),
			want: []string{"/etc/passwd lacks the nonroot user 65532"}},
		{name: "no group file", mutate: drop("etc/group"), want: []string{"/etc/group lacks the nonroot group 65532"}},
		{name: "tmp not sticky", mutate: change("tmp/", func(e *entry) { e.Mode = 0o777 }), want: []string{"/tmp is missing or not mode 1777"}},
		{name: "binary missing", mutate: drop("usr/local/bin/tandem-sim"), want: []string{"binary /usr/local/bin/tandem-sim is not in the layer"}},
		{name: "binary not executable", mutate: change("usr/local/bin/tandem-sim", func(e *entry) { e.Mode = 0o644 }),
			want: []string{"binary /usr/local/bin/tandem-sim has mode 644, not executable by everyone"}},
		{name: "binary owned by its user", mutate: change("usr/local/bin/tandem-sim", func(e *entry) { e.UID = nonroot }),
			want: []string{"binary /usr/local/bin/tandem-sim is writable by its user (mode 755, uid 65532)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, bin := checkRootfs(tc.mutate(rootfsEntries("tandem-sim", binary)), "tandem-sim")
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
			if tc.name == "as written" && !bytes.Equal(bin, binary) {
				t.Errorf("binary %q, want %q", bin, binary)
			}
		})
	}
}
