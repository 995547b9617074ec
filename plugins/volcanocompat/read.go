package volcanocompat

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// CheckVolcano reads the CRDs Requirements name and checks them as mode
// says: under fail every problem (or a failure to read) is the returned
// error; under warn it is logged and CheckVolcano returns nil; under off
// nothing is read.
func CheckVolcano(ctx context.Context, client apiextensionsclient.Interface, mode Mode, log logr.Logger) error {
	if mode == ModeOff {
		return nil
	}
	err := checkVolcano(ctx, client)
	if err == nil || mode == ModeWarn {
		if err != nil {
			log.Error(err, "Volcano version check failed; continuing because --"+FlagName+"=warn (PodGroup fields the CRD lacks are dropped by the API server)")
		}
		return nil
	}
	return err
}

func checkVolcano(ctx context.Context, client apiextensionsclient.Interface) error {
	crds, err := ReadCRDs(ctx, client, Requirements)
	if err != nil {
		return fmt.Errorf("%w (Tandem needs get on customresourcedefinitions %s and %s; or pass --%s=warn)", err, PodGroupCRD, HyperNodeCRD, FlagName)
	}
	if problems := CheckCRDs(Requirements, crds); len(problems) > 0 {
		return &ProblemsError{Problems: problems}
	}
	return nil
}

// ReadCRDs GETs every CRD reqs name. One that does not exist is left out of
// the map, which CheckCRDs reads as "not installed".
func ReadCRDs(ctx context.Context, client apiextensionsclient.Interface, reqs []Requirement) (map[string]*apiextensionsv1.CustomResourceDefinition, error) {
	out := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, r := range reqs {
		if _, done := out[r.CRD]; done {
			continue
		}
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, r.CRD, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read CRD %s: %w", r.CRD, err)
		}
		out[r.CRD] = crd
	}
	return out, nil
}

// CheckSchedulerName returns a *ConflictError when a live Lease of another
// scheduler serves one of self's scheduler names (see Conflicts).
func CheckSchedulerName(ctx context.Context, client kubernetes.Interface, self Self, now time.Time) error {
	leases, err := ReadLeases(ctx, client, self.SchedulerNames)
	if err != nil {
		return fmt.Errorf("check that no other scheduler serves %q: %w", self.SchedulerNames, err)
	}
	if c := Conflicts(self, leases, now); len(c) > 0 {
		return &ConflictError{Self: self, Conflicts: c}
	}
	return nil
}

// ReadLeases lists the Leases named after any of names, in all namespaces:
// another scheduler's lock may live in any of them.
func ReadLeases(ctx context.Context, client kubernetes.Interface, names []string) ([]coordinationv1.Lease, error) {
	var out []coordinationv1.Lease
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		list, err := client.CoordinationV1().Leases(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
		})
		if err != nil {
			return nil, fmt.Errorf("list Leases named %s: %w", name, err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}
