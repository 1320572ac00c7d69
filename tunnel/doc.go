// Package tunnel is mystp2p's data plane: the WireGuard tunnel of one
// session, the provider's userspace exit, the consumer's SOCKS5 endpoint,
// and per-session metering. It knows nothing of libp2p, proposals or
// payments; the session owner (overlay/session/server at the provider,
// overlay/session/client at the consumer) negotiates keys and addresses
// over /mystp2p/session/1, picks the transport, and calls in.
//
// # Shape of a session
//
//	SOCKS5 client (browser, curl)
//	   │  127.0.0.1, CONNECT / UDP ASSOCIATE          SOCKSServer
//	   ▼
//	consumer gVisor stack ── WireGuard (wireguard-go) ─┐  Consumer
//	                                                    │  conn.Bind (package wgpath):
//	                                                    │  UDPBind, MuxBind or PipeBind
//	provider gVisor stack ◄─ WireGuard (wireguard-go) ─┘  Provider
//	   │  terminates TCP/UDP, checks ExitPolicy, answers DNS on :53
//	   ▼
//	host sockets ──► the internet
//
// Both ends run wireguard-go in userspace with one peer, fresh keys per
// session (GeneratePrivateKey) and MTU 1420, configured through its UAPI
// (device.IpcSet). Neither end needs root: the consumer originates
// connections from a gVisor network stack, and the provider terminates them
// in another gVisor stack (promiscuous, spoofing, TCP and UDP forwarders)
// and re-originates them from ordinary host sockets. The tunnel addresses
// of a session come from a private /16 and a ULA range (AddressPool), one
// pair per session; the provider's tunnel address also serves DNS.
//
// # Creating a session
//
// The provider allocates an address pair and a key, tells the consumer its
// public key and the pair, and both sides build their end over a bind:
//
//	pair, _ := pool.Allocate()
//	prov, err := tunnel.NewProvider(tunnel.ProviderConfig{
//		PrivateKey: provKey, PeerPublicKey: consumerPub,
//		Addresses: pair, Bind: bind, Policy: policy, Logger: log,
//	})
//	...
//	cons, err := tunnel.NewConsumer(tunnel.ConsumerConfig{
//		PrivateKey: consKey, PeerPublicKey: provPub,
//		Addresses: pair, Bind: bind, Logger: log,
//	})
//	socks, err := tunnel.NewSOCKSServer(cons, "127.0.0.1:1080")
//
// Close the SOCKS server, then the Consumer or Provider (which closes the
// bind), then the socket under a wgpath.UDPBind, which belongs to its
// caller.
// Every Close is idempotent and returns once all goroutines have stopped.
//
// # TUN mode
//
// As root, NewTUNConsumer puts the consumer's WireGuard on a kernel TUN
// interface (Linux, `mystp2p connect --tun mystp2p0`) instead of a gVisor
// stack, so every program on the host uses the tunnel without a proxy. It
// assigns the session's consumer addresses, routes 0.0.0.0/1, 128.0.0.0/1,
// ::/1 and 8000::/1 into the interface (more specific than any default
// route, which stays untouched), keeps each TUNConfig.Exclude prefix (the
// provider's addresses, relays, bootstrap peers), the bind's own endpoint
// and later AddExclude prefixes and SwitchBind endpoints on the path the
// host used for them before, and with TUNConfig.DNS writes the provider's
// tunnel address into /etc/resolv.conf. It records every change and Close undoes
// them in reverse order, as does a constructor that fails half-way. The
// changes go through iproute2's ip command, which every Linux with a
// network has, rather than hand-built netlink messages.
//
// # Transports
//
// WireGuard runs over any conn.Bind; package wgpath owns how its packets
// travel. wgpath.UDPBind wraps a UDP socket (or anything implementing
// wgpath.UDPConn) that talks to one remote endpoint: the socket the session
// owner hole-punched. wgpath.PipeBind frames WireGuard packets (2-byte
// length, at most wgpath.DefaultMaxFrame bytes) over a reliable stream, for
// the relayed fallback over a libp2p stream. tunneltest.NewBindPair
// connects two ends in memory for tests. Consumer.SwitchBind and
// Provider.SwitchBind move a running session to another transport (the
// relayed fallback upgraded to a direct path once a punch succeeds) without
// restarting WireGuard or the stacks, so open connections survive; the
// session hands WireGuard a wgpath.SwitchBind for that.
//
// # NAT path
//
// There are two sound ways to give WireGuard a punched path: share the QUIC
// socket through our own demultiplexer, or punch a dedicated WireGuard
// socket. The stock quicreuse SharedNonQUICPacketConn is not an option (it
// drops packets beyond a 32-packet queue). mystp2p shares the socket:
// wgpath.Mux owns the node's one UDP port, lends the QUIC half to libp2p and
// gives each session a WireGuard bind on the 5-tuple of its direct QUIC
// connection, so the tunnel rides exactly the mapping DCUtR punched and
// needs no second punch. The mux costs no throughput against a socket of
// WireGuard's own (BenchmarkWireGuardMux against BenchmarkWireGuardOwnSocket
// in package wgpath; the figures are in docs/ARCHITECTURE.md), and in the
// namespace lab every NAT pair that can go direct does so over the mux.
//
// # Exit policy and errors
//
// The provider's ExitPolicy denies, by default, loopback, private (RFC 1918,
// ULA), CGNAT, link-local, multicast, unspecified and reserved addresses,
// the provider's own interface networks and TCP port 25; WithAllowLoopback
// and WithAllowPrivate open them for the loopback testnet and labs. The
// tunnel's own ranges are always denied. When the exit refuses or cannot
// reach a destination it answers like a router, with an ICMP destination
// unreachable ("administratively prohibited" for policy), so the consumer
// learns why: Consumer.DialTCP returns errors wrapping ErrPolicyDenied,
// ErrConnectionRefused, ErrHostUnreachable, ErrNetworkUnreachable or
// ErrTimeout, and the SOCKS server turns them into the RFC 1928 reply codes
// 2, 5, 4, 3 and 6.
//
// # DNS
//
// Names given to the SOCKS server (ATYP domain, as curl --socks5-hostname
// sends them) are resolved by Consumer.LookupHost, which asks the provider's
// responder on its tunnel address (UDP, and TCP port 53 for other clients).
// The provider resolves with its host resolver. The consumer's own resolver
// is never asked, so DNS does not leak.
//
// # Metering
//
// Consumer.Stats and Provider.Stats return bytes and packets each way and
// the session duration. They are atomic counters, safe to read from any
// goroutine at any time, and count whole inner IP packets at the tunnel
// interface, so both ends count the same traffic (up to loss) and the
// consumer can check the provider's invoices against its own figures.
// wgpath.MeteredBind counts the encrypted datagrams on a bind instead, so a
// session owner can report how many bytes took a relayed or a direct path.
package tunnel
