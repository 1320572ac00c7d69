package overlay

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/identity"
)

var testSecret = bytes.Repeat([]byte{7}, 32)

// newBridgeHost is a bridge on loopback with only its gate.
func newBridgeHost(t *testing.T) (h interface {
	ID() peer.ID
	Addrs() []ma.Multiaddr
}, gateAddr string, stats func() (uint64, uint64)) {
	t.Helper()
	b := newTestHost(t, HostConfig{WSS: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, BridgeSecret: testSecret})
	b.SetStreamHandler(testEcho, func(s network.Stream) {
		defer s.Close()
		_, _ = io.Copy(s, s)
	})
	var gated []ma.Multiaddr
	for _, a := range b.Addrs() {
		if isLoopbackWS(a) {
			t.Errorf("the bridge advertises its hidden listener %s", a)
		}
		if !IsWSS(a) {
			t.Errorf("the bridge advertises %s, which is not its gate", a)
			continue
		}
		gated = append(gated, a)
	}
	if len(gated) != 1 {
		t.Fatalf("bridge addresses %v, want its one gate", b.Addrs())
	}
	_, hp, err := manet.DialArgs(gated[0][:tcpIndex(gated[0])+1])
	if err != nil {
		t.Fatal(err)
	}
	return b, hp, func() (uint64, uint64) {
		s, ok := GateStats(b)
		if !ok {
			t.Fatal("GateStats: not a bridge host")
		}
		return s.Passed, s.Decoyed
	}
}

// TestBridgeAnswersOnlyItsSecret: a host that proves the bridge's secret
// connects and opens streams; one that does not gets no libp2p at all,
// and a prober gets a web server.
func TestBridgeAnswersOnlyItsSecret(t *testing.T) {
	b, gateAddr, stats := newBridgeHost(t)
	ai := peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}

	stranger := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := stranger.Connect(ctx, ai); err == nil {
		t.Fatal("a host without the secret connected to the bridge")
	}
	wrong := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, BridgeSecrets: [][]byte{bytes.Repeat([]byte{8}, 32)}})
	if err := wrong.Connect(ctx, ai); err == nil {
		t.Fatal("a host with another secret connected to the bridge")
	}
	if passed, decoyed := stats(); passed != 0 || decoyed < 2 {
		t.Fatalf("gate passed %d, decoyed %d: want every stranger decoyed", passed, decoyed)
	}

	friend := newTestHost(t, HostConfig{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, BridgeSecrets: [][]byte{bytes.Repeat([]byte{8}, 32), testSecret}})
	if err := friend.Connect(ctx, ai); err != nil {
		t.Fatalf("the secret's holder could not connect: %v", err)
	}
	s, err := friend.NewStream(ctx, b.ID(), testEcho)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, _ = s.Write([]byte("through the gate"))
	_ = s.CloseWrite()
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "through the gate" {
		t.Fatalf("echo through the bridge: %q, %v", got, err)
	}
	if passed, _ := stats(); passed != 1 {
		t.Fatalf("gate passed %d connections, want 1", passed)
	}

	// A prober: HTTPS gets the default page, a WebSocket upgrade gets the
	// same page and no 101, raw multistream gets no multistream.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + gateAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != defaultPage {
		t.Fatalf("HTTPS probe: %s %q, want the default page", resp.Status, body)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 5 * time.Second} //nolint:gosec // a probe
	if c, _, err := d.Dial("wss://"+gateAddr+"/", nil); err == nil {
		c.Close()
		t.Fatal("a prober's WebSocket upgrade was accepted")
	}
	raw, err := net.DialTimeout("tcp", gateAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(raw, "\x13/multistream/1.0.0\n")
	answer, _ := io.ReadAll(raw)
	if strings.Contains(string(answer), "multistream") {
		t.Fatalf("raw multistream probe answered %q", answer)
	}
}

func TestBridgeNeedsWSS(t *testing.T) {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewHost(HostConfig{Identity: id, BridgeSecret: testSecret}); err == nil || !strings.Contains(err.Error(), "WSS") {
		t.Fatalf("a bridge without a WSS address: %v, want an error naming WSS", err)
	}
	if _, err := NewHost(HostConfig{Identity: id, WSS: []string{"/ip4/127.0.0.1/tcp/0/tls/ws"}, BridgeSecret: []byte("short")}); err == nil {
		t.Fatal("a short bridge secret was accepted")
	}
}
