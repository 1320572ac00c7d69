package tunnel

import (
	"bufio"
	"bytes"
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

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

func newSOCKS(t testing.TB, d Dialer, opts ...SOCKSOption) socksClient {
	t.Helper()
	s, err := NewSOCKSServer(d, "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return socksClient{server: s.Addr()}
}

// httpGet sends a GET for path over c and returns the body.
func httpGet(t testing.TB, c net.Conn, host, path string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
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

func TestSOCKSConnect(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			_, origin := newOrigin(t)
			cons, _ := newSessionPair(t, tr, pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
			sc := newSOCKS(t, cons)

			// By IP.
			c := sc.connect(t, ipPort(origin))
			if body := httpGet(t, c, "x", "/ip"); !strings.HasPrefix(body, "hello /ip from 127.0.0.1:") {
				t.Fatalf("body %q", body)
			}
			c.Close()
			// By name, resolved at the provider.
			c = sc.connect(t, hostPort("origin.test", origin.Port()))
			if body := httpGet(t, c, "origin.test", "/name"); !strings.HasPrefix(body, "hello /name from 127.0.0.1:") {
				t.Fatalf("body %q", body)
			}
			c.Close()
		})
	}
}

func TestSOCKSConnectIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this host: %v", err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "v6 %s", r.RemoteAddr)
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	origin := ln.Addr().(*net.TCPAddr).AddrPort()
	cons, _ := newSessionPair(t, "mem", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	sc := newSOCKS(t, cons)
	c := sc.connect(t, ipPort(origin))
	defer c.Close()
	if body := httpGet(t, c, "x", "/"); !strings.HasPrefix(body, "v6 [::1]:") {
		t.Fatalf("body %q", body)
	}
}

func TestSOCKSAuth(t *testing.T) {
	_, origin := newOrigin(t)
	cons, _ := newSessionPair(t, "mem", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	sc := newSOCKS(t, cons, WithSOCKSAuth("alice", "s3cret"))

	sc.user, sc.pass = "alice", "s3cret"
	c := sc.connect(t, ipPort(origin))
	if body := httpGet(t, c, "x", "/a"); !strings.HasPrefix(body, "hello /a") {
		t.Fatalf("body %q", body)
	}
	c.Close()

	sc.pass = "wrong"
	if c, _, _, err := sc.handshake(t, cmdConnect, ipPort(origin)); err == nil {
		c.Close()
		t.Fatal("wrong password accepted")
	}
	sc.user, sc.pass = "", ""
	if c, _, _, err := sc.handshake(t, cmdConnect, ipPort(origin)); err == nil {
		c.Close()
		t.Fatal("no-auth accepted by a server that requires a password")
	}
}

func TestSOCKSReplyCodes(t *testing.T) {
	closedPort := func() uint16 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		return uint16(p)
	}()
	cons, _ := newSessionPair(t, "mem", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	sc := newSOCKS(t, cons)
	tests := []struct {
		name string
		dst  socksAddr
		want byte
	}{
		{"refused", ipPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), closedPort)), repConnectionRefused},
		{"unknown name", hostPort("missing.test", 80), repHostUnreachable},
		{"smtp", ipPort(netip.MustParseAddrPort("127.0.0.1:25")), repNotAllowed},
		{"private", ipPort(netip.MustParseAddrPort("10.1.2.3:80")), repNotAllowed},
		{"tunnel address", ipPort(netip.AddrPortFrom(cons.Addresses().Provider, 80)), repNotAllowed},
		{"link-local", ipPort(netip.MustParseAddrPort("169.254.169.254:80")), repNotAllowed},
		{"multicast v6", ipPort(netip.MustParseAddrPort("[ff02::1]:80")), repNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sc.connectReply(t, tt.dst); got != tt.want {
				t.Fatalf("reply %#x, want %#x", got, tt.want)
			}
		})
	}
	t.Run("bind command", func(t *testing.T) {
		c, rep, _, err := sc.handshake(t, cmdBind, hostPort("origin.test", 80))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if rep != repCommandNotSupported {
			t.Fatalf("reply %#x", rep)
		}
	})
	t.Run("bad address type", func(t *testing.T) {
		c, err := net.Dial("tcp", sc.server.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte{5, 1, 0, 5, 1, 0, 9})
		b := make([]byte, 12)
		if _, err := io.ReadFull(c, b[:2]); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b[:10]); err != nil {
			t.Fatal(err)
		}
		if b[1] != repAddrNotSupported {
			t.Fatalf("reply %#x", b[1])
		}
	})
}

