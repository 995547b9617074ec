// Package localcluster runs a real Kubernetes control plane on loopback for
// the demo and for integration and end-to-end tests: etcd, kube-apiserver,
// kwok playing fake accelerator nodes, Volcano's and Tandem's CRDs, the
// Volcano queues opened, and tandem-scheduler. Every binary is built from a
// pinned module into bin/ (make tools build); nothing is downloaded here.
//
// Everything runs under one state folder the cluster owns: logs, PID files,
// certificates and the kubeconfig. A run that was not stopped cleanly is
// stopped by the next Start on the same folder, or by StopStale.
package localcluster

import (
	"context"
	"embed"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

//go:embed kwok-stages.yaml
var stagesFS embed.FS

// Options say what to start and where.
type Options struct {
	// StateDir is owned by the cluster: emptied at start.
	StateDir string
	// RepoRoot is the Tandem checkout: bin/, deploy/ and go.mod are read
	// from it. Found from the working directory when empty.
	RepoRoot string
	Fleet    Fleet
	// ControlPlaneOnly starts etcd and kube-apiserver with the CRDs and
	// queues, but no nodes, kwok or scheduler: pods stay unbound unless a
	// test binds them. For controller integration tests.
	ControlPlaneOnly bool
	// PodCIDR is the range kwok gives pod addresses from. Inside
	// 127.0.0.0/8 the addresses answer on loopback.
	PodCIDR string
	// Scheduler starts tandem-scheduler with SchedulerName and the config
	// at SchedulerConfig (default deploy/scheduler/tandem-scheduler.conf).
	Scheduler       bool
	SchedulerName   string
	SchedulerConfig string
	// Controller starts tandem-controller (bin/tandem-controller) with
	// pods scheduled by SchedulerName.
	Controller bool
	// SchedulerArgs and ControllerArgs are extra flags for tandem-scheduler
	// and tandem-controller, given after the ones set here so they win
	// (e.g. --v=2, --workers=8).
	SchedulerArgs  []string
	ControllerArgs []string
	// Router starts tandem-router (bin/tandem-router) with Kubernetes
	// discovery of RouterNamespace (default "default"); its URL is in
	// Cluster.RouterURL. With Controller too, the controller's autoscaler
	// scrapes this router's /metrics: the router runs as a local process,
	// not a pod, so the autoscaler's pod selector would not find it.
	Router          bool
	RouterNamespace string
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// Cluster is a running local control plane.
type Cluster struct {
	opts       Options
	procs      []*process
	restConfig *rest.Config
	etcdURL    string
	// ControllerMetrics is the URL of tandem-controller's /metrics, when
	// it runs.
	ControllerMetrics string
	// RouterURL is tandem-router's base URL (OpenAI API under /v1), when
	// it runs.
	RouterURL string
	// Kubeconfig is the path of an admin kubeconfig for this cluster.
	Kubeconfig string
	// Server is the API server's URL.
	Server string
}

const (
	adminToken = "tandem-local-admin"
	stopGrace  = 10 * time.Second
)

// Start brings the cluster up and returns when the nodes are Ready (and the
// scheduler is running, if asked). On error everything started is stopped.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := opts.Fleet.Validate(); err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if _, err := StopStale(opts.StateDir, stopGrace); err != nil {
		return nil, fmt.Errorf("stop earlier run: %w", err)
	}
	if err := os.RemoveAll(opts.StateDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.StateDir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{opts: opts}
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (o *Options) defaults() error {
	if o.RepoRoot == "" {
		root, err := FindRepoRoot()
		if err != nil {
			return err
		}
		o.RepoRoot = root
	}
	if o.Fleet.Racks == 0 {
		o.Fleet = DefaultFleet()
	}
	if o.PodCIDR == "" {
		o.PodCIDR = "127.1.0.0/16"
	}
	if o.SchedulerName == "" {
		o.SchedulerName = "volcano"
	}
	if o.RouterNamespace == "" {
		o.RouterNamespace = "default"
	}
	if o.SchedulerConfig == "" {
		o.SchedulerConfig = filepath.Join(o.RepoRoot, "deploy", "scheduler", "tandem-scheduler.conf")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	abs, err := filepath.Abs(o.StateDir)
	o.StateDir = abs
	return err
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.opts.RepoRoot, "bin", name) }

// step is one stage of bring-up, named in progress lines and errors.
type step struct {
	name string
	run  func(context.Context) error
}

func (c *Cluster) start(ctx context.Context) error {
	steps := []step{
		{"etcd", c.startEtcd},
		{"kube-apiserver", c.startAPIServer},
		{"CRDs", c.installCRDs},
		{"queues", c.openQueues},
		{"kube-controller-manager", c.startControllerManager},
	}
	if !c.opts.ControlPlaneOnly {
		steps = append(steps, step{"fake nodes", c.createFleet}, step{"kwok", c.startKwok})
		if c.opts.Scheduler {
			steps = append(steps, step{"tandem-scheduler", c.startScheduler})
		}
	}
	// The router before the controller: the autoscaler is given the
	// router's address, and its first scrape finds the router up.
	if c.opts.Router {
		steps = append(steps, step{"tandem-router", c.startRouter})
	}
	if c.opts.Controller {
		steps = append(steps, step{"tandem-controller", c.startController})
	}
	for _, s := range steps {
		began := time.Now()
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w (logs in %s)", s.name, err, filepath.Join(c.opts.StateDir, "logs"))
		}
		c.opts.Logf("%-23s ready in %s", s.name, time.Since(began).Round(10*time.Millisecond))
	}
	return nil
}

// run starts a child and remembers it for Stop.
func (c *Cluster) run(name string, args ...string) error {
	p, err := startProcess(c.opts.StateDir, len(c.procs), name, c.bin(name), args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return nil
}

// Stop stops every child in reverse order of start. Safe to call twice.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(stopGrace)
	}
	c.procs = nil
}

