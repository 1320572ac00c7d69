package netlab

import (
	"context"
	"os/exec"
)

// RouterCommandContext is RouterCommand with a context that kills the
// process when done: a long-lived process in the router in front of host,
// such as a censor's prober or packet filter.
func (l *Lab) RouterCommandContext(ctx context.Context, host, name string, args ...string) *exec.Cmd {
	return l.command(ctx, host, true, name, args...)
}
