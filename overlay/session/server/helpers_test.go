package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/guard"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/relay"
)

// TestMain fails the package when any stream handler panicked, even if the
// guard kept the node up.
func TestMain(m *testing.M) {
	code := m.Run()
	if n := guard.Panics(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d stream handler panic(s) were recovered: a recovered panic is a bug\n", n)
		code = 1
	}
	os.Exit(code)
}

var loopback = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

func newTestNode(t *testing.T, cfg overlay.Config) *overlay.Node {
	t.Helper()
	if cfg.Host.Identity == nil {
		cfg.Host.Identity = mustID(t)
	}
	cfg.Host.Listen = loopback
	if cfg.ProposalTTL == 0 {
		cfg.ProposalTTL = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := overlay.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newRelay(t *testing.T) *overlay.Node {
	limits := relay.DefaultLimits()
	return newTestNode(t, overlay.Config{Host: overlay.HostConfig{RelayService: &limits, Reachability: overlay.ReachabilityPublic}, DHTServer: true})
}

func mustID(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var testOffer = overlay.Offer{Country: "DE", IPType: overlay.IPResidential, PriceHour: "50000000000000000", PriceGiB: "200000000000000000"}

// servers maps each test provider node to its session server.
var servers sync.Map // *overlay.Node → *server.Server

// serve starts a session server on n; the node's Close closes it.
func serve(t *testing.T, n *overlay.Node, cfg server.Config) error {
	t.Helper()
	cfg.Node = n
	s, err := server.New(cfg)
	if err != nil {
		return err
	}
	servers.Store(n, s)
	return nil
}

// active is how many sessions n's server holds.
func active(n *overlay.Node) int {
	s, ok := servers.Load(n)
	if !ok {
		return 0
	}
	return s.(*server.Server).Active()
}

// call sends one raw session request from a node to a provider.
func call(ctx context.Context, from *overlay.Node, to peer.ID, req session.Request) (session.Reply, error) {
	st, err := from.Host().NewStream(network.WithAllowLimitedConn(ctx, "test"), to, session.Protocol)
	if err != nil {
		return session.Reply{}, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := session.Write(st, req); err != nil {
		return session.Reply{}, err
	}
	var rep session.Reply
	if err := session.Read(bufio.NewReader(st), &rep); err != nil {
		return session.Reply{}, err
	}
	if !rep.OK {
		return rep, &session.RejectedError{Provider: to.String(), Code: rep.Code, Message: rep.Message}
	}
	return rep, nil
}
