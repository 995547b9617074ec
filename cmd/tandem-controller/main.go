// Command tandem-controller runs the ServingGroup controller: it turns each
// ServingGroup into gang-scheduled units (Volcano PodGroups, pods and a
// headless Service per unit), recovers, rolls out and scales them.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	schedv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"

	"github.com/tandem-serving/tandem/api/v1alpha1"
	"github.com/tandem-serving/tandem/controller"
	"github.com/tandem-serving/tandem/controller/plan"
	"github.com/tandem-serving/tandem/plugins/volcanocompat"
)

func main() {
	var (
		metricsAddr, probeAddr, leaderNamespace string
		leaderElect                             bool
		workers                                 int
		cfg                                     plan.Config
		volcanoCheck                            = volcanocompat.ModeFail
		as                                      autoscaleFlags
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.BoolVar(&leaderElect, "leader-elect", true, "elect a leader so only one replica reconciles")
	flag.StringVar(&leaderNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the pod's namespace)")
	flag.IntVar(&workers, "workers", 4, "ServingGroups reconciled in parallel")
	flag.StringVar(&cfg.SchedulerName, "scheduler-name", plan.DefaultSchedulerName, "spec.schedulerName of engine pods: the Volcano scheduler (tandem-scheduler) that places them")
	flag.StringVar(&cfg.AcceleratorTypeLabel, "accelerator-type-label", plan.DefaultAcceleratorTypeLabel, "node label whose values a role's accelerator.types match")
	flag.StringVar(&cfg.ClusterDomain, "cluster-domain", "", "cluster DNS domain for fully qualified leader addresses (e.g. cluster.local); empty keeps them relative")
	flag.Var(&volcanoCheck, volcanocompat.FlagName, volcanocompat.FlagUsage)
	as.register()
	klog.InitFlags(nil)
	flag.Parse()
	ctrl.SetLogger(klog.NewKlogr())
	if err := as.check(); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-controller:", err)
		os.Exit(2)
	}

	if err := run(metricsAddr, probeAddr, leaderNamespace, leaderElect, workers, cfg, volcanoCheck, as); err != nil {
		fmt.Fprintln(os.Stderr, "tandem-controller:", err)
		os.Exit(1)
	}
}

func run(metricsAddr, probeAddr, leaderNamespace string, leaderElect bool, workers int, cfg plan.Config, volcanoCheck volcanocompat.Mode, as autoscaleFlags) error {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, schedv1beta1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	restConfig, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	if err := checkVolcano(restConfig, volcanoCheck); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  probeAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "tandem-controller.serving.tandem.dev",
		LeaderElectionNamespace: leaderNamespace,
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	r := &controller.Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor("tandem-controller"),
		Plan:     cfg,
	}
	if err := r.SetupWithManager(mgr, workers); err != nil {
		return err
	}
	if err := as.setup(mgr); err != nil {
		return err
	}
	controller.RegisterMetrics(mgr.GetCache())
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

// checkVolcano refuses to start, before the manager writes any PodGroup,
// when the installed Volcano CRDs would drop fields the planner writes
// (see plugins/volcanocompat).
func checkVolcano(restConfig *rest.Config, mode volcanocompat.Mode) error {
	client, err := apiextensionsclient.NewForConfig(restConfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return volcanocompat.CheckVolcano(ctx, client, mode, klog.Background())
}
