package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// sessionNet is a relay, a provider serving sessions and a consumer.
type sessionNet struct {
	relay, prov, cons *overlay.Node
	proposal          *overlay.SignedProposal
}

func newSessionNet(t *testing.T, policy *tunnel.ExitPolicy, maxSessions int) *sessionNet {
	t.Helper()
	return newSessionNetConfig(t, server.Config{MaxSessions: maxSessions, Policy: policy, PingTimeout: 3 * time.Second})
}

// newSessionNetConfig is newSessionNet with the provider's server
// configured by cfg.
func newSessionNetConfig(t *testing.T, cfg server.Config) *sessionNet {
	t.Helper()
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, overlay.Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	if err := serve(t, prov, cfg); err != nil {
		t.Fatal(err)
	}
	cons := newTestNode(t, overlay.Config{Bootstrap: boot})
	if err := cons.Host().Connect(ctx, prov.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	return &sessionNet{relay: r, prov: prov, cons: cons, proposal: sp}
}

func loopbackPolicy(t *testing.T) *tunnel.ExitPolicy {
	p, err := tunnel.NewExitPolicy(tunnel.WithAllowLoopback())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// socksGet fetches url through a SOCKS5 proxy with a hostname the proxy resolves.
func socksGet(t *testing.T, proxy netAddr, target string) (string, error) {
	t.Helper()
	pu, _ := url.Parse("socks5h://" + proxy.String())
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 20 * time.Second}
	resp, err := c.Get(target)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

type netAddr interface{ String() string }

func TestSessionEndToEnd(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from origin, you are %s", r.RemoteAddr)
	}))
	defer origin.Close()
	for _, transport := range []wgpath.Transport{wgpath.UDP, wgpath.Stream} {
		t.Run(string(transport), func(t *testing.T) {
			sn := newSessionNet(t, loopbackPolicy(t), 4)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var stages []string
			s, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal, Transport: transport,
				Progress: func(st string) { stages = append(stages, st) }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Both transports are direct here: the stream rides a direct
			// libp2p connection, not a relay.
			if st := s.State(); st != session.Attached {
				t.Fatalf("connected session is %s, want attached", st)
			}
			// By default UDP is masked; the stream rides libp2p's encryption.
			want := map[wgpath.Transport]client.Obfuscation{wgpath.UDP: client.ObfsMasked, wgpath.Stream: client.ObfsInsideLibp2p}[transport]
			if got := s.Obfuscation(); got != want {
				t.Fatalf("session over %s: obfuscation %s, want %s", transport, got, want)
			}
			if s.Path() != wgpath.Direct || s.Transport() != transport {
				t.Fatalf("path %s over %s, want direct over %s", s.Path(), s.Transport(), transport)
			}
			if len(stages) < 3 || !strings.HasPrefix(stages[len(stages)-1], "tunnel up") {
				t.Fatalf("progress stages %v", stages)
			}
			socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer socks.Close()
			body, err := socksGet(t, socks.Addr(), origin.URL)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(body, "hello from origin") {
				t.Fatalf("body %q", body)
			}
			if st := s.Stats(); st.RxBytes == 0 || st.TxBytes == 0 {
				t.Fatalf("session not metered: %+v", st)
			}
			if n := active(sn.prov); n != 1 {
				t.Fatalf("provider has %d sessions", n)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if st := s.State(); st != session.Closed {
				t.Fatalf("closed session is %s", st)
			}
			tstest.WaitFor(t, 30*time.Second, "provider to drop the session", func() bool { return active(sn.prov) == 0 })
		})
	}
}

