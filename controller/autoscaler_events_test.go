package controller

import (
	"testing"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller/testutil"
)

func TestScaleNote(t *testing.T) {
	pd := testutil.MakeServingGroup("pd").Queue("serving").
		Role(testutil.MakeRole("prefill").Replicas(2).GPU(1).Obj()).
		Role(testutil.MakeRole("decode").Size(2).GPU(4).Obj()).Obj()
	cpu := testutil.MakeServingGroup("cpu").Role(testutil.MakeRole("engine").Obj()).Obj()
	cases := []struct {
		name     string
		sg       *v1alpha1.ServingGroup
		from, to int32
		want     string
	}{
		// A unit: 2 prefill × 1 GPU + 1 decode instance of 2 pods × 4 GPUs.
		{"a scale-up asks for the new units' GPUs", pd, 1, 3, "; asks queue serving for 20 nvidia.com/gpu"},
		{"a scale-down frees the removed units' GPUs", pd, 3, 2, "; frees 10 nvidia.com/gpu in queue serving for other jobs"},
		{"no change, nothing to say", pd, 2, 2, ""},
		{"a group without accelerators", cpu, 0, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := scaleNote(tc.sg, tc.from, tc.to); got != tc.want {
				t.Errorf("scaleNote = %q, want %q", got, tc.want)
			}
		})
	}
}
