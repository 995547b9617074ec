package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubectl runs bin/kubectl against the test cluster.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := cluster.Options().RepoRoot
	cmd := exec.Command(filepath.Join(root, "bin", "kubectl"), append([]string{"--kubeconfig", cluster.Kubeconfig}, args...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestKubectlWaitForAvailable is what an operator's script does after
// applying a ServingGroup.
func TestKubectlWaitForAvailable(t *testing.T) {
	if out, err := kubectl(t, "create", "namespace", "wait"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	defer func() { _, _ = kubectl(t, "delete", "namespace", "wait", "--wait=false") }()
	if out, err := kubectl(t, "-n", "wait", "apply", "-f", "deploy/samples/aggregated.yaml"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out, err := kubectl(t, "-n", "wait", "wait", "--for=condition=Available", "sg/llama-aggregated", "--timeout=90s")
	if err != nil {
		t.Fatalf("kubectl wait: %v: %s", err, out)
	}
	if !strings.Contains(out, "condition met") {
		t.Errorf("kubectl wait printed %q", out)
	}
	out, err = kubectl(t, "-n", "wait", "get", "sg")
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"REPLICAS", "READY", "UPDATED", "AVAILABLE"} {
		if !strings.Contains(out, col) {
			t.Errorf("kubectl get sg lacks column %s:\n%s", col, out)
		}
	}
	t.Logf("\n%s", out)
}

// TestDeployManifestsDryRun sends the whole install set (controller,
// router, scheduler) and the samples to the API server in server-side
// dry-run: every object must be accepted as it is.
// A dry-run namespace does not exist for the objects inside it, so the
// namespace is created for real first.
func TestDeployManifestsDryRun(t *testing.T) {
	if out, err := kubectl(t, "create", "namespace", "tandem-system"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, dir := range []string{"deploy", "deploy/samples"} {
		out, err := kubectl(t, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", dir)
		if err != nil {
			t.Fatalf("%s: %v:\n%s", dir, err, out)
		}
		t.Logf("%s:\n%s", dir, out)
	}
}

// TestDeployWithImageOverrides is how an operator installs their own build:
// an overlay over deploy/ whose images: block retargets every image
// (what `kustomize edit set image` writes). The server accepts the whole
// set in dry-run and every Deployment runs the overridden image.
func TestDeployWithImageOverrides(t *testing.T) {
	if out, err := kubectl(t, "create", "namespace", "tandem-system"); err != nil && !strings.Contains(out, "AlreadyExists") {
		t.Fatalf("%v: %s", err, out)
	}
	overlay := t.TempDir()
	deploy, err := filepath.Rel(overlay, filepath.Join(cluster.Options().RepoRoot, "deploy"))
	if err != nil {
		t.Fatal(err)
	}
	images := []string{"tandem-controller", "tandem-router", "tandem-scheduler"}
	k := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- %s\nimages:\n", deploy)
	for _, name := range images {
		k += fmt.Sprintf("- name: ghcr.io/tandem-serving/%s\n  newName: registry.example/team/%s\n  newTag: v9.9.9\n", name, name)
	}
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl(t, "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", overlay, "-o", "yaml")
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	for _, name := range images {
		if want := "image: registry.example/team/" + name + ":v9.9.9"; !strings.Contains(out, want) {
			t.Errorf("dry-run output lacks %q", want)
		}
	}
	if strings.Contains(out, "image: ghcr.io/tandem-serving/") {
		t.Errorf("dry-run output still names a ghcr.io/tandem-serving image")
	}
}
