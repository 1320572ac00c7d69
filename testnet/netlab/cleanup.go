package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StateDir holds one small JSON file per live lab, naming its owner process,
// so that CleanupStale can tell a crashed lab from a running one.
const StateDir = "/run/mystp2p-netlab"

// Every namespace of a lab is named "<prefix>-<role>", and a prefix is
// "mnl-<owner PID in base 36>-<4 random hex digits>", e.g. "mnl-2n9c-a3f1".
const prefixHead = "mnl-"

var prefixRE = regexp.MustCompile(`^mnl-([0-9a-z]{1,13})-[0-9a-f]{4}$`)

// cleanupTimeout bounds Close, which takes no context.
const cleanupTimeout = 30 * time.Second

// state is the content of a lab's file in StateDir.
type state struct {
	Prefix string `json:"prefix"`
	PID    int    `json:"pid"`
	// StartTicks is the owner's start time (field 22 of /proc/PID/stat), so
	// a reused PID is not mistaken for the owner.
	StartTicks uint64    `json:"start_ticks"`
	Created    time.Time `json:"created"`
}

// newPrefix picks an unused lab prefix for this process.
func newPrefix() (string, error) {
	for range 16 {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		p := prefixHead + strconv.FormatInt(int64(os.Getpid()), 36) + "-" + hex.EncodeToString(b[:])
		names, err := labNamespaces(p)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(statePath(p)); len(names) == 0 && errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", errors.New("no free lab prefix after 16 tries")
}

func statePath(prefix string) string { return filepath.Join(StateDir, prefix+".json") }

// writeState records this process as the owner of prefix.
func writeState(prefix string) error {
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state directory: %w", err)
	}
	ticks, err := startTicks(os.Getpid())
	if err != nil {
		return err
	}
	b, err := json.Marshal(state{Prefix: prefix, PID: os.Getpid(), StartTicks: ticks, Created: time.Now().UTC()})
	if err != nil {
		return err
	}
	tmp := statePath(prefix) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing lab state: %w", err)
	}
	return os.Rename(tmp, statePath(prefix))
}

// startTicks returns the start time of process pid in clock ticks since boot.
func startTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses; fields
	// after the last ')' are plain. starttime is field 22, the 20th after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ownerAlive reports whether the process that made lab prefix still runs.
func ownerAlive(prefix string) bool {
	if b, err := os.ReadFile(statePath(prefix)); err == nil {
		var st state
		if json.Unmarshal(b, &st) == nil && st.PID > 0 {
			ticks, err := startTicks(st.PID)
			return err == nil && (st.StartTicks == 0 || ticks == st.StartTicks)
		}
	}
	m := prefixRE.FindStringSubmatch(prefix)
	if m == nil {
		return false
	}
	pid, err := strconv.ParseInt(m[1], 36, 64)
	if err != nil {
		return false
	}
	_, err = os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

// labNamespaces lists the named namespaces of lab prefix.
func labNamespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// prefixOf returns the lab prefix of a namespace or state file name, or "".
func prefixOf(name string) string {
	name = strings.TrimSuffix(name, ".json")
	parts := strings.SplitN(name, "-", 4)
	if len(parts) < 3 {
		return ""
	}
	p := strings.Join(parts[:3], "-")
	if !prefixRE.MatchString(p) {
		return ""
	}
	return p
}

// Cleanup removes everything of the lab with the given prefix, whoever made
// it: it kills every process still inside the lab's namespaces, deletes the
// namespaces (and with them their interfaces, bridges and nftables tables)
// and the lab's state file. Removing what is already gone is not an error.
func Cleanup(ctx context.Context, log *slog.Logger, prefix string) error {
	if err := checkPlatform(); err != nil {
		return err
	}
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("%w: %q", ErrBadPrefix, prefix)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ipPath, err := toolIP.path()
	if err != nil {
		return err
	}
	names, err := labNamespaces(prefix)
	if err != nil {
		return err
	}
	killed, err := killInside(ctx, ipPath, names)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if len(names) > 0 {
		lines := make([]string, len(names))
		for i, ns := range names {
			lines[i] = "netns delete " + ns
		}
		if err := run(ctx, strings.Join(lines, "\n")+"\n", ipPath, "-force", "-batch", "-"); err != nil {
			errs = append(errs, fmt.Errorf("deleting namespaces: %w", err))
		}
	}
	if left, err := labNamespaces(prefix); err != nil {
		errs = append(errs, err)
	} else if len(left) > 0 {
		errs = append(errs, fmt.Errorf("namespaces of lab %s still present: %s", prefix, strings.Join(left, " ")))
	}
	for _, p := range []string{statePath(prefix), statePath(prefix) + ".tmp"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing lab state: %w", err))
		}
	}
	log.Info("netlab cleaned up", "lab", prefix, "namespaces", len(names), "killed", killed)
	return errors.Join(errs...)
}

// killInside kills every process in the namespaces and waits until none is
// left, so that deleting the names really frees the namespaces (a process
// inside would keep one alive, with its interfaces and rulesets, after its
// name is gone).
func killInside(ctx context.Context, ipPath string, names []string) (int, error) {
	killed := map[int]bool{}
	// Polls: the kernel gives no event when a namespace's last process exits.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var inside []int
		for _, ns := range names {
			out, err := output(ctx, ipPath, "netns", "pids", ns)
			if err != nil {
				return len(killed), err
			}
			for _, f := range strings.Fields(out) {
				if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
					inside = append(inside, pid)
				}
			}
		}
		if len(inside) == 0 {
			return len(killed), nil
		}
		for _, pid := range inside {
			if err := killProcess(pid); err != nil {
				return len(killed), fmt.Errorf("killing process %d in the lab: %w", pid, err)
			}
			killed[pid] = true
		}
		select {
		case <-ctx.Done():
			return len(killed), fmt.Errorf("waiting for killed processes %v to exit: %w", inside, ctx.Err())
		case <-tick.C:
		}
	}
}

// CleanupStale removes the leftovers of every lab whose creating process is
// gone (a crash, a SIGKILL, a Ctrl-C before Close ran), and returns their
// prefixes. Labs of running processes are left alone.
func CleanupStale(ctx context.Context, log *slog.Logger) ([]string, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	prefixes := map[string]bool{}
	for _, dir := range []string{netnsDir, StateDir} {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", dir, err)
		}
		for _, e := range entries {
			if p := prefixOf(e.Name()); p != "" {
				prefixes[p] = true
			}
		}
	}
	var stale []string
	for p := range prefixes {
		if !ownerAlive(p) {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	var errs []error
	for _, p := range stale {
		if err := Cleanup(ctx, log, p); err != nil {
			errs = append(errs, err)
		}
	}
	return stale, errors.Join(errs...)
}
