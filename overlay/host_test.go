package overlay

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

func newTestHost(t *testing.T, cfg HostConfig) host.Host {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = id
	h, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// addrsWith are the host's listen addresses that hold protocol code.
func addrsWith(h host.Host, code int) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range h.Network().ListenAddresses() {
		if _, err := a.ValueForProtocol(code); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// wssTCPAddr is the host:port of h's first WSS listener.
func wssTCPAddr(t *testing.T, h host.Host) string {
	t.Helper()
	for _, a := range h.Network().ListenAddresses() {
		if !IsWSS(a) {
			continue
		}
		ip, err := manet.ToIP(a)
		if err != nil {
			t.Fatal(err)
		}
		port, err := a.ValueForProtocol(ma.P_TCP)
		if err != nil {
			t.Fatal(err)
		}
		return net.JoinHostPort(ip.String(), port)
	}
	t.Fatalf("no WSS listen address in %v", h.Network().ListenAddresses())
	return ""
}

const testEcho = "/mystp2p/test-echo/1"

func TestWSSConnectAndStream(t *testing.T) {
	server := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, WSSName: "www.example.com"})
	client := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	server.SetStreamHandler(testEcho, func(s network.Stream) {
		defer s.Close()
		_, _ = io.Copy(s, s)
	})

	wss := addrsWith(server, ma.P_WS)
	if len(wss) != 1 || len(addrsWith(server, ma.P_TCP)) != 1 {
		t.Fatalf("server listens on %v, want one /tls/ws address", server.Network().ListenAddresses())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := client.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: wss}); err != nil {
		t.Fatalf("connect over %v: %v", wss, err)
	}
	conns := client.Network().ConnsToPeer(server.ID())
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	if tr := conns[0].ConnState().Transport; tr != "websocket" {
		t.Errorf("transport %q, want websocket", tr)
	}
	if !IsWSS(conns[0].RemoteMultiaddr()) {
		t.Errorf("remote address %s is not /tls/ws", conns[0].RemoteMultiaddr())
	}

	s, err := client.NewStream(ctx, server.ID(), testEcho)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := []byte("hello over wss")
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

// recordingConn keeps the first bytes read from the connection.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if len(c.buf) < 4096 {
		c.buf = append(c.buf, p[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) first() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf)
}

// TestWSSLooksLikeTLS sends a TLS ClientHello to the WSS port over a raw TCP
// connection and checks that the first bytes back are a TLS handshake record
// holding a ServerHello: nothing of libp2p is sent in clear.
func TestWSSLooksLikeTLS(t *testing.T) {
	const name = "cdn.example.net"
	server := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, WSS: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, WSSName: name})
	raw, err := net.DialTimeout("tcp", wssTCPAddr(t, server), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := &recordingConn{Conn: raw}
	tc := tls.Client(rc, &tls.Config{ServerName: name, InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate itself
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	b := rc.first()
	// Record type 22 (handshake), version 3.x, then a handshake of type 2
	// (ServerHello) after the 5-byte record header.
	if len(b) < 6 || b[0] != 0x16 || b[1] != 0x03 || b[5] != 0x02 {
		t.Fatalf("first bytes from the WSS port % x, want a TLS ServerHello record (16 03 .. .. .. 02)", b[:min(len(b), 16)])
	}
	for _, s := range []string{"multistream", "libp2p", "noise", "yamux", "mystp2p"} {
		if bytes.Contains(bytes.ToLower(b), []byte(s)) {
			t.Errorf("server's first bytes contain %q in clear", s)
		}
	}
	cs := tc.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		t.Fatal("no server certificate")
	}
	leaf := cs.PeerCertificates[0]
	if err := leaf.VerifyHostname(name); err != nil {
		t.Errorf("certificate: %v", err)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("certificate key %T, want ECDSA", leaf.PublicKey)
	}

	// A plain HTTPS GET on the same connection gets an ordinary page.
	if _, err := io.WriteString(tc, "GET / HTTP/1.1\r\nHost: "+name+"\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(tc)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte("HTTP/1.1 200 OK")) || !bytes.Contains(body, []byte("It works!")) {
		t.Fatalf("GET / answered %q", body)
	}
}

// TestWSSHTTPFallback does what a browser or a prober would: HTTPS GETs that
// are not WebSocket upgrades.
func TestWSSHTTPFallback(t *testing.T) {
	server := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed test server
		ForceAttemptHTTP2: true,
	}}
	defer c.CloseIdleConnections()
	base := "https://" + wssTCPAddr(t, server)
	for _, tc := range []struct {
		path string
		code int
	}{{"/", 200}, {"/index.html", 200}, {"/admin", 404}} {
		resp, err := c.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.code)
		}
		if bytes.Contains(body, []byte("libp2p")) {
			t.Errorf("GET %s: body mentions libp2p: %q", tc.path, body)
		}
	}
}

