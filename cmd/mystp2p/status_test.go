package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// `status` and `dashboard` against a provider and a consumer run as
// commands, with a session between them: each shows its side of the
// session; with no node running they say how to start one.
func TestStatusAndDashboardCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	empty := t.TempDir()
	for _, cmd := range []string{"status", "dashboard"} {
		_, _, err := runCmd(t, ctx, cmd, "--data-dir", empty)
		if err == nil || !strings.Contains(err.Error(), "no node is running with data dir "+empty) || !strings.Contains(err.Error(), "mystp2p provide") {
			t.Fatalf("%s without a node: %v", cmd, err)
		}
	}

	net, err := testnet.Start(ctx, testnet.Config{Providers: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()
	provDir, provID := newDataDir(t, "provider")
	consDir, consID := newDataDir(t, "consumer")
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	startCmd(t, ctx, "provide", "provide", "--data-dir", provDir, "--country", "NL", "--price-hour", "0", "--price-gib", "0",
		"--bootstrap", boot, "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
		"--exit-policy", "allow-loopback", "--log-level", "error")
	tstest.WaitFor(t, 60*time.Second, "the provider's local API", func() bool {
		_, _, err := runCmd(t, ctx, "status", "--data-dir", provDir)
		return err == nil
	})
	out, _, err := runCmd(t, ctx, "status", "--data-dir", provDir)
	if err != nil || !strings.Contains(out, "provider "+provID.PeerID().String()) || !strings.Contains(out, "no live sessions") {
		t.Fatalf("status of an idle provider: %q, %v", out, err)
	}

	cons := startCmd(t, ctx, "connect", "connect", "--data-dir", consDir, "--bootstrap", boot, "--provider", provID.PeerID().String(),
		"--socks", "127.0.0.1:0", "--log-level", "error")
	socks := socksReady(t, cons, provID.PeerID())
	if n, err := testnet.FetchThroughSOCKS(ctx, socks, net.Origin.URL()+"bytes/3000000", io.Discard); err != nil || n != 3000000 {
		t.Fatalf("fetch: %d bytes, %v", n, err)
	}
	out, _, err = runCmd(t, ctx, "status", "--data-dir", provDir)
	if err != nil || !strings.Contains(out, consID.PeerID().String()) || !strings.Contains(out, "CONSUMER") {
		t.Fatalf("status of the provider with a session: %q, %v", out, err)
	}
	out, _, err = runCmd(t, ctx, "status", "--data-dir", consDir)
	if err != nil || !strings.Contains(out, "consumer "+consID.PeerID().String()) || !strings.Contains(out, "with provider "+provID.PeerID().String()) ||
		!strings.Contains(out, "MiB down") || !strings.Contains(out, "spent 0 tokens") {
		t.Fatalf("status of the consumer: %q, %v", out, err)
	}
	out, _, err = runCmd(t, ctx, "status", "--data-dir", consDir, "--json")
	var rep statusReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Consumer == nil || rep.Consumer.BytesDown < 3000000 {
		t.Fatalf("status --json of the consumer: %q, %v", out, err)
	}

	// dashboard prints a link with the token in the fragment; the page
	// it names loads.
	out, _, err = runCmd(t, ctx, "dashboard", "--data-dir", provDir)
	info, ierr := readAPIInfo(provDir)
	link := strings.TrimSpace(out)
	if err != nil || ierr != nil || link != "http://"+info.Addr+"/ui/#token="+info.Token {
		t.Fatalf("dashboard printed %q, %v (api file %+v, %v)", out, err, info, ierr)
	}
	resp, err := http.Get(strings.Split(link, "#")[0])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("the dashboard page: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
}
