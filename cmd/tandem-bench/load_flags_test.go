package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/benchmarks/load"
)

// completeConfig parses args with tandem-bench load's flag set.
func completeConfig(t *testing.T, args ...string) (load.Config, error) {
	t.Helper()
	fs, f, cfg := newLoadFlags()
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := f.complete(fs, cfg)
	return *cfg, err
}

func TestCompleteLoadFlags(t *testing.T) {
	cfg, err := completeConfig(t, "--sim=2", "--groups=3", "--workload=shared")
	if err != nil {
		t.Fatal(err)
	}
	want := load.DefaultSpec(load.Shared)
	want.Groups = 3
	if diff := cmp.Diff(want, cfg.Workload); diff != "" {
		t.Errorf("workload: defaults with the flags given on top (-want +got):\n%s", diff)
	}
	if cfg.NewFleet == nil || !cmp.Equal(cfg.Policies, []string{"random", "round-robin"}) {
		t.Errorf("policies %v, fleet set %v", cfg.Policies, cfg.NewFleet != nil)
	}

	cfg, err = completeConfig(t, "--workload=trace", "--trace=../../benchmarks/load/testdata/sample-trace.jsonl", "--targets=http://router:8080")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Arrival.Kind != load.TraceTimes || len(cfg.Workload.Trace) != 48 {
		t.Errorf("trace workload: arrival %q, %d records", cfg.Arrival.Kind, len(cfg.Workload.Trace))
	}
	if !cmp.Equal(cfg.Policies, []string{"single-target"}) {
		t.Errorf("one target: policies %v, want the single-target label", cfg.Policies)
	}

	for _, bad := range [][]string{
		{}, // no targets, no --sim
		{"--targets=http://a", "--policies=random,sticky"}, // two labels for one target
		{"--sim=2", "--api=grpc"},
		{"--sim=2", "--rate=fast"},
		{"--sim=2", "--plots=dir"}, // plots draw a sweep
	} {
		if _, err := completeConfig(t, bad...); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}