// Restart stops a running component (e.g. "tandem-controller") and starts
// it again with the same arguments, as a crash and a restart by its
// supervisor would.
func (c *Cluster) Restart(name string) error {
	for i, p := range c.procs {
		if p.name != name {
			continue
		}
		p.stop(stopGrace)
		np, err := startProcess(c.opts.StateDir, p.order, p.name, p.bin, p.args...)
		if err != nil {
			return err
		}
		c.procs[i] = np
		return nil
	}
	return fmt.Errorf("no running component %q", name)
}

// Failed reports the first child that has exited while the cluster runs.
func (c *Cluster) Failed() error {
	for _, p := range c.procs {
		if done, err := p.exited(); done {
			if err == nil {
				return fmt.Errorf("%s exited", p.name)
			}
			return fmt.Errorf("%s exited: %w", p.name, err)
		}
	}
	return nil
}

// RESTConfig returns a copy of the admin client configuration.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// StateDir is the folder holding logs, PID files and the kubeconfig.
func (c *Cluster) StateDir() string { return c.opts.StateDir }

// Options returns the options the cluster runs with, defaults filled in.
func (c *Cluster) Options() Options { return c.opts }

func (c *Cluster) startEtcd(ctx context.Context) error {
	clientURL := "http://127.0.0.1:" + strconv.Itoa(freePort())
	peerURL := "http://127.0.0.1:" + strconv.Itoa(freePort())
	err := c.run("etcd",
		"--name=local",
		"--data-dir="+filepath.Join(c.opts.StateDir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=local="+peerURL,
		"--unsafe-no-fsync", "--log-level=warn",
	)
	if err != nil {
		return err
	}
	c.etcdURL = clientURL
	return c.poll(ctx, 30*time.Second, func() error { return httpOK(clientURL + "/health") })
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	certs, err := writePKI(c.opts.StateDir)
	if err != nil {
		return err
	}
	tokens := filepath.Join(c.opts.StateDir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(adminToken+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return err
	}
	port := freePort()
	err = c.run("kube-apiserver",
		"--etcd-servers="+c.etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(c.opts.StateDir, "apiserver"),
		"--tls-cert-file="+certs.CertFile, "--tls-private-key-file="+certs.KeyFile,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+certs.SAPublic,
		"--service-account-signing-key-file="+certs.SAPrivate,
		"--token-auth-file="+tokens,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		// No kube-controller-manager runs here: nothing would create
		// service accounts or lift the not-ready taint from new nodes.
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
	)
	if err != nil {
		return err
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(port)
	c.restConfig = &rest.Config{
		Host:            c.Server,
		BearerToken:     adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAFile: certs.CertFile},
		QPS:             200,
		Burst:           400,
	}
	if err := c.writeKubeconfig(certs.CertFile); err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	return c.poll(ctx, 60*time.Second, func() error {
		_, err := kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (c *Cluster) writeKubeconfig(caFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["tandem-local"] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: caFile}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: adminToken}
	cfg.Contexts["tandem-local"] = &clientcmdapi.Context{Cluster: "tandem-local", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "tandem-local"
	c.Kubeconfig = filepath.Join(c.opts.StateDir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig)
}

// startControllerManager runs the garbage collector, the namespace
// controller and pod garbage collection: deleting a ServingGroup (or a
// namespace) removes what it owns, and pods of a deleted node go, as on a
// real cluster. Node lifecycle and the rest are left out; kwok plays the
// kubelets.
func (c *Cluster) startControllerManager(ctx context.Context) error {
	port := freePort()
	err := c.run("kube-controller-manager",
		"--kubeconfig="+c.Kubeconfig,
		"--authentication-kubeconfig="+c.Kubeconfig,
		"--authorization-kubeconfig="+c.Kubeconfig,
		"--controllers=garbagecollector,namespace,podgc",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
	)
	if err != nil {
		return err
	}
	return c.poll(ctx, 30*time.Second, func() error { return httpOK("https://127.0.0.1:" + strconv.Itoa(port) + "/healthz") })
}

func (c *Cluster) startKwok(ctx context.Context) error {
	stages, err := stagesFS.ReadFile("kwok-stages.yaml")
	if err != nil {
		return err
	}
	stagesFile := filepath.Join(c.opts.StateDir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesFile, stages, 0o644); err != nil {
		return err
	}
	err = c.run("kwok",
		"--kubeconfig="+c.Kubeconfig,
		"--config="+stagesFile,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"=fake",
		"--cidr="+c.opts.PodCIDR,
		"--node-ip=127.0.0.1",
		"--server-address=127.0.0.1:"+strconv.Itoa(freePort()),
	)
	if err != nil {
		return err
	}
	return c.waitNodesReady(ctx)
}

func (c *Cluster) startScheduler(ctx context.Context) error {
	if _, err := os.Stat(c.opts.SchedulerConfig); err != nil {
		return fmt.Errorf("scheduler config: %w", err)
	}
	healthz := "127.0.0.1:" + strconv.Itoa(freePort())
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--scheduler-conf=" + c.opts.SchedulerConfig,
		"--scheduler-name=" + c.opts.SchedulerName,
		"--leader-elect=false",
		"--cache-dumper=false",
		"--enable-healthz=true",
		"--healthz-address=" + healthz,
		"--schedule-period=500ms",
		"--v=3",
	}
	err := c.run("tandem-scheduler", append(args, c.opts.SchedulerArgs...)...)
	if err != nil {
		return err
	}
	return c.poll(ctx, 30*time.Second, func() error { return httpOK("http://" + healthz + "/healthz") })
}

func (c *Cluster) startController(ctx context.Context) error {
	metrics := "127.0.0.1:" + strconv.Itoa(freePort())
	probes := "127.0.0.1:" + strconv.Itoa(freePort())
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--scheduler-name=" + c.opts.SchedulerName,
		"--leader-elect=false",
		"--metrics-bind-address=" + metrics,
		"--health-probe-bind-address=" + probes,
	}
	if c.RouterURL != "" {
		args = append(args, "--autoscale-router-urls="+c.RouterURL+"/metrics")
	}
	err := c.run("tandem-controller", append(args, c.opts.ControllerArgs...)...)
	if err != nil {
		return err
	}
	c.ControllerMetrics = "http://" + metrics + "/metrics"
	return c.poll(ctx, 30*time.Second, func() error { return httpOK("http://" + probes + "/readyz") })
}

func (c *Cluster) startRouter(ctx context.Context) error {
	listen := "127.0.0.1:" + strconv.Itoa(freePort())
	err := c.run("tandem-router",
		"--kubernetes",
		"--kubeconfig="+c.Kubeconfig,
		// Not in a pod: name the namespace the groups live in.
		"--namespace="+c.opts.RouterNamespace,
		"--listen="+listen,
		// /metrics beside the API: several local clusters (tests) run at
		// once, so no fixed metrics port.
		"--metrics-address=api",
	)
	if err != nil {
		return err
	}
	c.RouterURL = "http://" + listen
	return c.poll(ctx, 30*time.Second, func() error { return httpOK(c.RouterURL + "/health") })
}

// PID returns the process ID of a running component (e.g.
// "tandem-controller"), or 0.
func (c *Cluster) PID(name string) int {
	for _, p := range c.procs {
		if p.name == name {
			return p.cmd.Process.Pid
		}
	}
	return 0
}

// poll calls check every 100ms until it succeeds, a child dies, or timeout
// passes.
func (c *Cluster) poll(ctx context.Context, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if failed := c.Failed(); failed != nil {
			return failed
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free loopback port.
func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// FindRepoRoot walks up from the working directory to the folder holding
// Tandem's go.mod.
func FindRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isTandemModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the Tandem repository (no go.mod of %s above the working directory)", modulePath)
		}
		dir = parent
	}
}
