// Package deploy holds the manifests; its test checks that the Grafana
// dashboard asks only for metrics the components export.
package deploy

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// exported lists the metric families the dashboard may use: the router's
// (from its golden exposition file) and the controller's.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	golden, err := os.ReadFile("../router/testdata/metrics.golden")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(golden), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	controller, err := os.ReadFile("../controller/metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(tandem_controller_[a-z_]+)"`).FindAllStringSubmatch(string(controller), -1) {
		out[m[1]] = true
	}
	out["controller_runtime_reconcile_total"] = true // controller-runtime's own
	return out
}

func TestDashboardUsesExportedMetrics(t *testing.T) {
	data, err := os.ReadFile("dashboards/tandem.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	have := exported(t)
	metric := regexp.MustCompile(`\b((?:tandem|controller_runtime)_[a-z_]+?)(?:_bucket|_sum|_count)?(?:[{\[)\s]|$)`)
	used := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			names := metric.FindAllStringSubmatch(target.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric found in %q", p.Title, target.Expr)
			}
			for _, m := range names {
				used++
				if !have[m[1]] {
					t.Errorf("panel %q uses %s, which no component exports", p.Title, m[1])
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("the dashboard uses no metrics")
	}
}
