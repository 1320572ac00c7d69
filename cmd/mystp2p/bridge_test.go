package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/overlay"

	"github.com/mystp2p/mystp2p/overlay/bridge"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// startCmd runs a long-lived command in this process until the test ends.
func startCmd(t *testing.T, ctx context.Context, name string, args ...string) *tstest.Buffer {
	t.Helper()
	cctx, stop := context.WithCancel(ctx)
	var out tstest.Buffer
	done := make(chan error, 1)
	go func() { done <- run(cctx, args, strings.NewReader(""), &out, &out) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("%s returned %v", name, err)
		}
		if t.Failed() {
			t.Logf("%s printed:\n%s", name, out.String())
		}
	})
	return &out
}

// socksReady waits for connect's "SOCKS5 ready on" line and returns the
// address.
func socksReady(t *testing.T, out *tstest.Buffer, provider peer.ID) string {
	t.Helper()
	var socks string
	tstest.WaitFor(t, 60*time.Second, "the SOCKS5 ready line", func() bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "SOCKS5 ready on "); ok {
				socks = strings.Fields(rest)[0]
				if !strings.Contains(line, provider.String()) {
					t.Fatalf("ready line %q", line)
				}
			}
		}
		return socks != ""
	})
	return socks
}

// A provider's `mystp2p bridge` line is all a consumer needs: `connect
// --bridge` with no --bootstrap joins through the provider, finds it and
// carries traffic.
func TestBridgeCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Providers: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()

	// No node runs on the data directory yet: a clear error.
	dir, id := newDataDir(t, "provider")
	_, _, err = runCmd(t, ctx, "bridge", "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "mystp2p provide") {
		t.Fatalf("bridge without a node: %v", err)
	}

	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	startCmd(t, ctx, "provide", "provide", "--data-dir", dir, "--country", "NL", "--price-hour", "0", "--price-gib", "0",
		"--bootstrap", boot, "--listen", "/ip4/127.0.0.1/tcp/0", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1",
		"--dht-mode", "server", "--exit-policy", "allow-loopback", "--log-level", "error")
	var line string
	tstest.WaitFor(t, 60*time.Second, "the provider's local API", func() bool {
		out, _, err := runCmd(t, ctx, "bridge", "--data-dir", dir)
		line = strings.TrimSpace(out)
		return err == nil
	})
	l, err := bridge.Parse(line)
	if err != nil || l.Peer != id.PeerID() || l.Secret != nil {
		t.Fatalf("bridge printed %q: %+v, %v", line, l, err)
	}
	// A free provider's local API answers earnings too: nothing.
	if out, _, err := runCmd(t, ctx, "earnings", "--data-dir", dir); err != nil || !strings.Contains(out, "nothing earned yet") {
		t.Fatalf("earnings of a free provider: %q, %v", out, err)
	}
	// With --secret: generated once, kept 0600, the same next time.
	out, _, err := runCmd(t, ctx, "bridge", "--data-dir", dir, "--secret")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := bridge.Parse(out)
	if err != nil || len(ls.Secret) != bridge.SecretLen {
		t.Fatalf("bridge --secret printed %q: %v", out, err)
	}
	st, err := os.Stat(filepath.Join(dir, role.BridgeSecretFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file %v, %v: want mode 0600", st, err)
	}
	out2, _, _ := runCmd(t, ctx, "bridge", "--data-dir", dir, "--secret")
	if out2 != out {
		t.Fatalf("secret changed: %q then %q", out, out2)
	}

	cons := startCmd(t, ctx, "connect", "connect", "--ephemeral", "--bridge", "  \""+line+"\".\n", "--provider", id.PeerID().String(),
		"--socks", "127.0.0.1:0", "--log-level", "error")
	socks := socksReady(t, cons, id.PeerID())
	n, err := testnet.FetchThroughSOCKS(ctx, socks, net.Origin.URL()+"bytes/100000", io.Discard)
	if err != nil || n != 100000 {
		t.Fatalf("fetch through %s: %d bytes, %v", socks, n, err)
	}
}

// A malformed bridge line is a usage error that says what is wrong.
func TestBridgeLineErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"connect", "--ephemeral", "--bridge", "hello"}, "not a mystp2p bridge line"},
		{[]string{"connect", "--ephemeral", "--bridge", "mystp2p-bridge:1:tcp:AAAAAAAA"}, "truncated or mistyped"},
		{[]string{"proposals", "--bridge", "mystp2p-bridge:7:tcp:AAAA"}, "unknown bridge line version"},
		{[]string{"connect", "--ephemeral"}, "--bridge"}, // nothing to join through
		{[]string{"bridge", "stray"}, "unexpected argument"},
	} {
		_, _, err := runCmd(t, ctx, tc.args...)
		var u exitUsage
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

// A consumer that joined once connects again with only a dead --bootstrap:
// its peer cache knows the relay.
func TestConnectThroughPeerCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Providers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()
	target := net.Providers()[0].Proposal.Proposal.Provider
	dir := t.TempDir()

	// Warm the cache: list the proposals once, as connect would join.
	if _, _, err := runCmd(t, ctx, "proposals", "--data-dir", dir, "--bootstrap", boot, "--wait", "100ms"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PeerCacheFile)); err != nil {
		t.Fatal(err)
	}
	const dead = "/ip4/127.0.0.1/tcp/1/p2p/16Uiu2HAm4WCuEHyWD28Pca726nyHnRKnJrgG2YZakVKAsysC7VnB"
	cons := startCmd(t, ctx, "connect", "connect", "--ephemeral", "--data-dir", dir, "--bootstrap", dead,
		"--provider", target.String(), "--socks", "127.0.0.1:0", "--log-level", "error")
	socks := socksReady(t, cons, target)
	n, err := testnet.FetchThroughSOCKS(ctx, socks, net.Origin.URL()+"bytes/100000", io.Discard)
	if err != nil || n != 100000 {
		t.Fatalf("fetch through %s: %d bytes, %v", socks, n, err)
	}
	if strings.Contains(cons.String(), "warning:") {
		t.Fatalf("warnings:\n%s", cons.String())
	}
}

