package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// netnsDir is where iproute2 keeps named network namespaces.
const netnsDir = "/run/netns"

// tool is a command netlab runs and the Debian package that provides it.
type tool struct{ cmd, pkg string }

var (
	toolIP  = tool{"ip", "iproute2"}
	toolNft = tool{"nft", "nftables"}
)

func (t tool) path() (string, error) {
	p, err := exec.LookPath(t.cmd)
	if err != nil {
		return "", fmt.Errorf("%w: %q not found in PATH (install package %s, e.g. apt-get install -y %s)", ErrMissingTool, t.cmd, t.pkg, t.pkg)
	}
	return p, nil
}

// Available reports whether this process can build labs: it must run on
// Linux (ErrNeedsLinux otherwise), as root, with `ip` (iproute2) and `nft`
// (nftables) installed. Tests skip when it returns an error, and say why.
func Available() error {
	if err := checkPlatform(); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	for _, t := range []tool{toolIP, toolNft} {
		if _, err := t.path(); err != nil {
			return err
		}
	}
	return nil
}

// run runs a command and returns its error with its output attached.
func run(ctx context.Context, stdin string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
		}
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// output runs a command and returns its standard output.
func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), ctx.Err())
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// ipBatch runs iproute2 commands (without the leading "ip") inside namespace
// ns ("" for the caller's own), stopping at the first failure.
func ipBatch(ctx context.Context, ipPath, ns string, lines []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	if err := run(ctx, strings.Join(lines, "\n")+"\n", ipPath, args...); err != nil {
		return fmt.Errorf("configuring namespace %q: %w", ns, err)
	}
	return nil
}

// sysctl is one /proc/sys/net setting, as a path below /proc/sys.
type sysctl struct{ key, value string }

// setSysctls writes network sysctls inside namespace ns. Network sysctls are
// per namespace and resolved against the writing thread's namespace, so the
// writes happen on a locked OS thread that has joined ns.
func setSysctls(ns string, settings []sysctl) error {
	err := inNetns(ns, func() error {
		for _, s := range settings {
			p := filepath.Join("/proc/sys", s.key)
			if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sysctls in namespace %q: %w", ns, err)
	}
	return nil
}