// Under the default exit policy a consumer cannot reach the provider's
// loopback, and the SOCKS client is told the connection is not allowed.
func TestSessionDefaultPolicyBlocksLoopback(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") }))
	defer origin.Close()
	policy, err := tunnel.NewExitPolicy()
	if err != nil {
		t.Fatal(err)
	}
	sn := newSessionNet(t, policy, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer socks.Close()
	if body, err := socksGet(t, socks.Addr(), origin.URL); err == nil {
		t.Fatalf("reached the provider's loopback: %q", body)
	}
	// A second consumer is refused: the provider is full.
	other := newTestNode(t, overlay.Config{Bootstrap: []peer.AddrInfo{sn.relay.AddrInfo()}})
	_, err = client.Connect(ctx, other, client.Config{Proposal: sn.proposal})
	var rej *session.RejectedError
	if !errors.As(err, &rej) || rej.Code != session.RejectFull {
		t.Fatalf("second session: %v, want a %q rejection", err, session.RejectFull)
	}
}

func TestSessionRejectsChangedPrice(t *testing.T) {
	sn := newSessionNet(t, loopbackPolicy(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stale := *sn.proposal
	stale.Proposal.PriceGiB = "1"
	_, err := client.Connect(ctx, sn.cons, client.Config{Proposal: &stale})
	var rej *session.RejectedError
	if !errors.As(err, &rej) || rej.Code != session.RejectPrice {
		t.Fatalf("err = %v, want a %q rejection", err, session.RejectPrice)
	}
	if active(sn.prov) != 0 {
		t.Fatal("a rejected request left a session behind")
	}
}

// When the provider goes away the consumer's session ends with client.ErrProviderGone.
func TestSessionProviderGone(t *testing.T) {
	sn := newSessionNet(t, loopbackPolicy(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sn.prov.Close()
	select {
	case <-s.Done():
	case <-time.After(40 * time.Second):
		t.Fatal("consumer never noticed the provider left")
	}
	if !errors.Is(s.Err(), client.ErrProviderGone) {
		t.Fatalf("session ended with %v", s.Err())
	}
}

// A consumer that stops pinging loses its session at the provider.
func TestSessionReapedWithoutPings(t *testing.T) {
	sn := newSessionNet(t, loopbackPolicy(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := call(ctx, sn.cons, sn.prov.ID(), session.Request{Kind: session.Open, PriceHour: testOffer.PriceHour,
		PriceGiB: testOffer.PriceGiB, WGKey: mustWGKey(t), Transport: wgpath.Stream})
	if err != nil {
		t.Fatal(err)
	}
	_ = rep
	if active(sn.prov) != 1 {
		t.Fatal("session not opened")
	}
	tstest.WaitFor(t, 30*time.Second, "the provider to reap the silent session", func() bool { return active(sn.prov) == 0 })
}

// Garbage on the session protocol gets an error reply or a reset, never a crash.
func TestSessionHostileRequests(t *testing.T) {
	sn := newSessionNet(t, loopbackPolicy(t), 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for name, raw := range map[string][]byte{
		"not json":     append([]byte{5}, "hello"...),
		"huge length":  {0xff, 0xff, 0xff, 0xff, 0x0f},
		"unknown kind": frame(`{"kind":"launch"}`),
		"extra field":  frame(`{"kind":"ping","session":"x","evil":1}`),
		"bad key":      frame(`{"kind":"open","wg_key":"zz","transport":"udp"}`),
		"no port":      frame(fmt.Sprintf(`{"kind":"open","price_hour":%q,"price_gib":%q,"wg_key":%q,"transport":"udp"}`, testOffer.PriceHour, testOffer.PriceGiB, mustWGKey(t).String())),
		"other's ping": frame(`{"kind":"ping","session":"00"}`),
	} {
		t.Run(name, func(t *testing.T) {
			st, err := sn.cons.Host().NewStream(ctx, sn.prov.ID(), session.Protocol)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			st.SetDeadline(time.Now().Add(10 * time.Second))
			st.Write(raw)
			st.CloseWrite()
			var rep session.Reply
			err = session.Read(bufio.NewReader(st), &rep)
			if err == nil && rep.OK {
				t.Fatalf("hostile request accepted: %+v", rep)
			}
		})
	}
	if active(sn.prov) != 0 {
		t.Fatal("hostile requests left sessions")
	}
}

func frame(s string) []byte {
	var b []byte
	b = append(b, byte(len(s))) // all test frames are < 128 bytes
	return append(b, s...)
}

func mustWGKey(t *testing.T) tunnel.PublicKey {
	k, err := tunnel.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey()
}

// Sessions are counted by role and path for the metrics endpoint.
func TestSessionMetrics(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	preg, creg := prometheus.NewRegistry(), prometheus.NewRegistry()
	prov := newTestNode(t, overlay.Config{Host: overlay.HostConfig{Metrics: preg}, Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	if err := serve(t, prov, server.Config{MaxSessions: 1, Policy: loopbackPolicy(t)}); err != nil {
		t.Fatal(err)
	}
	cons := newTestNode(t, overlay.Config{Host: overlay.HostConfig{Metrics: creg}, Bootstrap: boot})
	s, err := client.Connect(ctx, cons, client.Config{Proposal: sp})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other := newTestNode(t, overlay.Config{Bootstrap: boot})
	if _, err := client.Connect(ctx, other, client.Config{Proposal: sp}); err == nil {
		t.Fatal("second session accepted by a provider with room for one")
	}
	want := map[*prometheus.Registry]string{
		creg: `mystp2p_sessions_total{path="direct",role="consumer",transport="udp"} 1`,
		preg: `mystp2p_sessions_rejected_total{code="full"} 1`,
	}
	for reg, line := range want {
		if got := gatherText(t, reg); !strings.Contains(got, line) {
			t.Errorf("metrics lack %q:\n%s", line, got)
		}
	}
	if got := gatherText(t, preg); !strings.Contains(got, "mystp2p_provider_sessions_active 1") {
		t.Errorf("active sessions gauge:\n%s", got)
	}
}

func gatherText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// A consumer that turns obfuscation off gets a plain session, one that
// requires it a masked one; only a stream session can be upgraded.
func TestSessionObfuscationNegotiated(t *testing.T) {
	sn := newSessionNet(t, loopbackPolicy(t), 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plain, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal, Obfuscation: client.ObfsOff})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.Obfuscated() {
		t.Fatal("obfuscation off, yet the session is obfuscated")
	}
	obf, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal, Transport: wgpath.UDP, Obfuscation: client.ObfsRequire})
	if err != nil {
		t.Fatal(err)
	}
	defer obf.Close()
	if !obf.Obfuscated() {
		t.Fatal("obfuscation required, yet the session is plain")
	}
	_, err = call(ctx, sn.cons, sn.prov.ID(), session.Request{Kind: session.Upgrade, Session: obf.ID, Transport: wgpath.UDPMux})
	var rej *session.RejectedError
	if !errors.As(err, &rej) || rej.Code != session.RejectState {
		t.Fatalf("upgrade of a direct udp session: %v, want %s", err, session.RejectState)
	}
	if _, err := client.ParseObfsMode("sometimes"); err == nil {
		t.Fatal("ParseObfsMode accepted a bad mode")
	}
}

// A StreamOnly provider (a bridge) refuses the UDP transports as policy, so
// a consumer that lets Connect choose lands on the stream transport at
// once, and one that insists on UDP gets the reason.
func TestSessionStreamOnly(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	prov := newTestNode(t, overlay.Config{Bootstrap: boot})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sp, err := prov.Advertise(ctx, testOffer)
	if err != nil {
		t.Fatal(err)
	}
	if err := serve(t, prov, server.Config{MaxSessions: 2, Policy: loopbackPolicy(t), StreamOnly: true}); err != nil {
		t.Fatal(err)
	}
	cons := newTestNode(t, overlay.Config{Bootstrap: boot})
	for _, tr := range []wgpath.Transport{wgpath.UDP} {
		_, err := client.Connect(ctx, cons, client.Config{Proposal: sp, Transport: tr})
		var rej *session.RejectedError
		if !errors.As(err, &rej) || rej.Code != session.RejectPolicy || !strings.Contains(rej.Error(), "bridge") {
			t.Fatalf("%s on a stream-only provider: %v, want a policy rejection naming the bridge", tr, err)
		}
	}
	s, err := client.Connect(ctx, cons, client.Config{Proposal: sp})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Transport() != wgpath.Stream {
		t.Fatalf("transport %s, want stream", s.Transport())
	}
}
