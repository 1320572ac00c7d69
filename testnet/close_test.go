package testnet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCloseWithinGivesUpOnAHungClose(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hung := func(chan struct{}) error { <-release; return nil }
	start := time.Now()
	err := closeWithin("provider 7", 50*time.Millisecond, hung, release)
	if err == nil || !strings.Contains(err.Error(), "provider 7: not closed after 50ms") {
		t.Fatalf("err = %v, want provider 7 named as not closed", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("closeWithin waited %s for a 50ms bound", took)
	}
}

func TestCloseWithinPassesTheCloseResultOn(t *testing.T) {
	boom := errors.New("boom")
	if err := closeWithin("relay", time.Minute, func(e error) error { return e }, boom); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "relay: ") {
		t.Fatalf("err = %v, want relay: boom", err)
	}
	if err := closeWithin("relay", time.Minute, func(error) error { return nil }, nil); err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
}
