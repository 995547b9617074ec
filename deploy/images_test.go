package deploy

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/kustomize/v5/commands/edit"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// installFS copies deploy/ (without the Go files) to the root of an
// in-memory file system, where kustomize can build and edit it.
func installFS(t *testing.T) filesys.FileSystem {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return fs.WriteFile(filepath.Join("/", p), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// installDeployments renders the install set (the top kustomization) and
// returns its Deployments by name.
func installDeployments(t *testing.T, fs filesys.FileSystem) map[string]*appsv1.Deployment {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.Deployment{}
	for _, r := range rm.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		d := &appsv1.Deployment{}
		if err := yaml.UnmarshalStrict(b, d); err != nil {
			t.Fatalf("%s: %v", r.GetName(), err)
		}
		out[d.Name] = d
	}
	return out
}

func deploymentImages(ds map[string]*appsv1.Deployment) map[string]string {
	out := map[string]string{}
	for name, d := range ds {
		for _, c := range d.Spec.Template.Spec.Containers {
			out[name+"/"+c.Name] = c.Image
		}
	}
	return out
}

// makefileImages reads the Makefile's REGISTRY default and IMAGES, the one
// place image names come from.
func makefileImages(t *testing.T) (registry, version string, images []string) {
	t.Helper()
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	r := regexp.MustCompile(`(?m)^REGISTRY \?= (\S+)$`).FindSubmatch(b)
	v := regexp.MustCompile(`(?m)^VERSION \?= (\S+)$`).FindSubmatch(b)
	i := regexp.MustCompile(`(?m)^IMAGES := (.+)$`).FindSubmatch(b)
	if r == nil || v == nil || i == nil {
		t.Fatal("Makefile: no `REGISTRY ?=`, `VERSION ?=` or `IMAGES :=` line")
	}
	return string(r[1]), string(v[1]), strings.Fields(string(i[1]))
}

// TestImagesFollowTheMakefile: every image the install set runs is one the
// Makefile builds, under its REGISTRY, and the kustomization's images:
// block names each of them, so `kustomize edit set image` finds them.
func TestImagesFollowTheMakefile(t *testing.T) {
	registry, version, images := makefileImages(t)
	var deployed []string
	for container, image := range deploymentImages(installDeployments(t, installFS(t))) {
		name, tag, ok := strings.Cut(image, ":")
		if !ok || !strings.HasPrefix(name, registry+"/") || !slices.Contains(images, strings.TrimPrefix(name, registry+"/")) || tag != version {
			t.Errorf("%s runs %s, not REGISTRY/<one of IMAGES>:VERSION (REGISTRY %s, VERSION %s, IMAGES %v)", container, image, registry, version, images)
		}
		deployed = append(deployed, name)
	}
	b, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Images []struct{ Name string } `json:"images"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, i := range k.Images {
		listed = append(listed, i.Name)
	}
	sort.Strings(deployed)
	sort.Strings(listed)
	if d := cmp.Diff(deployed, listed); d != "" {
		t.Errorf("kustomization.yaml images: (-deployed +listed):\n%s", d)
	}
}

// TestSetImageRetargets runs `kustomize edit set image` on a copy of
// deploy/ and renders it: only the named image moves.
func TestSetImageRetargets(t *testing.T) {
	fs := installFS(t)
	before := deploymentImages(installDeployments(t, fs))
	p := provider.NewDefaultDepProvider()
	cmd := edit.NewCmdEdit(fs, p.GetFieldValidator(), p.GetResourceFactory(), io.Discard)
	cmd.SetArgs([]string{"set", "image", "ghcr.io/tandem-serving/tandem-router=my.registry/tandem-router:v1"})
	cmd.SilenceUsage = true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range before {
		want[k] = v
	}
	want["tandem-router/router"] = "my.registry/tandem-router:v1"
	if d := cmp.Diff(want, deploymentImages(installDeployments(t, fs))); d != "" {
		t.Errorf("images after set image (-want +got):\n%s", d)
	}
}

// TestDeploymentsRunAsNonRoot: the images' user (65532), no privilege
// escalation, no capabilities, a read-only root file system.
func TestDeploymentsRunAsNonRoot(t *testing.T) {
	ds := installDeployments(t, installFS(t))
	if len(ds) != 3 {
		t.Errorf("%d Deployments, want controller, router and scheduler", len(ds))
	}
	for name, d := range ds {
		pod := d.Spec.Template.Spec.SecurityContext
		if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot || pod.RunAsUser == nil || *pod.RunAsUser != 65532 {
			t.Errorf("%s: pod securityContext %+v, want runAsNonRoot and runAsUser 65532", name, pod)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s/%s: no securityContext", name, c.Name)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s/%s: allowPrivilegeEscalation is not false", name, c.Name)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("%s/%s: root file system is not read-only", name, c.Name)
			case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL"):
				t.Errorf("%s/%s: capabilities do not drop ALL", name, c.Name)
			}
		}
	}
}
