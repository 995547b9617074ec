package autoscalebench

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// The benchmark's serving pods drain as the autoscaled vLLM sample's do,
// so `tandem-bench autoscale --cluster` measures the deployable behaviour.
func TestServingGroupDrainsLikeTheSample(t *testing.T) {
	data, err := os.ReadFile("../../deploy/samples/autoscaled-from-zero.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sample := &v1alpha1.ServingGroup{}
	if err := yaml.UnmarshalStrict(data, sample); err != nil {
		t.Fatal(err)
	}
	want := sample.Spec.Roles[0].Template.Spec
	got := servingGroup(1, 2, nil).Spec.Roles[0].Template.Spec
	if want.Containers[0].Lifecycle == nil {
		t.Fatal("the sample's engine container has no lifecycle")
	}
	if diff := cmp.Diff(want.Containers[0].Lifecycle, got.Containers[0].Lifecycle); diff != "" {
		t.Errorf("engine container lifecycle (-sample +benchmark):\n%s", diff)
	}
	if diff := cmp.Diff(want.TerminationGracePeriodSeconds, got.TerminationGracePeriodSeconds); diff != "" {
		t.Errorf("terminationGracePeriodSeconds (-sample +benchmark):\n%s", diff)
	}
}
