// Package overlay is a mystp2p node: the libp2p host, signed service
// proposals and their discovery (DHT + gossip), and sessions between a
// consumer and a provider.
//
// # Sessions and the path they take
//
// A consumer opens a session over /mystp2p/session/1 (one request and one
// reply per stream, so it works over a relayed connection), agreeing the
// proposal's price, fresh WireGuard keys and per-session tunnel addresses.
// The WireGuard packets then take the best path there is, tried in order:
//
//   - TransportMux: both peers' QUIC sockets, on the 5-tuple of their direct
//     QUIC connection. A node that listens for QUIC on an unspecified
//     address owns its UDP port through wgpath.Mux, so the path a DCUtR
//     hole punch opened carries WireGuard too (sharing the socket beat
//     punching a second one: no second punch to coordinate, and the mux
//     measured as fast as a dedicated socket).
//   - TransportUDP: WireGuard on its own UDP socket towards the provider's
//     address, for directly reachable peers without a mux (the loopback
//     testnet).
//   - TransportStream: WireGuard framed over a libp2p stream, over the best
//     libp2p connection — through a data-carrying relay when nothing direct
//     exists (reported as "relayed").
//
// Each direct attempt gets a short trial (udpTrial) before the next. Before
// dialling a provider that sits behind a relay, the consumer waits for its
// own DCUtR handler (so the provider's punch finds it ready), and if no
// direct connection appears it dials through the relay afresh, because
// go-libp2p punches only when an inbound relayed connection arrives. A
// relayed session keeps trying: once a direct QUIC connection appears it is
// upgraded in place (tunnel SwitchBind on both ends), and every few seconds
// it asks the provider to dial its public QUIC addresses — which gets
// through a full-cone NAT from behind a symmetric one, where DCUtR's
// simultaneous open does not. In the namespace lab (testnet nat-matrix)
// this makes every pair whose NATs allow it direct; symmetric against
// symmetric or port-restricted stays relayed, as it must.
//
// Consumers ping the provider every 5 s; three missed pings end the session
// with ErrProviderGone. Providers reap sessions whose consumer went quiet.
//
// # Payments
//
// A provider with ServeConfig.Payments charges for sessions through the
// hermes hubs its proposal lists (package hermes, DESIGN.md §8). The
// consumer's open request names the hub it pays through
// (ConnectConfig.Payment); the provider refuses other hubs (RejectHermes)
// and balances below MinBalanceDuration and MinBalanceBytes at its price
// (RejectBalance). Both ends derive the payment agreement from the session
// ID (AgreementID) and measure the session on their own tunnel: the
// provider's hermes.Invoicer invoices, the consumer's hermes.Payer checks
// and pays. A consumer that stops paying loses the session; when a session
// closes the provider sends a final invoice before it acknowledges the
// close, so the consumer's Session.Paid includes it.
package overlay
