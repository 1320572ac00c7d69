package testnet

import (
	"slices"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/mystp2p/mystp2p/testnet/netlab"
)

func TestTrustLabRanges(t *testing.T) {
	a := ma.StringCast("/ip4/203.0.113.10/udp/4001/quic-v1")
	b := ma.StringCast("/ip4/192.0.2.1/udp/4001/quic-v1")
	if manet.IsPublicAddr(a) {
		t.Fatal("documentation range public before trustLabRanges")
	}
	saved := slices.Clone(manet.Unroutable4)
	t.Cleanup(func() { manet.Unroutable4 = saved })
	trustLabRanges(netlab.InternetPrefixes())
	if !manet.IsPublicAddr(a) {
		t.Fatal("lab range still not public")
	}
	if manet.IsPublicAddr(b) {
		t.Fatal("a range outside the lab became public")
	}
}
