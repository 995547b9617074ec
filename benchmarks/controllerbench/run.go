package controllerbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/test/localcluster"
)

// Config says what to run.
type Config struct {
	// Groups is the number of ServingGroups per run.
	Groups int
	// Racks, NodesPerRack and GPUsPerNode shape the fleet; zero values are
	// sized from the pods (FleetFor).
	Racks, NodesPerRack, GPUsPerNode int
	// Seed orders the shapes.
	Seed uint64
	// Timeout bounds one run, counted from the first create.
	Timeout time.Duration
	// Runs is the number of repetitions, each on a fresh cluster.
	Runs int
	// StateDir holds one folder per run (logs, kubeconfig). Emptied runs
	// are removed unless Keep is set or the run failed.
	StateDir string
	Keep     bool
	// RepoRoot is the Tandem checkout (bin/, deploy/); found from the
	// working directory when empty.
	RepoRoot string
	// ControllerArgs and SchedulerArgs are extra flags for
	// tandem-controller and tandem-scheduler (e.g. --workers=8, --v=2),
	// for finding out what limits a run.
	ControllerArgs, SchedulerArgs []string
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// Namespace holds the benchmark's groups.
const Namespace = "tandem-bench"

// createWorkers create the groups in parallel, as a deploy tool applying
// a large manifest would.
const createWorkers = 8

// Components whose CPU time the benchmark reports, as localcluster names
// its children; "tandem-bench" is this process (its watches and creates).
// Components the cluster does not run (kube-controller-manager in older
// layouts) are left out.
var components = []string{"tandem-controller", "tandem-scheduler", "kube-apiserver", "etcd", "kwok", "kube-controller-manager", "tandem-bench"}

// Result holds the figures of one run.
type Result struct {
	Groups, Units, Pods int
	Fleet               localcluster.Fleet
	ClusterStart        time.Duration
	// Created is when the last group create returned.
	Created time.Duration
	// Reached holds, per stage, when each object first reached it.
	Reached [numStages][]time.Duration
	// Totals per stage: pods for pod stages, groups for group stages.
	Totals [numStages]int
	// Complete is true when every pod ran and every group was Available
	// and fully ready before the timeout.
	Complete  bool
	Recreated int
	// Reconcile and QueueWait are the observations during the run.
	Reconcile, QueueWait Histogram
	// ReconcileResults counts reconciles by result (success, error,
	// requeue, requeue_after).
	ReconcileResults map[string]float64
	ActionErrors     float64
	// APIRequests counts the controller's requests to the API server.
	APIRequests float64
	// Done is when the last stage was reached (or the run gave up).
	Done       time.Duration
	Controller Memory
	Scheduler  Memory
	// CPU is the CPU time each component used from the first create until
	// the last group was done.
	CPU map[string]time.Duration
	// StateDir is the run's folder when kept.
	StateDir string
}

// Run repeats the benchmark cfg.Runs times, each on a fresh cluster.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	var results []Result
	for i := 1; i <= cfg.Runs; i++ {
		r, err := runOnce(ctx, cfg, i)
		if err != nil {
			return results, fmt.Errorf("run %d: %w", i, err)
		}
		results = append(results, r)
	}
	return results, nil
}

func runOnce(ctx context.Context, cfg Config, run int) (res Result, err error) {
	shapes := Assign(cfg.Groups, cfg.Seed)
	res.Groups, res.Units, res.Pods = cfg.Groups, TotalUnits(shapes), TotalPods(shapes)
	res.Fleet = FleetFor(res.Pods, cfg.Racks, cfg.NodesPerRack, cfg.GPUsPerNode)
	for s := range res.Totals {
		res.Totals[s] = res.Pods
		if Stage(s) >= GroupUnitsReady {
			res.Totals[s] = res.Groups
		}
	}
	stateDir := filepath.Join(cfg.StateDir, fmt.Sprintf("run-%d", run))
	cfg.Logf("run %d: starting the local cluster (%d nodes) in %s", run, res.Fleet.Racks*res.Fleet.NodesPerRack, stateDir)
	began := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{
		StateDir:       stateDir,
		RepoRoot:       cfg.RepoRoot,
		Fleet:          res.Fleet,
		Scheduler:      true,
		Controller:     true,
		ControllerArgs: cfg.ControllerArgs,
		SchedulerArgs:  cfg.SchedulerArgs,
		Logf:           func(f string, a ...any) { cfg.Logf("  "+f, a...) },
	})
	if err != nil {
		return res, fmt.Errorf("start the local cluster: %w", err)
	}
	res.ClusterStart = time.Since(began)
	defer func() {
		cluster.Stop()
		if err == nil && res.Complete && !cfg.Keep {
			_ = os.RemoveAll(stateDir)
		} else {
			res.StateDir = stateDir
		}
	}()
	err = measure(ctx, cfg, cluster, shapes, &res)
	return res, err
}

