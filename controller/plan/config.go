package plan

// Config holds the planner's settings that come from the controller's flags,
// not from the ServingGroup.
type Config struct {
	// SchedulerName is set on every pod so that Volcano (tandem-scheduler)
	// places them. Default "volcano".
	SchedulerName string
	// AcceleratorTypeLabel is the node label whose values a role's
	// accelerator.types match. Default "nvidia.com/gpu.product".
	AcceleratorTypeLabel string
	// ClusterDomain, when set, makes TANDEM_LEADER_ADDRESS fully qualified
	// (<pod>.<service>.<namespace>.svc.<domain>). Empty leaves it relative
	// (<pod>.<service>.<namespace>), which the pod's DNS search path resolves.
	ClusterDomain string
}

const (
	DefaultSchedulerName        = "volcano"
	DefaultAcceleratorTypeLabel = "nvidia.com/gpu.product"
)

func (c Config) withDefaults() Config {
	if c.SchedulerName == "" {
		c.SchedulerName = DefaultSchedulerName
	}
	if c.AcceleratorTypeLabel == "" {
		c.AcceleratorTypeLabel = DefaultAcceleratorTypeLabel
	}
	return c
}
