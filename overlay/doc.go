// Package overlay is a mystp2p node: the libp2p host, signed service
// proposals and their discovery (DHT + gossip), and what the session
// packages on top of it (overlay/session/server for the provider,
// overlay/session/client for the consumer) share.
//
// # Host
//
// NewHost builds an ordinary libp2p host (TCP and QUIC, AutoNAT v2, the
// relay client, QUIC-only hole punching). A node that listens for QUIC on
// an unspecified address owns its UDP port through wgpath.Mux, so the path
// a DCUtR hole punch opens carries the session's WireGuard packets too: no
// second punch to coordinate, and the mux is no slower than a socket of
// WireGuard's own (docs/ARCHITECTURE.md has the figures).
//
// # Joining
//
// New joins through Config.Bootstrap; one peer answering is enough. With
// Config.PeerCache set, the node records the peers it reaches (peers.go)
// and, when no bootstrap peer answers, joins through the best cached ones
// instead, so a node that joined once can join again when every bootstrap
// address is blocked. Config.DHTMode dht.ModeAuto makes a node answer DHT
// queries while it is publicly reachable, so that whoever joins through it
// (with a bridge line, package overlay/bridge) can discover through it.
//
// # Proposals
//
// A provider (or a hermes hub) Advertises one Offer: the node signs it as a
// Proposal with its identity key, serves it on /mystp2p/proposal/1,
// publishes it on the gossipsub topic ProposalTopic, stores it as a signed
// DHT record and announces itself under its DHT namespaces, and re-signs
// and re-announces every third of its TTL. Discover, FetchProposal and
// FetchRecord find and fetch proposals; every path checks the signature,
// the signer, the validity window, the size and the sequence number before
// a proposal is cached.
//
// # Sessions
//
// The session protocol is package overlay/session. A consumer reaches the
// provider (through a relay if need be, then a DCUtR punch), opens a
// session on /mystp2p/session/1 and tries the transports best first:
// udp-mux on the punched QUIC 5-tuple, udp on a socket of its own, then
// WireGuard framed over a libp2p stream, through a data-carrying relay when
// nothing direct exists. A relayed session is upgraded in place once a
// direct QUIC connection appears, and asks the provider to dial its public
// QUIC addresses, which gets through a full-cone NAT from behind a
// symmetric one where DCUtR's simultaneous open does not. Consumers ping
// every session.PingInterval; providers reap sessions whose consumer went
// quiet.
//
// # Payments
//
// A provider that charges lists the hermes hubs it accepts in its proposal
// (package hermes). The consumer names its hub when it opens a session;
// the provider refuses other hubs and balances below MinBalance. Both ends
// derive the payment agreement from the session ID (AgreementID) and
// measure the session on their own tunnel (TunnelUsage): the provider
// invoices, the consumer checks and pays, and a final invoice is paid
// before a close is acknowledged. FindHermes, DiscoverHermes and
// HermesClient find hubs and talk to them.
package overlay
