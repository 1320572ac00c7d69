package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mystp2p/mystp2p/overlay/session/client"
)

// The session client's errors name no flag; connect adds the one that helps.
func TestConnectErrorHints(t *testing.T) {
	needsPay := fmt.Errorf("%w: %w", client.ErrDiscovery,
		fmt.Errorf("%w: all 2 matching providers charge: %w", client.ErrNoProposals, client.ErrNeedsPayment))
	for _, tc := range []struct {
		err        error
		want, not  string
		wrapsStill error
	}{
		{needsPay, "with --hermes ID", "widen the filters", client.ErrNoProposals},
		{fmt.Errorf("%w: %w", client.ErrDiscovery, client.ErrNoProposals), "check --bootstrap and widen the filters", "--hermes", client.ErrNoProposals},
		{fmt.Errorf("%w: provider gone", client.ErrSessionEnded), "use --auto-reconnect", "--bootstrap", client.ErrSessionEnded},
	} {
		got := withFlagHint(tc.err)
		if msg := got.Error(); !strings.HasPrefix(msg, tc.err.Error()) || !strings.Contains(msg, tc.want) || strings.Contains(msg, tc.not) {
			t.Errorf("%v: hinted as %q, want %q and not %q", tc.err, msg, tc.want, tc.not)
		}
		if !errors.Is(got, tc.wrapsStill) {
			t.Errorf("%v: the hint hides %v", tc.err, tc.wrapsStill)
		}
	}
}
