package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/guard"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// hostileNet is a provider, a hostile consumer that speaks the session
// protocol by hand, and a well-behaved consumer, on real libp2p hosts over
// loopback.
type hostileNet struct {
	prov, evil, good *overlay.Node
	srv              *server.Server
	proposal         *overlay.SignedProposal
	origin           *httptest.Server
}

const (
	hostileMaxSessions    = 12
	hostileMaxPerConsumer = 4
)

func newHostileNet(t *testing.T) *hostileNet {
	t.Helper()
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	hn := &hostileNet{prov: newTestNode(t, overlay.Config{Bootstrap: boot})}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	if hn.proposal, err = hn.prov.Advertise(ctx, testOffer); err != nil {
		t.Fatal(err)
	}
	hn.srv, err = server.New(server.Config{Node: hn.prov, MaxSessions: hostileMaxSessions, MaxPerConsumer: hostileMaxPerConsumer,
		Policy: loopbackPolicy(t), AttachTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	servers.Store(hn.prov, hn.srv)
	hn.evil = newTestNode(t, overlay.Config{Bootstrap: boot})
	hn.good = newTestNode(t, overlay.Config{Bootstrap: boot})
	for _, n := range []*overlay.Node{hn.evil, hn.good} {
		if err := n.Host().Connect(ctx, hn.prov.AddrInfo()); err != nil {
			t.Fatal(err)
		}
	}
	hn.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello from origin")
	}))
	t.Cleanup(hn.origin.Close)
	return hn
}

// open opens a session by hand from the hostile consumer.
func (hn *hostileNet) open(ctx context.Context, t *testing.T, transport wgpath.Transport, udpPort uint16) (session.Reply, error) {
	return call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Open, PriceHour: testOffer.PriceHour,
		PriceGiB: testOffer.PriceGiB, WGKey: mustWGKey(t), Transport: transport, UDPPort: udpPort})
}

// attach sends an Attach on a new tunnel stream and returns the reply; the
// stream stays open (the caller closes it) so an accepted one keeps its
// tunnel.
func attach(ctx context.Context, from *overlay.Node, to peer.ID, id string) (network.Stream, session.Reply, error) {
	st, err := from.Host().NewStream(ctx, to, session.TunnelProtocol)
	if err != nil {
		return nil, session.Reply{}, err
	}
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := session.Write(st, session.Request{Kind: session.Attach, Session: id}); err != nil {
		st.Reset()
		return nil, session.Reply{}, err
	}
	var rep session.Reply
	if err := session.Read(bufio.NewReader(st), &rep); err != nil {
		st.Reset()
		return nil, session.Reply{}, err
	}
	return st, rep, nil
}

// code is the reject code of err, or "ok".
func code(err error) session.RejectCode {
	if err == nil {
		return "ok"
	}
	var rej *session.RejectedError
	if errors.As(err, &rej) {
		return rej.Code
	}
	return session.RejectCode("error: " + err.Error())
}

// wellBehaved connects the good consumer and fetches from the origin
// through its tunnel: the provider still serves everyone else.
func (hn *hostileNet) wellBehaved(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, hn.good, client.Config{Proposal: hn.proposal})
	if err != nil {
		t.Fatalf("a well-behaved consumer cannot connect: %v", err)
	}
	defer s.Close()
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer socks.Close()
	body, err := socksGet(t, socks.Addr(), hn.origin.URL)
	if err != nil || body != "hello from origin" {
		t.Fatalf("well-behaved consumer's fetch: %q, %v", body, err)
	}
}

