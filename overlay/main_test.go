package overlay

import (
	"fmt"
	"os"
	"testing"

	"github.com/mystp2p/mystp2p/overlay/guard"
)

// TestMain fails the package when any stream handler panicked, even if the
// guard kept the node up: a recovered panic is still a bug.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := guard.Panics(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d stream handler panic(s) were recovered: a recovered panic is a bug\n", n)
		code = 1
	}
	os.Exit(code)
}
