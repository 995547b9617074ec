package localcluster

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// RestartWithArgs stops a running component (e.g. "tandem-router") and
// starts it again with its arguments plus extra, which win over earlier
// ones (e.g. --config=FILE); later Restarts keep them. For tandem-router
// it returns once /health answers again, on the same address.
func (c *Cluster) RestartWithArgs(ctx context.Context, name string, extra ...string) error {
	for i, p := range c.procs {
		if p.name != name {
			continue
		}
		p.stop(stopGrace)
		np, err := startProcess(c.opts.StateDir, p.order, p.name, p.bin, append(slices.Clone(p.args), extra...)...)
		if err != nil {
			return err
		}
		c.procs[i] = np
		if name == "tandem-router" && c.RouterURL != "" {
			return c.poll(ctx, 30*time.Second, func() error { return httpOK(c.RouterURL + "/health") })
		}
		return nil
	}
	return fmt.Errorf("no running component %q", name)
}
