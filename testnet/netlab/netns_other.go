//go:build !linux

package netlab

import "syscall"

// checkPlatform fails off Linux: a lab is Linux network namespaces, veth
// pairs and nftables rulesets, configured with iproute2. Available, New,
// Cleanup and CleanupStale return ErrNeedsLinux.
func checkPlatform() error { return ErrNeedsLinux }

// inNetns needs Linux network namespaces.
func inNetns(string, func() error) error { return ErrNeedsLinux }

// labProcAttr has no parent-death signal to set off Linux; no lab command
// runs here anyway, since New fails with ErrNeedsLinux.
func labProcAttr() *syscall.SysProcAttr { return nil }

// killProcess is only reached through Cleanup, which fails with
// ErrNeedsLinux first.
func killProcess(int) error { return ErrNeedsLinux }
