//go:build unix

package tunnel

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the user+system CPU time this process has used.
func processCPU(b *testing.B) (time.Duration, bool) {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
