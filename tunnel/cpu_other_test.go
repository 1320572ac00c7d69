//go:build !unix

package tunnel

import (
	"testing"
	"time"
)

// processCPU is not measured off Unix; benchmarks leave out their CPU metric.
func processCPU(*testing.B) (time.Duration, bool) { return 0, false }