// TestDefaultPolicyKeepsConsumerOut checks that under the default exit
// policy a consumer reaches neither the provider's loopback nor its LAN,
// over TCP or UDP.
func TestDefaultPolicyKeepsConsumerOut(t *testing.T) {
	_, origin := newOrigin(t)
	echo := newUDPEcho(t)
	cons, _ := newSessionPair(t, "udp", pairOptions{})
	sc := newSOCKS(t, cons)

	dsts := []socksAddr{
		ipPort(origin),
		hostPort("origin.test", origin.Port()), // resolves to 127.0.0.1 at the provider
		ipPort(netip.MustParseAddrPort("[::1]:80")),
		ipPort(netip.MustParseAddrPort("192.168.1.1:80")),
		ipPort(netip.MustParseAddrPort("[fd00::1]:80")),
		ipPort(netip.MustParseAddrPort("100.64.0.1:80")),
	}
	nets, err := InterfaceNetworks()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if !n.Addr().IsLoopback() && n.Addr().Is4() {
			// The provider's own LAN, whatever range it is in.
			dsts = append(dsts, ipPort(netip.AddrPortFrom(n.Addr(), 80)))
		}
	}
	for _, d := range dsts {
		if got := sc.connectReply(t, d); got != repNotAllowed {
			t.Errorf("CONNECT %s: reply %#x, want %#x (not allowed)", d, got, repNotAllowed)
		}
	}

	// UDP: the exit answers with "administratively prohibited"; wait for
	// the consumer to record it, and check the echo heard nothing.
	pc, err := cons.ListenUDP(false)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.WriteTo([]byte("leak?"), net.UDPAddrFromAddrPort(echo.addr)); err != nil {
		t.Fatal(err)
	}
	local := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	key := flowKey{proto: UDP, src: netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), dst: echo.addr}
	tstest.WaitFor(t, 10*time.Second, "the refusal to be recorded", func() bool { return cons.refused.take(key) == reasonProhibited })
	if n := echo.count(); n != 0 {
		t.Fatalf("UDP echo on the provider's loopback received %d datagrams", n)
	}
}

type udpEcho struct {
	addr netip.AddrPort
	n    chan struct{}
}

func (e *udpEcho) count() int { return len(e.n) }

