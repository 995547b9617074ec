package routerbench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-serving/tandem/benchmarks/load"
	"github.com/tandem-serving/tandem/benchmarks/sim"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// TestRunPDThroughRouter runs a tiny 1P1D-against-2 benchmark through the
// real tandem-router (bin/, built by make build): the P/D hand-off is the
// router's, so the fake router of the other tests cannot stand in.
func TestRunPDThroughRouter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tandem-router processes")
	}
	root, err := localcluster.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := FindRouterBin(filepath.Join(root, "bin", "tandem-router"))
	if err != nil {
		t.Fatalf("%v (run `make build`)", err)
	}
	spec := load.DefaultSpec(load.Random)
	// 600-token prompts: past the router's default P/D threshold (256).
	spec.Requests, spec.InputTokens, spec.OutputTokens = 12, 600, 4
	simCfg := sim.DefaultConfig()
	simCfg.TimeScale = 0.01
	cfg := PDConfig{PoliciesConfig: PoliciesConfig{
		RouterBin: bin, Policies: []string{"tandem"}, Workloads: []load.Spec{spec},
		Arrival: load.Arrival{Kind: load.Concurrency, Concurrency: 4}, Reps: 1, Engines: 2, Sim: simCfg,
		Timeout: 30 * time.Second, Dir: t.TempDir(),
	}, Prefill: 1, Decode: 1}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	results, err := RunPD(ctx, cfg, load.Env{Command: "test"})
	if err != nil {
		t.Fatal(err)
	}
	res := results[0]
	if len(res.Report.Runs) != 2 || len(res.Routers) != 2 {
		t.Fatalf("want one run per fleet, got %d runs and %d router figures", len(res.Report.Runs), len(res.Routers))
	}
	n := float64(spec.Requests)
	for i, r := range res.Report.Runs {
		if r.OK != spec.Requests || len(r.Errors) > 0 {
			t.Errorf("%s: %d of %d ok, errors %v", r.Policy, r.OK, spec.Requests, r.Errors)
		}
		rr := res.Routers[i]
		served := map[string]uint64{}
		for _, e := range rr.Engines {
			served[e.Role] += e.Requests
		}
		switch r.Policy {
		case ArmAggregated:
			if len(rr.Metrics.PD) != 0 || served["both"] != uint64(spec.Requests) {
				t.Errorf("aggregated: P/D decisions %v, served %v; want none and every request on role-both engines", rr.Metrics.PD, served)
			}
		case "1P1D":
			// Every request went through the prefill engine (the router
			// says so, and so does the engine).
			if rr.Metrics.PD["disaggregated"] != n || served["prefill"] != uint64(spec.Requests) || served["decode"] != uint64(spec.Requests) {
				t.Errorf("1P1D: P/D decisions %v, served %v; want all %d disaggregated, prefilled and decoded", rr.Metrics.PD, served, spec.Requests)
			}
		default:
			t.Errorf("unexpected fleet %q", r.Policy)
		}
	}
}
