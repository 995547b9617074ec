package volcanocompat

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const hint = ": Tandem needs Volcano >= v1.14.0; upgrade Volcano or pass --volcano-check=warn"

// TestCheckCRDs runs the check on the CRDs of the Volcano release go.mod
// pins (v1.14.1, read from the module cache) and on copies with one part
// taken away, each with the message an operator sees.
func TestCheckCRDs(t *testing.T) {
	podGroups := readCRD(t, "scheduling.volcano.sh_podgroups.yaml")
	hyperNodes := readCRD(t, "topology.volcano.sh_hypernodes.yaml")

	pgField := func(field, since string) string {
		return "Volcano's PodGroup CRD has no " + field + " (installed CRD podgroups.scheduling.volcano.sh, version v1beta1; Volcano >= " + since + " has it)"
	}
	cases := []struct {
		name string
		// change modifies copies of the v1.14.1 CRDs; a nil result is a
		// CRD that is not installed.
		change func(t *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition)
		want   string // the error; "" when nothing is missing
	}{
		{name: "Volcano v1.14.1 as installed", want: ""},
		{
			name:   "no spec.subGroupPolicy (Volcano v1.13)",
			change: deleting("spec.subGroupPolicy"),
			want:   pgField("spec.subGroupPolicy", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].subGroupSize",
			change: deleting("spec.subGroupPolicy[].subGroupSize"),
			want:   pgField("spec.subGroupPolicy[].subGroupSize", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].matchLabelKeys",
			change: deleting("spec.subGroupPolicy[].matchLabelKeys"),
			want:   pgField("spec.subGroupPolicy[].matchLabelKeys", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].minSubGroups",
			change: deleting("spec.subGroupPolicy[].minSubGroups"),
			want:   pgField("spec.subGroupPolicy[].minSubGroups", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].labelSelector",
			change: deleting("spec.subGroupPolicy[].labelSelector"),
			want:   pgField("spec.subGroupPolicy[].labelSelector", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].name",
			change: deleting("spec.subGroupPolicy[].name"),
			want:   pgField("spec.subGroupPolicy[].name", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].networkTopology",
			change: deleting("spec.subGroupPolicy[].networkTopology"),
			want:   pgField("spec.subGroupPolicy[].networkTopology", "v1.14.0") + hint,
		},
		{
			name:   "no spec.subGroupPolicy[].networkTopology.highestTierAllowed",
			change: deleting("spec.subGroupPolicy[].networkTopology.highestTierAllowed"),
			want:   pgField("spec.subGroupPolicy[].networkTopology.highestTierAllowed", "v1.14.0") + hint,
		},
		{
			name: "spec.subGroupPolicy without an items schema",
			change: func(t *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				spec := propertiesAt(t, pg, "spec")
				policy := spec["subGroupPolicy"]
				policy.Items = nil
				spec["subGroupPolicy"] = policy
				return pg, hn
			},
			want: pgField("spec.subGroupPolicy[]", "v1.14.0") + hint,
		},
		{
			name:   "no spec.networkTopology",
			change: deleting("spec.networkTopology"),
			want:   pgField("spec.networkTopology", "v1.12.0") + ": Tandem needs Volcano >= v1.12.0; upgrade Volcano or pass --volcano-check=warn",
		},
		{
			name:   "no spec.networkTopology.mode",
			change: deleting("spec.networkTopology.mode"),
			want:   pgField("spec.networkTopology.mode", "v1.12.0") + ": Tandem needs Volcano >= v1.12.0; upgrade Volcano or pass --volcano-check=warn",
		},
		{
			name:   "no spec.networkTopology.highestTierAllowed",
			change: deleting("spec.networkTopology.highestTierAllowed"),
			want:   pgField("spec.networkTopology.highestTierAllowed", "v1.12.0") + ": Tandem needs Volcano >= v1.12.0; upgrade Volcano or pass --volcano-check=warn",
		},
		{
			name: "no HyperNode CRD",
			change: func(_ *testing.T, pg, _ *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				return pg, nil
			},
			want: "Volcano's HyperNode CRD hypernodes.topology.volcano.sh is not installed (Volcano >= v1.12.0 has it): Tandem needs Volcano >= v1.12.0; upgrade Volcano or pass --volcano-check=warn",
		},
		{
			name: "no PodGroup CRD",
			change: func(_ *testing.T, _, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				return nil, hn
			},
			want: "Volcano's PodGroup CRD podgroups.scheduling.volcano.sh is not installed (Volcano >= v1.14.0 has it)" + hint,
		},
		{
			name: "PodGroup v1beta1 not served",
			change: func(_ *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				pg.Spec.Versions[0].Served = false
				return pg, hn
			},
			want: "Volcano's PodGroup CRD podgroups.scheduling.volcano.sh does not serve version v1beta1 (Volcano >= v1.14.0 does)" + hint,
		},
		{
			name: "PodGroup without a schema",
			change: func(_ *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				pg.Spec.Versions[0].Schema = nil
				return pg, hn
			},
			want: "Volcano's PodGroup CRD podgroups.scheduling.volcano.sh (v1beta1) has no openAPIV3Schema (Volcano >= v1.14.0 has one)" + hint,
		},
		{
			name: "Volcano v1.11: no networkTopology, no subGroupPolicy, no HyperNode CRD",
			change: func(t *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
				pg, _ = deleting("spec.networkTopology")(t, pg, hn)
				pg, _ = deleting("spec.subGroupPolicy")(t, pg, hn)
				return pg, nil
			},
			want: pgField("spec.networkTopology", "v1.12.0") + "; " + pgField("spec.subGroupPolicy", "v1.14.0") +
				"; Volcano's HyperNode CRD hypernodes.topology.volcano.sh is not installed (Volcano >= v1.12.0 has it)" + hint,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pg, hn := podGroups.DeepCopy(), hyperNodes.DeepCopy()
			if tc.change != nil {
				pg, hn = tc.change(t, pg, hn)
			}
			installed := map[string]*apiextensionsv1.CustomResourceDefinition{}
			if pg != nil {
				installed[pg.Name] = pg
			}
			if hn != nil {
				installed[hn.Name] = hn
			}
			got := ""
			if problems := CheckCRDs(Requirements, installed); len(problems) > 0 {
				got = (&ProblemsError{Problems: problems}).Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequirementsSince keeps the release tags parsable: the message's
// "needs Volcano >=" is the latest of them.
func TestRequirementsSince(t *testing.T) {
	for _, r := range Requirements {
		if got := laterVersion(r.Since, "v0.0.1"); got != r.Since {
			t.Errorf("%s %s: Since %q does not parse as a release", r.CRD, r.Field, r.Since)
		}
	}
	if got := laterVersion("v1.12.0", "v1.14.0"); got != "v1.14.0" {
		t.Errorf("laterVersion(v1.12.0, v1.14.0) = %s", got)
	}
}

func TestModeSet(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Mode
		wantErr bool
	}{
		{in: "fail", want: ModeFail},
		{in: "warn", want: ModeWarn},
		{in: "off", want: ModeOff},
		{in: "ignore", want: ModeFail, wantErr: true},
	} {
		m := ModeFail
		err := m.Set(tc.in)
		if (err != nil) != tc.wantErr || m != tc.want {
			t.Errorf("Set(%q) = %v, mode %q; want mode %q, error %v", tc.in, err, m, tc.want, tc.wantErr)
		}
	}
}

// readCRD reads one of Volcano's CRDs from the volcano module go.mod pins.
func readCRD(t *testing.T, file string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "volcano.sh/volcano").Output()
	if err != nil {
		t.Fatalf("locate the volcano module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "installer", "helm", "chart", "volcano", "crd", "bases", file)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s holds no CRD", path)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if crd.Name != "" {
			return crd
		}
	}
}

// deleting returns a change that removes field from the PodGroup CRD's
// served schema, failing the test when the field is not there to remove.
func deleting(field string) func(*testing.T, *apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
	return func(t *testing.T, pg, hn *apiextensionsv1.CustomResourceDefinition) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinition) {
		t.Helper()
		dot := strings.LastIndex(field, ".")
		props := propertiesAt(t, pg, field[:dot])
		if _, ok := props[field[dot+1:]]; !ok {
			t.Fatalf("the v1.14.1 PodGroup CRD has no %s to delete", field)
		}
		delete(props, field[dot+1:])
		return pg, hn
	}
}

// propertiesAt returns the properties of the schema at field in the CRD's
// first version. The map is the CRD's own: changing it changes the CRD.
func propertiesAt(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition, field string) map[string]apiextensionsv1.JSONSchemaProps {
	t.Helper()
	s := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, step := range splitField(field) {
		if step == "[]" {
			s = s.Items.Schema
			continue
		}
		child, ok := s.Properties[step]
		if !ok {
			t.Fatalf("no %s in %s", field, crd.Name)
		}
		s = &child // a copy, but its maps and pointers are the CRD's
	}
	if s.Properties == nil {
		t.Fatalf("%s in %s has no properties", field, crd.Name)
	}
	return s.Properties
}