func newUDPEcho(t testing.TB) *udpEcho {
	t.Helper()
	c := listenUDP(t)
	e := &udpEcho{addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), n: make(chan struct{}, 1<<16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			select {
			case e.n <- struct{}{}:
			default:
			}
			c.WriteToUDPAddrPort(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return e
}

func TestSOCKSUDPAssociate(t *testing.T) {
	for _, tr := range []string{"mem", "udp"} {
		t.Run(tr, func(t *testing.T) {
			echo := newUDPEcho(t)
			cons, _ := newSessionPair(t, tr, pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
			sc := newSOCKS(t, cons)
			ctrl, rep, bound, err := sc.handshake(t, cmdUDPAssociate, socksAddr{IP: netip.IPv4Unspecified()})
			if err != nil || rep != repSucceeded {
				t.Fatalf("UDP ASSOCIATE: rep %#x err %v", rep, err)
			}
			defer ctrl.Close()
			if !bound.IP.IsLoopback() {
				t.Fatalf("UDP relay bound to %s, want loopback", bound)
			}
			uc := listenUDP(t)
			relay := netip.AddrPortFrom(bound.IP, bound.Port)
			for i, dst := range []socksAddr{ipPort(echo.addr), hostPort("origin.test", echo.addr.Port())} {
				msg := []byte(fmt.Sprintf("ping %d", i))
				// UDP may drop the first datagram while WireGuard
				// handshakes; resend until the answer comes.
				var got []byte
				for attempt := 0; got == nil && attempt < 20; attempt++ {
					if _, err := uc.WriteToUDPAddrPort(udpDatagram(dst, msg), relay); err != nil {
						t.Fatal(err)
					}
					uc.SetReadDeadline(time.Now().Add(time.Second))
					buf := make([]byte, 2048)
					n, _, err := uc.ReadFromUDPAddrPort(buf)
					if err != nil {
						continue
					}
					got = buf[:n]
				}
				if got == nil {
					t.Fatalf("no UDP answer via SOCKS for %s", dst)
				}
				src, payload, err := parseUDPDatagram(got)
				if err != nil {
					t.Fatal(err)
				}
				if src.IP != echo.addr.Addr() || src.Port != echo.addr.Port() {
					t.Fatalf("answer from %s, want %s", src, echo.addr)
				}
				if !bytes.Equal(payload, append([]byte("echo:"), msg...)) {
					t.Fatalf("payload %q", payload)
				}
			}
		})
	}
}

func TestSOCKSListenLoopbackOnly(t *testing.T) {
	cons, _ := newSessionPair(t, "mem", pairOptions{})
	if _, err := NewSOCKSServer(cons, "0.0.0.0:0"); !errors.Is(err, ErrNonLoopbackListen) {
		t.Fatalf("err = %v, want ErrNonLoopbackListen", err)
	}
	if _, err := NewSOCKSServer(nil, "127.0.0.1:0"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
}

// TestSOCKSHostileInput throws malformed handshakes at the server and
// checks that each gets an error reply or a close, and that the server
// keeps serving afterwards.
func TestSOCKSHostileInput(t *testing.T) {
	t.Parallel() // mostly waiting on handshake deadlines
	_, origin := newOrigin(t)
	cons, _ := newSessionPair(t, "mem", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	sc := newSOCKS(t, cons, WithSOCKSTimeouts(time.Second, 10*time.Second, time.Minute))
	inputs := [][]byte{
		{},
		{4, 1, 0, 80, 127, 0, 0, 1, 0},      // SOCKS4
		{5, 0},                              // no methods
		{5, 255},                            // claims 255 methods, sends none
		{5, 1, 0, 5, 1, 1, 1, 127, 0, 0, 1}, // reserved byte set, truncated
		{5, 1, 0, 5, 1, 0, 3, 0, 0, 80},     // empty domain
		{5, 1, 0, 5, 1, 0, 3, 3, 'a', ' ', 'b', 0, 80},
		bytes.Repeat([]byte{5}, 4096),
	}
	for i, in := range inputs {
		c, err := net.Dial("tcp", sc.server.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c) // ends when the server closes (or resets)
		c.Close()
		if isTimeout(err) {
			t.Fatalf("input %d: server did not close the connection: %v", i, err)
		}
	}
	c := sc.connect(t, ipPort(origin))
	defer c.Close()
	if body := httpGet(t, c, "x", "/after"); !strings.HasPrefix(body, "hello /after") {
		t.Fatalf("body %q", body)
	}
}

// TestCloseLeavesNothingRunning runs a full session with SOCKS traffic,
// closes everything and checks that no goroutine is left.
func TestCloseLeavesNothingRunning(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			_, origin := newOrigin(t)
			tstest.CheckGoroutines(t)
			// A sub-test of its own so that its Cleanups run before the check.
			t.Run("session", func(t *testing.T) {
				cons, prov := newSessionPair(t, tr, pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
				s, err := NewSOCKSServer(cons, "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				sc := socksClient{server: s.Addr()}
				c := sc.connect(t, hostPort("origin.test", origin.Port()))
				httpGet(t, c, "origin.test", "/")
				// Leave one connection open mid-stream: Close must end it.
				open := sc.connect(t, ipPort(origin))
				defer open.Close()
				ctrl, rep, _, err := sc.handshake(t, cmdUDPAssociate, socksAddr{IP: netip.IPv4Unspecified()})
				if err != nil || rep != repSucceeded {
					t.Fatalf("UDP ASSOCIATE: %#x %v", rep, err)
				}
				defer ctrl.Close()
				for _, cl := range []io.Closer{s, cons, prov} {
					if err := cl.Close(); err != nil {
						t.Fatal(err)
					}
					if err := cl.Close(); err != nil { // idempotent
						t.Fatal(err)
					}
				}
				if _, err := cons.DialTCP(context.Background(), origin); !errors.Is(err, ErrClosed) {
					t.Fatalf("DialTCP after Close: %v", err)
				}
				st := prov.Stats()
				if st2 := prov.Stats(); st2.Duration != st.Duration {
					t.Fatal("duration still running after Close")
				}
			})
		})
	}
}

// TestIdleConn checks that a relay pair ends after the idle timeout when
// nothing moves, but not while the other direction is busy.
func TestIdleConn(t *testing.T) {
	t.Parallel() // mostly waiting on timers
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	ia, ib := newIdlePair(a1, b1, 2*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := ia.Read(make([]byte, 1))
		errc <- err
	}()
	// Keep the other direction busy for longer than the idle timeout.
	go func() {
		for range 30 {
			b2.Write([]byte("x"))
			time.Sleep(100 * time.Millisecond) // traffic pacing, not synchronisation
		}
	}()
	buf := make([]byte, 1)
	for range 30 {
		if _, err := ib.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-errc:
		t.Fatalf("quiet direction ended while the other was busy: %v", err)
	default:
	}
	if err := <-errc; !isTimeout(err) {
		t.Fatalf("quiet direction: %v, want a timeout once both are idle", err)
	}
}

// TestSOCKSTimeout checks the reply when the provider stops answering: the
// dial times out and the client gets "TTL expired" (RFC 1928 code 6).
func TestSOCKSTimeout(t *testing.T) {
	cons, prov := newSessionPair(t, "mem", pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
	sc := newSOCKS(t, cons, WithSOCKSTimeouts(5*time.Second, 300*time.Millisecond, time.Minute))
	prov.Close()
	if rep := sc.connectReply(t, ipPort(netip.MustParseAddrPort("127.0.0.1:80"))); rep != repTTLExpired {
		t.Fatalf("reply %#x, want %#x", rep, repTTLExpired)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := cons.DialTCP(ctx, netip.MustParseAddrPort("127.0.0.1:80")); !errors.Is(err, ErrTimeout) {
		t.Fatalf("DialTCP: %v, want ErrTimeout", err)
	}
}