// TestHostileConsumer sends concurrent, repeated, out-of-order and
// misaddressed requests of every kind to a provider over real libp2p
// hosts. The provider survives, refuses each with a clear code, keeps
// serving a well-behaved consumer, holds no session afterwards and leaves
// no goroutine behind once closed.
func TestHostileConsumer(t *testing.T) {
	tstest.CheckGoroutines(t, tstest.LeakTimeout(30*time.Second))
	panicsBefore := guard.Panics()
	hn := newHostileNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("simultaneous tunnel attaches", func(t *testing.T) {
		// The crash this suite was written for: a free stream session, then
		// 32 tunnel streams for it at the same instant.
		rep, err := hn.open(ctx, t, wgpath.Stream, 0)
		if err != nil {
			t.Fatal(err)
		}
		const n = 32
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			codes   = map[session.RejectCode]int{}
			streams []network.Stream
			start   = make(chan struct{})
		)
		for range n {
			wg.Go(func() {
				<-start
				st, r, err := attach(ctx, hn.evil, hn.prov.ID(), rep.Session)
				c := session.RejectCode("ok")
				switch {
				case err != nil:
					c = session.RejectCode("error")
				case !r.OK:
					c = r.Code
				}
				mu.Lock()
				codes[c]++
				if st != nil {
					streams = append(streams, st)
				}
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
		t.Cleanup(func() {
			for _, st := range streams {
				st.Reset()
			}
		})
		if codes["ok"] != 1 || codes[session.RejectBusy]+codes[session.RejectState] != n-1 {
			t.Fatalf("attach replies %v: want exactly one ok, the rest %s or %s", codes, session.RejectBusy, session.RejectState)
		}
		if got := hn.srv.Active(); got != 1 {
			t.Fatalf("%d sessions after the attaches, want 1", got)
		}
		// The same session closed twice at once: one close wins.
		var ok, refused atomic.Int32
		for range 2 {
			wg.Go(func() {
				_, err := call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Close, Session: rep.Session})
				switch code(err) {
				case "ok":
					ok.Add(1)
				case session.RejectClosing, session.RejectNoSession:
					refused.Add(1)
				default:
					t.Errorf("second close: %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 1 {
			t.Fatalf("double close: %d ok, %d refused; want 1 and 1", ok.Load(), refused.Load())
		}
		tstest.WaitFor(t, 10*time.Second, "the closed session to leave the table", func() bool { return hn.srv.Active() == 0 })
		// Attaching to it now finds nothing.
		if st, r, err := attach(ctx, hn.evil, hn.prov.ID(), rep.Session); err != nil || r.OK || r.Code != session.RejectNoSession {
			t.Fatalf("attach after close: %+v, %v; want %s", r, err, session.RejectNoSession)
		} else {
			st.Reset()
		}
	})

	t.Run("opens beyond the per-consumer limit", func(t *testing.T) {
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ids []string
		codes := map[session.RejectCode]int{}
		for range n {
			wg.Go(func() {
				rep, err := hn.open(ctx, t, wgpath.Stream, 0)
				mu.Lock()
				defer mu.Unlock()
				codes[code(err)]++
				if err == nil {
					ids = append(ids, rep.Session)
				}
			})
		}
		wg.Wait()
		if codes["ok"] != hostileMaxPerConsumer || codes[session.RejectFull] != n-hostileMaxPerConsumer {
			t.Fatalf("open replies %v: want %d ok and the rest %s", codes, hostileMaxPerConsumer, session.RejectFull)
		}
		// One consumer cannot take the whole provider: another still gets in.
		hn.wellBehaved(t)
		// Sessions whose tunnel stream never comes are dropped.
		tstest.WaitFor(t, 20*time.Second, "unattached sessions to be dropped", func() bool { return hn.srv.Active() == 0 })
		for _, id := range ids {
			if _, err := call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Ping, Session: id}); code(err) != session.RejectNoSession {
				t.Errorf("ping of a dropped session: %v, want %s", err, session.RejectNoSession)
			}
		}
	})

	t.Run("requests for sessions that are not yours", func(t *testing.T) {
		// The good consumer's session, found by the hostile one.
		s, err := client.Connect(ctx, hn.good, client.Config{Proposal: hn.proposal, Transport: wgpath.Stream})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, req := range []session.Request{
			{Kind: session.Ping, Session: s.ID},
			{Kind: session.Close, Session: s.ID},
			{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDPMux},
			{Kind: session.DialBack, Session: s.ID},
			{Kind: session.Punch, Session: s.ID, PunchMapping: overlay.MappingEndpointDependent, PunchIP: "8.8.8.8"},
			{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDP, Punched: true},
		} {
			if _, err := call(ctx, hn.evil, hn.prov.ID(), req); code(err) != session.RejectNoSession {
				t.Errorf("%s of another's session: %v, want %s", req.Kind, err, session.RejectNoSession)
			}
		}
		if st, r, err := attach(ctx, hn.evil, hn.prov.ID(), s.ID); err != nil || r.Code != session.RejectNoSession {
			t.Errorf("attach to another's session: %+v, %v", r, err)
		} else {
			st.Reset()
		}
		// The owner's session is untouched.
		select {
		case <-s.Done():
			t.Fatalf("the owner's session ended: %v", s.Err())
		default:
		}
		if _, err := call(ctx, hn.good, hn.prov.ID(), session.Request{Kind: session.Ping, Session: s.ID}); err != nil {
			t.Fatalf("owner's ping: %v", err)
		}
	})

	t.Run("punch requests", func(t *testing.T) {
		// The owner's own attached stream session. On loopback neither end
		// has a public address, so no request here makes the provider
		// send a probe anywhere.
		s, err := client.Connect(ctx, hn.good, client.Config{Proposal: hn.proposal, Transport: wgpath.Stream})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ed := overlay.MappingEndpointDependent
		for name, tc := range map[string]struct {
			req  session.Request
			want session.RejectCode
		}{
			"no symmetric end":           {session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: overlay.MappingEndpointIndependent, PunchAddr: "8.8.8.8:4001"}, session.RejectPolicy},
			"unknown mapping":            {session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: "weird"}, session.RejectPolicy},
			"private IP":                 {session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: ed, PunchIP: "10.1.2.3"}, session.RejectBadRequest},
			"no IP":                      {session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: ed}, session.RejectBadRequest},
			"provider's address unknown": {session.Request{Kind: session.Punch, Session: s.ID, PunchMapping: ed, PunchIP: "8.8.8.8"}, session.RejectPolicy},
			"punched upgrade, no punch":  {session.Request{Kind: session.Upgrade, Session: s.ID, Transport: wgpath.UDP, Punched: true}, session.RejectState},
		} {
			if _, err := call(ctx, hn.good, hn.prov.ID(), tc.req); code(err) != tc.want {
				t.Errorf("%s: %v, want %s", name, err, tc.want)
			}
		}
		if _, err := call(ctx, hn.good, hn.prov.ID(), session.Request{Kind: session.Ping, Session: s.ID}); err != nil {
			t.Fatalf("the session after the refused punches: %v", err)
		}
	})

	t.Run("out of order and wrong state", func(t *testing.T) {
		udpRep, err := hn.open(ctx, t, wgpath.UDP, 9) // a UDP session: its tunnel exists at once
		if err != nil {
			t.Fatal(err)
		}
		streamRep, err := hn.open(ctx, t, wgpath.Stream, 0) // Opening until a tunnel stream comes
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			req  session.Request
			want session.RejectCode
		}{
			"ping unknown":             {session.Request{Kind: session.Ping, Session: "nope"}, session.RejectNoSession},
			"close unknown":            {session.Request{Kind: session.Close, Session: "nope"}, session.RejectNoSession},
			"upgrade before attach":    {session.Request{Kind: session.Upgrade, Session: streamRep.Session, Transport: wgpath.UDPMux}, session.RejectState},
			"upgrade a udp session":    {session.Request{Kind: session.Upgrade, Session: udpRep.Session, Transport: wgpath.UDPMux}, session.RejectState},
			"upgrade to udp":           {session.Request{Kind: session.Upgrade, Session: streamRep.Session, Transport: wgpath.UDP}, session.RejectBadRequest},
			"unknown transport":        {session.Request{Kind: session.Open, PriceHour: testOffer.PriceHour, PriceGiB: testOffer.PriceGiB, WGKey: mustWGKey(t), Transport: "carrier-pigeon"}, session.RejectBadRequest},
			"attach kind on session/1": {session.Request{Kind: session.Attach, Session: streamRep.Session}, session.RejectBadRequest},
			"dial back private":        {session.Request{Kind: session.DialBack, Session: udpRep.Session, Addrs: []string{"/ip4/127.0.0.1/udp/1/quic-v1"}}, session.RejectBadRequest},
			"dial back too many":       {session.Request{Kind: session.DialBack, Session: udpRep.Session, Addrs: []string{"a", "b", "c", "d", "e"}}, session.RejectBadRequest},
			"punch a udp session":      {session.Request{Kind: session.Punch, Session: udpRep.Session, PunchMapping: overlay.MappingEndpointDependent, PunchIP: "8.8.8.8"}, session.RejectState},
			"punch before attach":      {session.Request{Kind: session.Punch, Session: streamRep.Session, PunchMapping: overlay.MappingEndpointDependent, PunchIP: "8.8.8.8"}, session.RejectState},
		} {
			if _, err := call(ctx, hn.evil, hn.prov.ID(), tc.req); code(err) != tc.want {
				t.Errorf("%s: %v, want %s", name, err, tc.want)
			}
		}
		// A tunnel stream for a UDP session, and one that does not start
		// with an attach.
		if st, r, err := attach(ctx, hn.evil, hn.prov.ID(), udpRep.Session); err != nil || r.Code != session.RejectState {
			t.Errorf("attach to a udp session: %+v, %v; want %s", r, err, session.RejectState)
		} else {
			st.Reset()
		}
		for _, id := range []string{udpRep.Session, streamRep.Session} {
			if _, err := call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Close, Session: id}); err != nil {
				t.Errorf("close: %v", err)
			}
			if _, err := call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Ping, Session: id}); code(err) != session.RejectNoSession {
				t.Errorf("ping after close: %v", err)
			}
		}
	})

	t.Run("every kind at once on one session", func(t *testing.T) {
		rep, err := hn.open(ctx, t, wgpath.Stream, 0)
		if err != nil {
			t.Fatal(err)
		}
		kinds := []session.Request{
			{Kind: session.Ping, Session: rep.Session},
			{Kind: session.Upgrade, Session: rep.Session, Transport: wgpath.UDPMux},
			{Kind: session.DialBack, Session: rep.Session, Addrs: []string{"/ip4/10.0.0.1/udp/1/quic-v1"}},
			{Kind: session.Punch, Session: rep.Session, PunchMapping: overlay.MappingEndpointDependent, PunchIP: "8.8.8.8"},
			{Kind: session.Upgrade, Session: rep.Session, Transport: wgpath.UDP, Punched: true},
			{Kind: session.Ping, Session: rep.Session},
		}
		var wg sync.WaitGroup
		var streams sync.Map
		for i := range 64 {
			wg.Go(func() {
				switch {
				case i%8 == 7:
					if st, _, err := attach(ctx, hn.evil, hn.prov.ID(), rep.Session); err == nil {
						streams.Store(st, true)
					}
				case i == 40:
					_, _ = call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Close, Session: rep.Session})
				default:
					_, _ = call(ctx, hn.evil, hn.prov.ID(), kinds[i%len(kinds)])
				}
			})
		}
		wg.Wait()
		streams.Range(func(k, _ any) bool { k.(network.Stream).Reset(); return true })
		_, _ = call(ctx, hn.evil, hn.prov.ID(), session.Request{Kind: session.Close, Session: rep.Session})
		tstest.WaitFor(t, 20*time.Second, "the session to be gone", func() bool { return hn.srv.Active() == 0 })
	})

	t.Run("garbage on both protocols", func(t *testing.T) {
		for _, proto := range []protocol.ID{session.Protocol, session.TunnelProtocol} {
			for _, raw := range [][]byte{
				{0xff, 0xff, 0xff, 0xff, 0x0f},
				frame(`{"kind":"attach","session":"x","evil":1}`),
				frame(strings.Repeat("[", 100)),
				{},
			} {
				st, err := hn.evil.Host().NewStream(ctx, hn.prov.ID(), proto)
				if err != nil {
					t.Fatal(err)
				}
				_ = st.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = st.Write(raw)
				_ = st.CloseWrite()
				var rep session.Reply
				if err := session.Read(bufio.NewReader(st), &rep); err == nil && rep.OK {
					t.Errorf("%s accepted %x", proto, raw)
				}
				st.Reset()
			}
		}
	})

	// After all of it the provider serves a well-behaved consumer, holds
	// nothing, and recovered no panic.
	hn.wellBehaved(t)
	tstest.WaitFor(t, 20*time.Second, "the provider to hold no session", func() bool { return hn.srv.Active() == 0 })
	if n := guard.Panics() - panicsBefore; n != 0 {
		t.Fatalf("%d handler panics were recovered", n)
	}
}
