package volcanocompat

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/version"
)

// Names of the Volcano CRDs Tandem needs.
const (
	PodGroupCRD  = "podgroups.scheduling.volcano.sh"
	HyperNodeCRD = "hypernodes.topology.volcano.sh"
)

// Requirement is one thing Tandem needs from an installed CRD: the CRD
// serving Version and, when Field is set, declaring Field in that version's
// schema. Field is a dotted path from the object root; "[]" steps into the
// items of an array.
type Requirement struct {
	CRD     string
	Kind    string // for messages: "PodGroup"
	Version string
	Field   string
	// Since is the first Volcano release that meets the requirement.
	Since string
}

// Requirements is what the controller writes and the plugin reads (see
// controller/plan/build_unit.go), with the release that brought each field
// (see the package doc for the sources).
var Requirements = []Requirement{
	podGroup("spec.networkTopology.mode", "v1.12.0"),
	podGroup("spec.networkTopology.highestTierAllowed", "v1.12.0"),
	podGroup("spec.subGroupPolicy[].name", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].subGroupSize", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].minSubGroups", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].labelSelector", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].matchLabelKeys", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].networkTopology.mode", "v1.14.0"),
	podGroup("spec.subGroupPolicy[].networkTopology.highestTierAllowed", "v1.14.0"),
	{CRD: HyperNodeCRD, Kind: "HyperNode", Version: "v1alpha1", Since: "v1.12.0"},
}

func podGroup(field, since string) Requirement {
	return Requirement{CRD: PodGroupCRD, Kind: "PodGroup", Version: "v1beta1", Field: field, Since: since}
}

// Problem is one unmet requirement. Several requirements under one missing
// field collapse into one Problem naming the outermost missing field.
type Problem struct {
	CRD, Kind, Version string
	// What is missing: the CRD, the served version, or Field.
	Missing Missing
	Field   string
	Since   string
}

// Missing says which part of a requirement is absent.
type Missing int

const (
	MissingCRD Missing = iota
	MissingVersion
	MissingSchema
	MissingField
)

func (p Problem) String() string {
	switch p.Missing {
	case MissingCRD:
		return fmt.Sprintf("Volcano's %s CRD %s is not installed (Volcano >= %s has it)", p.Kind, p.CRD, p.Since)
	case MissingVersion:
		return fmt.Sprintf("Volcano's %s CRD %s does not serve version %s (Volcano >= %s does)", p.Kind, p.CRD, p.Version, p.Since)
	case MissingSchema:
		return fmt.Sprintf("Volcano's %s CRD %s (%s) has no openAPIV3Schema (Volcano >= %s has one)", p.Kind, p.CRD, p.Version, p.Since)
	default:
		return fmt.Sprintf("Volcano's %s CRD has no %s (installed CRD %s, version %s; Volcano >= %s has it)", p.Kind, p.Field, p.CRD, p.Version, p.Since)
	}
}

// CheckCRDs returns the requirements the installed CRDs do not meet, in the
// order of reqs. installed maps a CRD name to the CRD; a name that is
// absent (or nil) is a CRD that is not installed.
func CheckCRDs(reqs []Requirement, installed map[string]*apiextensionsv1.CustomResourceDefinition) []Problem {
	var problems []Problem
	index := map[string]int{} // problem key → position, to collapse
	for _, r := range reqs {
		p := problemOf(r, installed[r.CRD])
		if p == nil {
			continue
		}
		key := p.CRD + "\x00" + p.Version + "\x00" + p.Field + "\x00" + fmt.Sprint(p.Missing)
		if i, ok := index[key]; ok {
			problems[i].Since = laterVersion(problems[i].Since, p.Since)
			continue
		}
		index[key] = len(problems)
		problems = append(problems, *p)
	}
	return problems
}

func problemOf(r Requirement, crd *apiextensionsv1.CustomResourceDefinition) *Problem {
	p := &Problem{CRD: r.CRD, Kind: r.Kind, Version: r.Version, Since: r.Since}
	if crd == nil {
		p.Missing = MissingCRD
		return p
	}
	v := servedVersion(crd, r.Version)
	if v == nil {
		p.Missing = MissingVersion
		return p
	}
	if r.Field == "" {
		return nil
	}
	if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
		p.Missing = MissingSchema
		return p
	}
	if missing := missingPrefix(v.Schema.OpenAPIV3Schema, r.Field); missing != "" {
		p.Missing, p.Field = MissingField, missing
		return p
	}
	return nil
}

func servedVersion(crd *apiextensionsv1.CustomResourceDefinition, name string) *apiextensionsv1.CustomResourceDefinitionVersion {
	for i := range crd.Spec.Versions {
		if v := &crd.Spec.Versions[i]; v.Name == name && v.Served {
			return v
		}
	}
	return nil
}

// missingPrefix walks field through the schema and returns the shortest
// prefix of it that the schema does not declare, or "" when all of it is
// declared. A field is declared only when it is in its parent's properties:
// Kubernetes prunes anything else on write.
func missingPrefix(s *apiextensionsv1.JSONSchemaProps, field string) string {
	steps := splitField(field)
	for i, step := range steps {
		if step == "[]" {
			if s.Items == nil || s.Items.Schema == nil {
				return joinField(steps[:i+1])
			}
			s = s.Items.Schema
			continue
		}
		child, ok := s.Properties[step]
		if !ok {
			return joinField(steps[:i+1])
		}
		s = &child
	}
	return ""
}

// splitField turns "spec.a[].b" into [spec a [] b].
func splitField(field string) []string {
	var steps []string
	for _, part := range strings.Split(field, ".") {
		name, isArray := strings.CutSuffix(part, "[]")
		steps = append(steps, name)
		if isArray {
			steps = append(steps, "[]")
		}
	}
	return steps
}

// joinField is the inverse of splitField.
func joinField(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		if s == "[]" {
			b.WriteString("[]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// laterVersion returns the later of two Volcano release tags ("v1.14.0").
func laterVersion(a, b string) string {
	va, errA := version.ParseSemantic(a)
	vb, errB := version.ParseSemantic(b)
	if errA != nil || errB != nil {
		// Tags come from Requirements; an unparsable one is a bug that
		// the tests catch. Keep the first so the message still reads.
		return a
	}
	if va.LessThan(vb) {
		return b
	}
	return a
}

// ProblemsError is the error of a failed version check: every problem, and
// the Volcano release that meets them all.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	var parts []string
	need := ""
	for _, p := range e.Problems {
		parts = append(parts, p.String())
		if need == "" {
			need = p.Since
		} else {
			need = laterVersion(need, p.Since)
		}
	}
	return fmt.Sprintf("%s: Tandem needs Volcano >= %s; upgrade Volcano or pass --%s=warn", strings.Join(parts, "; "), need, FlagName)
}
