//go:build !unix

package scenario

import "time"

// processCPU is not measured here.
func processCPU() time.Duration { return 0 }
