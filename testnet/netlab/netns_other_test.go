//go:build !linux

package netlab

import (
	"context"
	"errors"
	"testing"
)

func TestNeedsLinux(t *testing.T) {
	ctx := context.Background()
	if err := Available(); !errors.Is(err, ErrNeedsLinux) {
		t.Errorf("Available: %v, want ErrNeedsLinux", err)
	}
	if _, err := New(ctx, Config{Hosts: []HostConfig{{Name: "a"}}}); !errors.Is(err, ErrNeedsLinux) {
		t.Errorf("New: %v, want ErrNeedsLinux", err)
	}
	if err := Cleanup(ctx, nil, "mnl-1-abcd"); !errors.Is(err, ErrNeedsLinux) {
		t.Errorf("Cleanup: %v, want ErrNeedsLinux", err)
	}
	if _, err := CleanupStale(ctx, nil); !errors.Is(err, ErrNeedsLinux) {
		t.Errorf("CleanupStale: %v, want ErrNeedsLinux", err)
	}
}