// A corrupt peer cache is one warning, and the command goes on.
func TestPeerCacheWarning(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PeerCacheFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	var errb tstest.Buffer
	c, closeCache := openPeerCache(env{stderr: &errb}, dir)
	closeCache()
	if c == nil || strings.Count(errb.String(), "warning:") != 1 || !strings.Contains(errb.String(), "corrupt") {
		t.Fatalf("stderr %q", errb.String())
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, PeerCacheFile)); strings.Contains(string(raw), "garbage") {
		t.Fatalf("file not rewritten: %s", raw)
	}
}

// A provider run as a bridge (`provide --bridge-gate --wss …`) serves
// libp2p only to consumers whose bridge line carries its secret: with the
// line from `bridge --secret` a consumer connects and fetches; with the
// same line minus the secret it cannot even join, and a plain HTTPS
// request gets a web page.
func TestBridgeGateProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{Providers: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	boot := net.Relay.AddrInfo().Addrs[0].String() + "/p2p/" + net.Relay.ID().String()

	dir, id := newDataDir(t, "provider")
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	if _, _, err := runCmd(t, ctx, "provide", "--data-dir", dir, "--country", "NL", "--price-hour", "0", "--price-gib", "0", "--bridge-gate", "--bootstrap", boot); err == nil ||
		!strings.Contains(err.Error(), "--wss") {
		t.Fatalf("--bridge-gate without --wss: %v, want an error naming --wss", err)
	}
	startCmd(t, ctx, "provide", "provide", "--data-dir", dir, "--country", "NL", "--price-hour", "0", "--price-gib", "0",
		"--bootstrap", boot, "--bridge-gate", "--wss", "/ip4/127.0.0.1/tcp/0/tls/ws",
		"--exit-policy", "allow-loopback", "--log-level", "error")
	var line string
	tstest.WaitFor(t, 60*time.Second, "the bridge's local API", func() bool {
		out, _, err := runCmd(t, ctx, "bridge", "--data-dir", dir, "--secret")
		line = strings.TrimSpace(out)
		return err == nil
	})
	l, err := bridge.Parse(line)
	if err != nil || l.Secret == nil {
		t.Fatalf("bridge --secret printed %q: %v", line, err)
	}
	for _, a := range l.Addrs {
		if !overlay.IsWSS(a) {
			t.Fatalf("the bridge line offers %s: a bridge listens only behind its gate", a)
		}
	}
	// A prober gets a web page.
	_, hp, err := manet.DialArgs(l.Addrs[0][:2])
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + hp + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("HTTPS probe of the bridge: %s %q, want a web page", resp.Status, resp.Header.Get("Content-Type"))
	}
	// Without the secret the line is no use.
	bare := l
	bare.Secret = nil
	if out, _, err := runCmd(t, ctx, "proposals", "--data-dir", t.TempDir(), "--bridge", bare.String(), "--wait", "100ms"); err == nil {
		t.Fatalf("proposals through the bridge without its secret worked: %q", out)
	}
	cdir := t.TempDir()
	cctx, stopConnect := context.WithCancel(ctx)
	defer stopConnect()
	var cons tstest.Buffer
	connected := make(chan error, 1)
	go func() {
		connected <- run(cctx, []string{"connect", "--ephemeral", "--data-dir", cdir, "--bridge", line, "--provider", id.PeerID().String(),
			"--socks", "127.0.0.1:0", "--log-level", "error"}, strings.NewReader(""), &cons, &cons)
	}()
	socks := socksReady(t, &cons, id.PeerID())
	n, err := testnet.FetchThroughSOCKS(ctx, socks, net.Origin.URL()+"bytes/100000", io.Discard)
	if err != nil || n != 100000 {
		t.Fatalf("fetch through the bridge %s: %d bytes, %v", socks, n, err)
	}
	stopConnect()
	if err := <-connected; err != nil {
		t.Fatalf("connect: %v\n%s", err, cons.String())
	}

	// The consumer's peer cache remembers the bridge and its secret: with
	// the relay gone and no line given, the next run still gets in.
	net.Relay.Close()
	out, _, err := runCmd(t, ctx, "proposals", "--data-dir", cdir, "--wait", "2s")
	if err != nil || !strings.Contains(out, id.PeerID().String()) {
		t.Fatalf("proposals through the cached bridge: %v\n%s", err, out)
	}
}
