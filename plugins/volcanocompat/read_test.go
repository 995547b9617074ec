package volcanocompat

import (
	"context"
	"errors"
	"testing"

	"github.com/go-logr/logr/funcr"
	apiextensionsfake "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset/fake"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestCheckVolcanoModes: what each --volcano-check mode does with an old
// Volcano (no HyperNode CRD, PodGroup without subGroupPolicy), a current
// one, and a cluster that cannot be read.
func TestCheckVolcanoModes(t *testing.T) {
	current := []runtime.Object{readCRD(t, "scheduling.volcano.sh_podgroups.yaml"), readCRD(t, "topology.volcano.sh_hypernodes.yaml")}
	old := readCRD(t, "scheduling.volcano.sh_podgroups.yaml")
	delete(old.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties, "subGroupPolicy")

	cases := []struct {
		name      string
		crds      []runtime.Object
		forbidden bool
		mode      Mode
		wantErr   string // "" for none
		wantLog   bool
		wantReads int
	}{
		{name: "fail, current Volcano", crds: current, mode: ModeFail, wantReads: 2},
		{name: "fail, old Volcano", crds: []runtime.Object{old}, mode: ModeFail, wantReads: 2,
			wantErr: "Volcano's PodGroup CRD has no spec.subGroupPolicy (installed CRD podgroups.scheduling.volcano.sh, version v1beta1; Volcano >= v1.14.0 has it); " +
				"Volcano's HyperNode CRD hypernodes.topology.volcano.sh is not installed (Volcano >= v1.12.0 has it)" + hint},
		{name: "warn, old Volcano: logged, starts", crds: []runtime.Object{old}, mode: ModeWarn, wantLog: true, wantReads: 2},
		{name: "off: nothing read", crds: []runtime.Object{old}, mode: ModeOff, wantReads: 0},
		{name: "fail, CRDs unreadable", forbidden: true, mode: ModeFail, wantReads: 1,
			wantErr: "read CRD podgroups.scheduling.volcano.sh: no get for you (Tandem needs get on customresourcedefinitions podgroups.scheduling.volcano.sh and hypernodes.topology.volcano.sh; or pass --volcano-check=warn)"},
		{name: "warn, CRDs unreadable: logged, starts", forbidden: true, mode: ModeWarn, wantLog: true, wantReads: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := apiextensionsfake.NewSimpleClientset(tc.crds...)
			if tc.forbidden {
				client.PrependReactor("get", "customresourcedefinitions", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("no get for you")
				})
			}
			logged := false
			log := funcr.New(func(_, _ string) { logged = true }, funcr.Options{})
			err := CheckVolcano(context.Background(), client, tc.mode, log)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("error:\n got %q\nwant %q", got, tc.wantErr)
			}
			if logged != tc.wantLog {
				t.Errorf("logged = %v, want %v", logged, tc.wantLog)
			}
			if n := len(client.Actions()); n != tc.wantReads {
				t.Errorf("%d API calls, want %d: %v", n, tc.wantReads, client.Actions())
			}
		})
	}
}