// measure creates the groups on a running cluster and fills in res.
func measure(ctx context.Context, cfg Config, cluster *localcluster.Cluster, shapes []Shape, res *Result) error {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	restConfig := cluster.RESTConfig()
	c, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}); err != nil {
		return fmt.Errorf("create namespace: %w", err)
	}

	progress := NewProgress(time.Now()) // restarted at the first create
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := watch(watchCtx, restConfig, scheme, progress); err != nil {
		return err
	}

	pids := map[string]int{"tandem-bench": os.Getpid()}
	for _, name := range components[:len(components)-1] {
		pids[name] = cluster.PID(name)
	}
	before, err := scrape(ctx, cluster.ControllerMetrics)
	if err != nil {
		return err
	}
	cpuBefore := readCPUs(pids)

	cfg.Logf("creating %d ServingGroups (%d units, %d pods)", res.Groups, res.Units, res.Pods)
	progress.Start = time.Now()
	if err := createGroups(ctx, c, shapes); err != nil {
		return err
	}
	res.Created = time.Since(progress.Start)

	res.Complete = waitDone(ctx, cfg, cluster, progress, res)
	res.Done = time.Since(progress.Start)
	cpuAfter := readCPUs(pids)
	res.CPU = map[string]time.Duration{}
	for name, after := range cpuAfter {
		res.CPU[name] = after - cpuBefore[name]
	}
	for s := range res.Reached {
		res.Reached[s] = progress.Times(Stage(s))
	}
	res.Recreated = progress.Recreated()

	after, err := settle(ctx, cluster.ControllerMetrics)
	if err != nil {
		return err
	}
	res.Reconcile = HistogramOf(after, "controller_runtime_reconcile_time_seconds", nil).Sub(HistogramOf(before, "controller_runtime_reconcile_time_seconds", nil))
	res.QueueWait = HistogramOf(after, "workqueue_queue_duration_seconds", nil).Sub(HistogramOf(before, "workqueue_queue_duration_seconds", nil))
	res.ReconcileResults = SumBy(after, "controller_runtime_reconcile_total", "result")
	for k, v := range SumBy(before, "controller_runtime_reconcile_total", "result") {
		res.ReconcileResults[k] -= v
	}
	res.ActionErrors = Sum(after, "tandem_controller_actions_total", map[string]string{"reason": "Error"}) -
		Sum(before, "tandem_controller_actions_total", map[string]string{"reason": "Error"})
	res.APIRequests = Sum(after, "rest_client_requests_total", nil) - Sum(before, "rest_client_requests_total", nil)
	if res.Controller, err = readMemory(pids["tandem-controller"]); err != nil {
		return fmt.Errorf("controller memory: %w", err)
	}
	if res.Scheduler, err = readMemory(pids["tandem-scheduler"]); err != nil {
		return fmt.Errorf("scheduler memory: %w", err)
	}
	return nil
}

// watch starts informers on the benchmark's pods and groups that stamp
// each change into progress, and waits for them to sync.
func watch(ctx context.Context, restConfig *rest.Config, scheme *runtime.Scheme, progress *Progress) error {
	informers, err := cache.New(restConfig, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{Namespace: {}},
	})
	if err != nil {
		return err
	}
	handlers := map[client.Object]func(obj any){
		&corev1.Pod{}: func(obj any) {
			if pod, ok := obj.(*corev1.Pod); ok {
				progress.SeePod(pod, time.Now())
			}
		},
		&v1alpha1.ServingGroup{}: func(obj any) {
			if sg, ok := obj.(*v1alpha1.ServingGroup); ok {
				progress.SeeGroup(sg, time.Now())
			}
		},
	}
	for obj, see := range handlers {
		inf, err := informers.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    see,
			UpdateFunc: func(_, obj any) { see(obj) },
		}); err != nil {
			return err
		}
	}
	go func() { _ = informers.Start(ctx) }()
	if !informers.WaitForCacheSync(ctx) {
		return errors.New("benchmark watches did not sync")
	}
	return nil
}

// createGroups creates group i of shapes[i] for every i, a few at a time.
func createGroups(ctx context.Context, c client.Client, shapes []Shape) error {
	next := make(chan int)
	errs := make(chan error, createWorkers)
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.Create(ctx, ServingGroup(Namespace, i, shapes[i])); err != nil {
					errs <- fmt.Errorf("create %s: %w", GroupName(i), err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range shapes {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err != nil {
		return err
	}
	return <-errs
}

// waitDone waits until every pod is Running and every group is fully
// ready and Available, the timeout passes, or a component dies. It logs
// progress every few seconds and reports whether everything got there.
func waitDone(ctx context.Context, cfg Config, cluster *localcluster.Cluster, p *Progress, res *Result) bool {
	done := func() bool {
		for s := range numStages {
			if p.Count(s) < res.Totals[s] {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for !done() {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
		if err := cluster.Failed(); err != nil {
			cfg.Logf("giving up: %v", err)
			return false
		}
		if time.Since(p.Start) > cfg.Timeout {
			cfg.Logf("giving up after %s", cfg.Timeout)
			return false
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			cfg.Logf("  %5.1fs: pods created %d, bound %d, Running %d of %d; groups ready %d, Available %d of %d",
				time.Since(p.Start).Seconds(), p.Count(PodCreated), p.Count(PodBound), p.Count(PodRunning), res.Pods,
				p.Count(GroupUnitsReady), p.Count(GroupAvailable), res.Groups)
		}
	}
	return true
}

// settle waits (up to 15 s) until the controller's work queue is empty
// and no reconcile ran between two scrapes, and returns the last scrape:
// status writes that follow the last pod's start still count.
func settle(ctx context.Context, url string) ([]Sample, error) {
	var last []Sample
	deadline := time.Now().Add(15 * time.Second)
	for {
		cur, err := scrape(ctx, url)
		if err != nil {
			return nil, err
		}
		if last != nil && Sum(cur, "workqueue_depth", nil) == 0 &&
			Sum(cur, "controller_runtime_reconcile_total", nil) == Sum(last, "controller_runtime_reconcile_total", nil) {
			return cur, nil
		}
		if time.Now().After(deadline) {
			return cur, nil
		}
		last = cur
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func scrape(ctx context.Context, url string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape controller metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape controller metrics: %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape controller metrics: %w", err)
	}
	return ParseText(string(body))
}

// readCPUs reads the CPU time of each process; unreadable ones are left
// out.
func readCPUs(pids map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range pids {
		if pid == 0 {
			continue
		}
		if d, err := readCPU(pid); err == nil {
			out[name] = d
		}
	}
	return out
}
