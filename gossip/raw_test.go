package gossip

import (
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
)

// newRawPublisher joins topic with plain gossipsub: no validator, so it can
// send what an honest node never would.
func newRawPublisher(t *testing.T, h host.Host, topic string) *pubsub.Topic {
	t.Helper()
	ps, err := pubsub.NewGossipSub(t.Context(), h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign), pubsub.WithMessageIdFn(messageID))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := ps.Join(topic)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Cancel)
	return tp
}
