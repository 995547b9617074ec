package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/tandem-serving/tandem/test/localcluster"
)

// TestVolcanoCompatSchedulerNameTaken: a live Lease named after a scheduler
// name, held by another identity, stops a tandem-scheduler that would serve
// that name outside the Lease's lock, and lets one that shares the lock
// wait for it as a standby. The name is this test's own, so the suite's
// scheduler ("volcano") is untouched.
func TestVolcanoCompatSchedulerNameTaken(t *testing.T) {
	const name, namespace, holder = "tandem-compat-e2e", "default", "other-scheduler_5f2a"
	kube, err := kubernetes.NewForConfig(cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	renewed, holderID := metav1.NewMicroTime(time.Now()), holder
	duration := int32(120) // outlives the test: only the test's own deletion ends it
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: &holderID, LeaseDurationSeconds: &duration,
			AcquireTime: &renewed, RenewTime: &renewed,
		},
	}
	if _, err := kube.CoordinationV1().Leases(namespace).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoordinationV1().Leases(namespace).Delete(ctx, name, metav1.DeleteOptions{}) })

	args := []string{
		"--kubeconfig=" + cluster.Kubeconfig,
		"--scheduler-conf=" + cluster.Options().SchedulerConfig,
		"--scheduler-name=" + name,
		"--cache-dumper=false",
	}

	t.Run("leader election off: refuses", func(t *testing.T) {
		p := startBinary(t, "tandem-scheduler", append(args, "--leader-elect=false")...)
		out, code := p.wait(t, 60*time.Second)
		if code == 0 {
			t.Fatalf("tandem-scheduler exited 0, want a refusal; output:\n%s", out)
		}
		t.Logf("exit %d:\n%s", code, out)
		for _, want := range []string{
			`another scheduler serves scheduler name "tandem-compat-e2e"`,
			`Lease default/tandem-compat-e2e is held by "other-scheduler_5f2a"`,
			"leader election is off, so both would schedule the same pods",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("another lock namespace: refuses", func(t *testing.T) {
		p := startBinary(t, "tandem-scheduler", append(args, "--leader-elect=true", "--leader-elect-resource-namespace=kube-system")...)
		out, code := p.wait(t, 60*time.Second)
		if code == 0 {
			t.Fatalf("tandem-scheduler exited 0, want a refusal; output:\n%s", out)
		}
		if want := "tandem-scheduler's own lock is kube-system/tandem-compat-e2e"; !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	})

	t.Run("same lock: waits for it", func(t *testing.T) {
		p := startBinary(t, "tandem-scheduler", append(args, "--leader-elect=true", "--leader-elect-resource-namespace="+namespace)...)
		want := "attempting to acquire leader lease " + namespace + "/" + name
		out := p.waitFor(t, want, 60*time.Second)
		if strings.Contains(out, "another scheduler serves") {
			t.Errorf("refused although it shares the lock:\n%s", out)
		}
		got, err := kube.CoordinationV1().Leases(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := *got.Spec.HolderIdentity; h != holder {
			t.Errorf("Lease holder is %q, want %q still: the standby took a live lock", h, holder)
		}
	})
}

// TestVolcanoCompatOldPodGroupCRD: a PodGroup CRD without
// spec.subGroupPolicy (what Volcano v1.13 installs) stops tandem-controller
// and tandem-scheduler with a message naming the field; --volcano-check=warn
// lets the controller start. The CRD is changed on a control plane of the
// test's own: on the suite's cluster the API server would drop
// subGroupPolicy from every PodGroup written while the field is gone.
func TestVolcanoCompatOldPodGroupCRD(t *testing.T) {
	own, err := localcluster.Start(context.Background(), localcluster.Options{
		StateDir:         filepath.Join(t.TempDir(), "cluster"),
		ControlPlaneOnly: true,
		Logf:             t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Stop)
	ext, err := apiextensionsclient.NewForConfig(own.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "podgroups.scheduling.volcano.sh", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	if _, ok := spec.Properties["subGroupPolicy"]; !ok {
		t.Fatal("the installed PodGroup CRD has no spec.subGroupPolicy to remove")
	}
	delete(spec.Properties, "subGroupPolicy")
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, crd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	const message = "Volcano's PodGroup CRD has no spec.subGroupPolicy (installed CRD podgroups.scheduling.volcano.sh, version v1beta1; " +
		"Volcano >= v1.14.0 has it): Tandem needs Volcano >= v1.14.0; upgrade Volcano or pass --volcano-check=warn"
	refusals := []struct {
		binary string
		args   []string
	}{
		{"tandem-controller", []string{"--leader-elect=false", "--metrics-bind-address=0", "--health-probe-bind-address=0"}},
		{"tandem-scheduler", []string{"--leader-elect=false", "--cache-dumper=false", "--scheduler-conf=" + own.Options().SchedulerConfig}},
	}
	for _, tc := range refusals {
		t.Run(tc.binary+" refuses", func(t *testing.T) {
			p := startBinary(t, tc.binary, append([]string{"--kubeconfig=" + own.Kubeconfig}, tc.args...)...)
			out, code := p.wait(t, 60*time.Second)
			if code == 0 {
				t.Fatalf("%s exited 0, want a refusal; output:\n%s", tc.binary, out)
			}
			t.Logf("exit %d:\n%s", code, out)
			if !strings.Contains(out, message) {
				t.Errorf("output lacks\n%s\n\ngot:\n%s", message, out)
			}
		})
	}

	t.Run("tandem-controller starts with --volcano-check=warn", func(t *testing.T) {
		probes := freeAddr(t)
		p := startBinary(t, "tandem-controller", "--kubeconfig="+own.Kubeconfig, "--leader-elect=false",
			"--metrics-bind-address=0", "--health-probe-bind-address="+probes, "--volcano-check=warn")
		poll(t, "tandem-controller ready", 60*time.Second, func() error {
			if out, code, done := p.exited(); done {
				t.Fatalf("exited %d:\n%s", code, out)
			}
			resp, err := http.Get("http://" + probes + "/readyz")
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("readyz: %s", resp.Status)
			}
			return nil
		})
		if out := p.output(); !strings.Contains(out, "spec.subGroupPolicy") || !strings.Contains(out, "--volcano-check=warn") {
			t.Errorf("no warning naming the field in the output:\n%s", out)
		}
	})
}

// binary is a Tandem binary run by a test, its output kept in memory.
type binary struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// startBinary runs bin/<name>; the test's cleanup kills it if it still runs.
func startBinary(t *testing.T, name string, args ...string) *binary {
	t.Helper()
	b := &binary{done: make(chan struct{})}
	b.cmd = exec.Command(filepath.Join(cluster.Options().RepoRoot, "bin", name), args...)
	b.cmd.Stdout, b.cmd.Stderr = b, b
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *binary) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *binary) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// exited reports the output and exit code once the process has ended.
func (b *binary) exited() (string, int, bool) {
	select {
	case <-b.done:
		return b.output(), b.cmd.ProcessState.ExitCode(), true
	default:
		return "", 0, false
	}
}

// wait waits for the process to exit and returns its output and exit code.
func (b *binary) wait(t *testing.T, timeout time.Duration) (string, int) {
	t.Helper()
	select {
	case <-b.done:
		return b.output(), b.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		t.Fatalf("still running after %s; output:\n%s", timeout, b.output())
		return "", 0
	}
}

// waitFor waits until the output holds line, failing if the process exits
// first.
func (b *binary) waitFor(t *testing.T, line string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if out := b.output(); strings.Contains(out, line) {
			return out
		}
		if out, code, done := b.exited(); done {
			t.Fatalf("exited %d before printing %q:\n%s", code, line, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %q after %s; output:\n%s", line, timeout, b.output())
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