// TestWSSCertFiles loads an operator's certificate from PEM files.
func TestWSSCertFiles(t *testing.T) {
	cert, err := SelfSignedCert("node.example.org")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	server := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0/wss"}, WSSCertFile: certFile, WSSKeyFile: keyFile})
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", wssTCPAddr(t, server), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // compared below
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if got := tc.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(got, cert.Certificate[0]) {
		t.Fatal("the WSS listener does not serve the certificate from the files")
	}

	id, _ := identity.Generate()
	if _, err := NewHost(HostConfig{Identity: id, Listen: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, WSSCertFile: certFile}); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
	if _, err := NewHost(HostConfig{Identity: id, Listen: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, WSSCertFile: keyFile, WSSKeyFile: certFile}); err == nil {
		t.Fatal("swapped certificate and key files were accepted")
	}
}

// TestWSSBindFailureIsFatal: a WSS address the operator asked for must bind.
func TestWSSBindFailureIsFatal(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	id, _ := identity.Generate()
	h, err := NewHost(HostConfig{Identity: id, Listen: []string{"/ip4/127.0.0.1/tcp/0"}, WSS: []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/tls/ws", port)}})
	if err == nil {
		h.Close()
		t.Fatal("NewHost started although the WSS port is taken")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error %v does not wrap EADDRINUSE", err)
	}
}

func TestWSSListenErrorNamesTheFix(t *testing.T) {
	a := ma.StringCast("/ip4/0.0.0.0/tcp/443/tls/ws")
	err := wssListenError(a, &net.OpError{Op: "listen", Net: "tcp4", Err: os.NewSyscallError("bind", syscall.EACCES)})
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("%v does not wrap EACCES", err)
	}
	for _, s := range []string{"CAP_NET_BIND_SERVICE", "root", "443"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%q does not mention %s", err, s)
		}
	}
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TestDefaultListenIPv4AndIPv6 starts a host on DefaultListen.
func TestDefaultListenIPv4AndIPv6(t *testing.T) {
	h := newTestHost(t, HostConfig{})
	var v4tcp, v4quic, v6tcp, v6quic bool
	for _, a := range h.Network().ListenAddresses() {
		_, isQUIC := a.ValueForProtocol(ma.P_QUIC_V1)
		_, is4 := a.ValueForProtocol(ma.P_IP4)
		_, is6 := a.ValueForProtocol(ma.P_IP6)
		switch {
		case is4 == nil && isQUIC == nil:
			v4quic = true
		case is4 == nil:
			v4tcp = true
		case is6 == nil && isQUIC == nil:
			v6quic = true
		case is6 == nil:
			v6tcp = true
		}
	}
	if !v4tcp || !v4quic {
		t.Fatalf("IPv4 TCP %v, QUIC %v in %v", v4tcp, v4quic, h.Network().ListenAddresses())
	}
	if !hasIPv6Loopback() {
		t.Skip("IPv4 part passed; skipping the IPv6 part: this machine has no ::1 to listen on")
	}
	if !v6tcp || !v6quic {
		t.Fatalf("IPv6 TCP %v, QUIC %v in %v", v6tcp, v6quic, h.Network().ListenAddresses())
	}
	// And both families carry a connection.
	for _, ip := range []string{"127.0.0.1", "::1"} {
		other := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
		var addrs []ma.Multiaddr
		for _, a := range h.Network().ListenAddresses() {
			if _, err := a.ValueForProtocol(ma.P_TCP); err != nil {
				continue
			}
			if x, err := manet.ToIP(a); err == nil && x.IsUnspecified() && (x.To4() != nil) == (ip == "127.0.0.1") {
				port, _ := a.ValueForProtocol(ma.P_TCP)
				addrs = append(addrs, ma.StringCast(fmt.Sprintf("/%s/%s/tcp/%s", map[bool]string{true: "ip4", false: "ip6"}[x.To4() != nil], ip, port)))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := other.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: addrs})
		cancel()
		if err != nil {
			t.Errorf("connect over %v: %v", addrs, err)
		}
	}
}

// TestNoIPv6StillStarts: an IPv6 address that cannot be bound (2001:db8::/32
// is for documentation, so no interface of this machine has it) does not
// keep the host from starting on IPv4.
func TestNoIPv6StillStarts(t *testing.T) {
	h := newTestHost(t, HostConfig{Listen: []string{
		"/ip4/127.0.0.1/tcp/0",
		"/ip4/127.0.0.1/udp/0/quic-v1",
		"/ip6/2001:db8::1/tcp/0",
		"/ip6/2001:db8::1/udp/0/quic-v1",
	}})
	got := h.Network().ListenAddresses()
	if len(addrsWith(h, ma.P_IP6)) != 0 || len(addrsWith(h, ma.P_IP4)) != 2 {
		t.Fatalf("listening on %v, want the two IPv4 addresses only", got)
	}
}

// TestUDPMuxWithIPv6QUIC checks that an IPv4 UDP mux and a QUIC listener on
// IPv6 can share one host, as DefaultListen asks for. (muxFor drops every
// other QUIC address today; this says it need not drop the IPv6 one.)
func TestUDPMuxWithIPv6QUIC(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("this machine has no ::1 to listen on")
	}
	m, err := wgpath.NewMux(&net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) // after the host's Close, which runs first
	h := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0", "/ip6/::/udp/0/quic-v1"}, UDPMux: m})
	var v4, v6 bool
	for _, a := range addrsWith(h, ma.P_QUIC_V1) {
		if _, err := a.ValueForProtocol(ma.P_IP6); err == nil {
			v6 = true
		} else {
			v4 = true
		}
	}
	if !v4 || !v6 {
		t.Fatalf("QUIC on IPv4 %v (mux), IPv6 %v: %v", v4, v6, h.Network().ListenAddresses())
	}
	client := newTestHost(t, HostConfig{Listen: []string{"/ip6/::1/udp/0/quic-v1"}})
	var addrs []ma.Multiaddr
	for _, a := range addrsWith(h, ma.P_QUIC_V1) {
		if _, err := a.ValueForProtocol(ma.P_IP6); err == nil {
			port, _ := a.ValueForProtocol(ma.P_UDP)
			addrs = append(addrs, ma.StringCast("/ip6/::1/udp/"+port+"/quic-v1"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: addrs}); err != nil {
		t.Fatalf("connect over IPv6 QUIC %v next to the mux: %v", addrs, err)
	}
}

// TestNodeJoinsOverWSS: a node whose only way to its bootstrap peer is that
// peer's WSS address joins the network through it.
func TestNodeJoinsOverWSS(t *testing.T) {
	limits := relay.DefaultLimits()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	boot, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback, WSS: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, RelayService: &limits, Reachability: ReachabilityPublic}, DHTServer: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	wss := addrsWith(boot.Host(), ma.P_WS)
	if len(wss) != 1 {
		t.Fatalf("bootstrap node listens on %v, want one WSS address", boot.Host().Network().ListenAddresses())
	}
	n, err := New(ctx, Config{Host: HostConfig{Identity: mustID(t), Listen: loopback}, Bootstrap: []peer.AddrInfo{{ID: boot.ID(), Addrs: wss}}})
	if err != nil {
		t.Fatalf("join over %v: %v", wss, err)
	}
	t.Cleanup(func() { n.Close() })
	var ws bool
	for _, c := range n.Host().Network().ConnsToPeer(boot.ID()) {
		ws = ws || c.ConnState().Transport == "websocket"
	}
	if !ws {
		t.Fatalf("no websocket connection to the bootstrap peer: %v", n.Host().Network().ConnsToPeer(boot.ID()))
	}
}
