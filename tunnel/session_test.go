package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/conn"

	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

func newOrigin(t *testing.T) (*httptest.Server, netip.AddrPort) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from %s", r.URL.Path, r.RemoteAddr)
	}))
	t.Cleanup(srv.Close)
	return srv, srv.Listener.Addr().(*net.TCPAddr).AddrPort()
}

func httpGetVia(t *testing.T, dial func(ctx context.Context) (net.Conn, error), path string) string {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := cl.Get("http://origin.test" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSessionHTTP(t *testing.T) {
	for _, tr := range append(transports, "udp6") {
		t.Run(tr, func(t *testing.T) {
			_, origin := newOrigin(t)
			cons, prov := newSessionPair(t, tr, pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			body := httpGetVia(t, func(ctx context.Context) (net.Conn, error) { return cons.DialTCP(ctx, origin) }, "/x")
			if !strings.HasPrefix(body, "hello /x from 127.0.0.1:") {
				t.Fatalf("body %q", body)
			}
			addrs, err := cons.LookupHost(ctx, "origin.test")
			if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.1") {
				t.Fatalf("LookupHost = %v, %v", addrs, err)
			}
			if _, err := cons.LookupHost(ctx, "missing.test"); !errors.Is(err, ErrNameNotFound) {
				t.Fatalf("LookupHost(missing) err = %v, want ErrNameNotFound", err)
			}
			cs, ps := cons.Stats(), prov.Stats()
			if cs.TxBytes == 0 || cs.RxBytes == 0 || ps.TxBytes == 0 || ps.RxBytes == 0 {
				t.Fatalf("stats not counted: consumer %+v provider %+v", cs, ps)
			}
			hs, err := cons.LastHandshake()
			if err != nil || hs.IsZero() {
				t.Fatalf("LastHandshake = %v, %v", hs, err)
			}
		})
	}
}

// TestConcurrentSessions runs 20 sessions side by side, as one provider
// host serves them: each with its own keys, address pair, WireGuard device
// and exit, all fetching at once.
func TestConcurrentSessions(t *testing.T) {
	const sessions = 20
	_, origin := newOrigin(t)
	pool, err := NewAddressPool(netip.Prefix{}, netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]socksClient, sessions)
	provs := make([]*Provider, sessions)
	for i := range sessions {
		cons, prov := newSessionPair(t, "udp", pairOptions{pool: pool, policy: []PolicyOption{WithAllowLoopback()}})
		clients[i] = newSOCKS(t, cons)
		provs[i] = prov
	}
	errs := make(chan error, sessions)
	for i := range sessions {
		go func() {
			c, rep, _, err := clients[i].handshake(t, cmdConnect, hostPort("origin.test", origin.Port()))
			if err != nil || rep != repSucceeded {
				errs <- fmt.Errorf("session %d: reply %#x, %v", i, rep, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", i)
			b, err := io.ReadAll(c)
			if err == nil && !strings.Contains(string(b), fmt.Sprintf("hello /%d from", i)) {
				err = fmt.Errorf("response %q", b)
			}
			errs <- err
		}()
	}
	for range sessions {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if pool.InUse() != sessions {
		t.Fatalf("pool has %d pairs in use", pool.InUse())
	}
	for i, p := range provs {
		if p.Stats().RxBytes == 0 {
			t.Errorf("session %d: provider metered nothing", i)
		}
	}
}

// TestExitFlowLimit checks that a session cannot hold more TCP connections
// at the exit than its limit: the extra one is reset (SOCKS reply 5), and a
// slot frees up when a connection ends.
func TestExitFlowLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dst := ipPort(ln.Addr().(*net.TCPAddr).AddrPort())
	cons, _ := newSessionPair(t, "mem", pairOptions{
		policy:   []PolicyOption{WithAllowLoopback()},
		provider: []ProviderOption{WithMaxTCPConns(1)},
	})
	sc := newSOCKS(t, cons)
	first := sc.connect(t, dst)
	server := <-accepted
	if rep := sc.connectReply(t, dst); rep != repConnectionRefused {
		t.Fatalf("second connection: reply %#x, want %#x", rep, repConnectionRefused)
	}
	first.Close()
	server.Close()
	// The slot is released once the exit has torn the first one down.
	tstest.WaitFor(t, 10*time.Second, "the exit to release the first connection's slot", func() bool {
		c, rep, _, err := sc.handshake(t, cmdConnect, dst)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if rep == repSucceeded {
			(<-accepted).Close()
			return true
		}
		return false
	})
}

// TestMeteredBind checks that wire bytes are counted on both binds and
// exceed the tunnel's inner bytes by WireGuard's overhead.
func TestMeteredBind(t *testing.T) {
	_, origin := newOrigin(t)
	var binds []*wgpath.MeteredBind
	cons, prov := newSessionPair(t, "udp", pairOptions{
		policy: []PolicyOption{WithAllowLoopback()},
		wrap: func(b conn.Bind) conn.Bind {
			m := wgpath.NewMeteredBind(b)
			binds = append(binds, m)
			return m
		},
	})
	httpGetVia(t, func(ctx context.Context) (net.Conn, error) { return cons.DialTCP(ctx, origin) }, "/m")
	// The last packets of the exchange may still be on their way to the
	// other bind (counted inside, not yet on the wire), on a busy machine.
	var cw, pw wgpath.WireStats
	var cs, ps Stats
	above := func() bool {
		cw, pw = binds[0].Stats(), binds[1].Stats()
		cs, ps = cons.Stats(), prov.Stats()
		return cw.TxBytes > cs.TxBytes && cw.RxBytes > cs.RxBytes && pw.TxBytes > ps.TxBytes && pw.RxBytes > ps.RxBytes
	}
	deadline := time.Now().Add(5 * time.Second)
	for !above() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !above() {
		t.Fatalf("wire %+v %+v not above inner %+v %+v", cw, pw, cs, ps)
	}
	if cw.TxPackets == 0 || pw.RxPackets == 0 {
		t.Fatalf("no packets counted: %+v %+v", cw, pw)
	}
}

// TestSwitchBind starts a session relayed over a stream, moves both ends to
// UDP sockets (as after a successful hole punch) and checks that a TCP
// connection opened before the switch keeps working over the new path.
func TestSwitchBind(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	cons, prov := newSessionPair(t, "pipe", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cons.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	echo := func(msg string) {
		t.Helper()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo %q: got %q, %v", msg, buf, err)
		}
	}
	echo("before the switch")

	cb, pb := bindPair(t, "udp")
	cm, pm := wgpath.NewMeteredBind(cb), wgpath.NewMeteredBind(pb)
	if err := prov.SwitchBind(pm, ""); err != nil {
		t.Fatal(err)
	}
	if err := cons.SwitchBind(cm, ""); err != nil {
		t.Fatal(err)
	}
	echo("after the switch")
	if cm.Stats().TxPackets == 0 || pm.Stats().RxPackets == 0 {
		t.Fatalf("new path unused: consumer %+v provider %+v", cm.Stats(), pm.Stats())
	}
	cons.Close()
	if err := cons.SwitchBind(cm, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("SwitchBind after Close: %v", err)
	}
}
