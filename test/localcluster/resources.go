package localcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	volcanoclient "volcano.sh/apis/pkg/client/clientset/versioned"
)

const modulePath = "github.com/tandem-serving/tandem"

func isTandemModule(gomod []byte) bool {
	first, _, _ := bytes.Cut(gomod, []byte("\n"))
	return strings.TrimSpace(string(first)) == "module "+modulePath
}

// volcanoCRDs are the Volcano CRDs the scheduler watches, read from the
// volcano module that go.mod pins.
var volcanoCRDs = []string{
	"scheduling.volcano.sh_podgroups.yaml",
	"scheduling.volcano.sh_queues.yaml",
	"topology.volcano.sh_hypernodes.yaml",
	"nodeinfo.volcano.sh_numatopologies.yaml",
}

// crdFiles lists Volcano's CRDs and Tandem's own (deploy/crd, when present).
func (c *Cluster) crdFiles() ([]string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "volcano.sh/volcano")
	cmd.Dir = c.opts.RepoRoot
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("locate the volcano module (go list -m volcano.sh/volcano): %w", err)
	}
	base := filepath.Join(strings.TrimSpace(string(out)), "installer", "helm", "chart", "volcano", "crd", "bases")
	var files []string
	for _, f := range volcanoCRDs {
		files = append(files, filepath.Join(base, f))
	}
	own, err := filepath.Glob(filepath.Join(c.opts.RepoRoot, "deploy", "crd", "*.yaml"))
	return append(files, own...), err
}

func (c *Cluster) installCRDs(ctx context.Context) error {
	files, err := c.crdFiles()
	if err != nil {
		return err
	}
	client, err := apiextensionsclient.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		crds, err := readCRDs(f)
		if err != nil {
			return err
		}
		for _, crd := range crds {
			if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("create CRD %s: %w", crd.Name, err)
			}
			names = append(names, crd.Name)
		}
	}
	return c.poll(ctx, 30*time.Second, func() error {
		for _, name := range names {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !crdEstablished(crd) {
				return fmt.Errorf("CRD %s not established", name)
			}
		}
		return nil
	})
}

func readCRDs(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var out []*apiextensionsv1.CustomResourceDefinition
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := dec.Decode(crd); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if crd.Name != "" {
			out = append(out, crd)
		}
	}
}

func crdEstablished(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// openQueues creates Volcano's root and default queues and marks them Open.
// Volcano's controller would do the latter; it does not run here, and the
// scheduler allocates nothing in a queue that is not Open.
func (c *Cluster) openQueues(ctx context.Context) error {
	if err := c.OpenQueue(ctx, "root", 1, false); err != nil {
		return err
	}
	return c.OpenQueue(ctx, "default", 1, true)
}

// OpenQueue creates a Volcano queue and marks it Open.
func (c *Cluster) OpenQueue(ctx context.Context, name string, weight int32, reclaimable bool) error {
	vc, err := volcanoclient.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	queue := &schedulingv1beta1.Queue{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       schedulingv1beta1.QueueSpec{Weight: weight, Reclaimable: &reclaimable},
	}
	created, err := vc.SchedulingV1beta1().Queues().Create(ctx, queue, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create queue %s: %w", name, err)
	}
	created.Status.State = schedulingv1beta1.QueueStateOpen
	if _, err := vc.SchedulingV1beta1().Queues().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("open queue %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) createFleet(ctx context.Context) error {
	kube, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	for _, node := range c.opts.Fleet.Nodes() {
		if _, err := kube.CoreV1().Nodes().Create(ctx, &node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", node.Name, err)
		}
	}
	vc, err := volcanoclient.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	for _, hn := range c.opts.Fleet.HyperNodes() {
		if _, err := vc.TopologyV1alpha1().HyperNodes().Create(ctx, &hn, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create HyperNode %s: %w", hn.Name, err)
		}
	}
	return nil
}

func (c *Cluster) waitNodesReady(ctx context.Context) error {
	kube, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	want := len(c.opts.Fleet.Nodes())
	return c.poll(ctx, 30*time.Second, func() error {
		nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeReady(&n) {
				ready++
			}
		}
		if ready < want {
			return fmt.Errorf("%d of %d nodes Ready", ready, want)
		}
		return nil
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// healthClient checks health endpoints on loopback. Components that serve
// them over TLS use certificates they generated themselves; only their
// health is read through it.
var healthClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback health checks only
}

func httpOK(url string) error {
	resp, err := healthClient.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}
