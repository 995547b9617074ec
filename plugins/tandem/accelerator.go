package tandem

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// AcceleratorTypes returns the values the pod's required node affinity
// allows for label (an In expression on it), or nil when it does not
// constrain the label. The controller writes a role's accelerator types
// there, so the pod itself carries them.
func AcceleratorTypes(pod *corev1.Pod, label string) []string {
	aff := pod.Spec.Affinity
	if aff == nil || aff.NodeAffinity == nil || aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	var out []string
	for _, term := range aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, expr := range term.MatchExpressions {
			if expr.Key == label && expr.Operator == corev1.NodeSelectorOpIn {
				out = append(out, expr.Values...)
			}
		}
	}
	return out
}

// AcceleratorMismatch explains why a node's accelerator does not match the
// role's types, or returns "" when it does (or nothing is asked).
func AcceleratorMismatch(role string, types []string, label string, nodeLabels map[string]string) string {
	if len(types) == 0 {
		return ""
	}
	have, ok := nodeLabels[label]
	if ok && slices.Contains(types, have) {
		return ""
	}
	if !ok {
		have = "none"
	}
	return fmt.Sprintf(v1alpha1.AcceleratorMismatchFormat, role, strings.Join(types, " or "), label, have)
}
