package tunnel_test

import (
	"errors"
	"log"
	"net"
	"net/netip"

	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ExampleNewTUNConsumer shows how `mystp2p connect --tun mystp2p0` brings
// a negotiated session up as a kernel interface. The socket is the one the
// session owner punched towards the provider's endpoint; everything the
// node keeps talking to outside the tunnel is excluded. (Not run: it needs
// root and changes the host's routes.)
func ExampleNewTUNConsumer() {
	var (
		consKey  tunnel.PrivateKey  // this session's key
		provPub  tunnel.PublicKey   // from the provider's session answer
		pair     tunnel.AddressPair // likewise
		sock     *net.UDPConn       // punched towards provEP
		provEP   netip.AddrPort     // the provider's WireGuard endpoint
		provAddr []netip.Addr       // every address the provider's peer is dialled on
		relays   []netip.Addr       // relays and bootstrap peers the node keeps using
		exclude  []netip.Prefix     // built below
	)
	for _, a := range append(provAddr, relays...) {
		exclude = append(exclude, netip.PrefixFrom(a, a.BitLen()))
	}
	bind, err := wgpath.NewUDPBind(sock, provEP)
	if err != nil {
		log.Fatal(err)
	}
	c, err := tunnel.NewTUNConsumer(tunnel.TUNConfig{
		ConsumerConfig: tunnel.ConsumerConfig{
			PrivateKey: consKey, PeerPublicKey: provPub, Addresses: pair, Bind: bind,
		},
		Name:    "mystp2p0",
		Exclude: exclude, // provEP itself is excluded by TUN mode
		DNS:     true,
	})
	if errors.Is(err, tunnel.ErrTUNNeedsRoot) || errors.Is(err, tunnel.ErrTUNUnsupported) {
		log.Fatal(err) // the message tells the user to use SOCKS5 mode
	}
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close() // on exit and on Ctrl-C: routes and resolv.conf come back
}
