// Command tandem-scheduler is Volcano's scheduler with Tandem's placement
// plugin linked in. Flags and the scheduler config file are Volcano's own.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	cliflag "k8s.io/component-base/cli/flag"
	componentbaseoptions "k8s.io/component-base/config/options"
	"k8s.io/klog/v2"
	"volcano.sh/volcano/cmd/scheduler/app"
	"volcano.sh/volcano/cmd/scheduler/app/options"
	_ "volcano.sh/volcano/pkg/scheduler/actions"
	_ "volcano.sh/volcano/pkg/scheduler/plugins"
	volcanoutil "volcano.sh/volcano/pkg/util"

	"github.com/tandem-serving/tandem/plugins/tandem"
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
	s.RegisterOptions()
	cliflag.InitFlags()

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
	// app.Run returns only when the scheduler stops, always with the reason.
	err := app.Run(s)
	klog.Flush()
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
