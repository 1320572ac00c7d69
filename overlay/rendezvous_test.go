package overlay

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// Nodes that are only DHT clients, as NATed providers are, meet each other
// through the gossip topic's DHT rendezvous, not only the bootstrap node:
// otherwise every proposal would travel through the one node everybody
// joined through. Their announcements must be in the DHT from the start,
// although gossipsub joins the topic before the node has joined the DHT.
func TestGossipPeersMeetThroughTheRendezvous(t *testing.T) {
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	var nodes []*Node
	for range 4 {
		nodes = append(nodes, newTestNode(t, Config{Bootstrap: boot}))
	}
	others := func(n *Node) []peer.ID {
		var ids []peer.ID
		for _, m := range nodes {
			if m != n {
				ids = append(ids, m.ID())
			}
		}
		return ids
	}
	tstest.WaitForNoError(t, 30*time.Second, "every node a topic peer of another, not only of the bootstrap", func() error {
		for i, n := range nodes {
			peers := n.feed.TopicPeers()
			if !slices.ContainsFunc(peers, func(p peer.ID) bool { return slices.Contains(others(n), p) }) {
				return fmt.Errorf("node %d has topic peers %v, none of them another node", i, peers)
			}
		}
		return nil
	})
}
