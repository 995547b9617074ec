// Command tandem-scheduler is Volcano's scheduler with Tandem's placement
// plugin linked in. Flags and the scheduler config file are Volcano's own,
// plus --volcano-check.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/types"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	cliflag "k8s.io/component-base/cli/flag"
	componentbaseoptions "k8s.io/component-base/config/options"
	"k8s.io/klog/v2"
	"volcano.sh/volcano/cmd/scheduler/app"
	"volcano.sh/volcano/cmd/scheduler/app/options"
	"volcano.sh/volcano/pkg/kube"
	_ "volcano.sh/volcano/pkg/scheduler/actions"
	_ "volcano.sh/volcano/pkg/scheduler/plugins"
	volcanoutil "volcano.sh/volcano/pkg/util"

	"github.com/tandem-serving/tandem/plugins/tandem"
	"github.com/tandem-serving/tandem/plugins/volcanocompat"
)

func main() {
	klog.InitFlags(nil)
	fs := pflag.CommandLine
	s := options.NewServerOption()
	s.AddFlags(fs)
	utilfeature.DefaultMutableFeatureGate.AddFlag(fs)
	volcanoutil.LeaderElectionDefault(&s.LeaderElection)
	s.LeaderElection.ResourceName = volcanoutil.GenerateComponentName(s.SchedulerNames)
	componentbaseoptions.BindLeaderElectionFlags(&s.LeaderElection, fs)
	volcanoCheck := volcanocompat.ModeFail
	fs.Var(&volcanoCheck, volcanocompat.FlagName, volcanocompat.FlagUsage)
	s.RegisterOptions()
	cliflag.InitFlags()
	// Volcano names the Lease before parsing flags, so its lock is
	// "volcano" whatever --scheduler-name says. Name it after the names
	// actually served, so that a Lease named N means "a scheduler of N is
	// alive" (the same lock as Volcano's for the name volcano).
	if !fs.Changed("leader-elect-resource-name") {
		s.LeaderElection.ResourceName = volcanoutil.GenerateComponentName(s.SchedulerNames)
	}

	if err := s.CheckOptionOrDie(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Volcano parses plugin arguments per session; check Tandem's once,
	// here, so a bad argument stops the scheduler with a clear message.
	if s.SchedulerConf != "" {
		if err := tandem.CheckConfigFile(s.SchedulerConf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if err := checkCluster(s, volcanoCheck); err != nil {
		klog.Flush()
		fmt.Fprintln(os.Stderr, "tandem-scheduler:", err)
		os.Exit(1)
	}
	// app.Run returns only when the scheduler stops, always with the reason.
	err := app.Run(s)
	klog.Flush()
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// checkCluster stops the scheduler before it schedules anything when the
// installed Volcano lacks what Tandem needs or another scheduler already
// serves one of its scheduler names (see plugins/volcanocompat).
func checkCluster(s *options.ServerOption, mode volcanocompat.Mode) error {
	cfg, err := kube.BuildConfig(s.KubeClientOptions)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ext, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := volcanocompat.CheckVolcano(ctx, ext, mode, klog.Background()); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	lockNamespace := s.LeaderElection.ResourceNamespace
	// app.Run lets the deprecated flag win when set; so must we.
	if s.LockObjectNamespace != "" { //nolint:staticcheck // read, as app.Run does, for deployments that still pass it
		lockNamespace = s.LockObjectNamespace //nolint:staticcheck // see above
	}
	self := volcanocompat.Self{
		SchedulerNames: s.SchedulerNames,
		LeaderElect:    s.LeaderElection.LeaderElect,
		Lock:           types.NamespacedName{Namespace: lockNamespace, Name: s.LeaderElection.ResourceName},
	}
	return volcanocompat.CheckSchedulerName(ctx, client, self, time.Now())
}
