package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
)

// A provider whose control stream stops answering while its tunnel still
// carries traffic (a provider busy with many downloads answers pings late)
// keeps the session: the consumer counts a failed ping only when nothing
// came through the tunnel during it. Once the traffic stops, the failed
// pings end the session as before.
func TestSessionSurvivesSlowPingsWhileTrafficFlows(t *testing.T) {
	// The provider itself must not drop the session while its pings stall.
	sn := newSessionNetConfig(t, server.Config{MaxSessions: 1, Policy: loopbackPolicy(t), PingTimeout: time.Minute})
	prov := sn.prov
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := client.Connect(ctx, sn.cons, client.Config{Proposal: sn.proposal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// An origin on the provider's loopback that trickles bytes until told
	// to stop.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 512)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}
	}()
	conn, err := s.Tunnel.DialTCP(ctx, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() { _, _ = io.Copy(io.Discard, conn) }()

	// Every session call now hangs: pings time out.
	prov.Host().SetStreamHandler(session.Protocol, func(st network.Stream) {
		select {
		case <-time.After(10 * time.Second):
		case <-ctx.Done():
		}
		_ = st.Reset()
	})
	// Without the tunnel's evidence two failed pings (about 3 s) would end
	// the session.
	select {
	case <-s.Done():
		t.Fatalf("the session ended while its tunnel carried traffic: %v", s.Err())
	case <-time.After(7 * time.Second):
	}
	close(stop)
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the session outlived its idle tunnel and dead control stream")
	}
	if !errors.Is(s.Err(), client.ErrProviderGone) {
		t.Fatalf("session ended with %v, want ErrProviderGone", s.Err())
	}
}
