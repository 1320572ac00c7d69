// Package client is the consumer's side of the session protocol: it opens
// a session with a provider found through an overlay.Node, keeps it up,
// moves it to a better path when one appears, and closes it.
//
// # A session's life
//
// Connect takes one provider's signed proposal:
//
//  1. Reach the provider. One behind a relay is dialled through its circuit
//     address, after this node's own DCUtR handler is up (the provider
//     punches the moment a relayed connection arrives and gives up at once
//     if nobody answers).
//  2. Wait briefly for a direct connection: until Config.DirectWait (1 s)
//     from the start, at least 250 ms after reaching the provider. A punch
//     between cone NATs lands within that; a pair that cannot punch starts
//     on the relay at once rather than waiting (step 6 moves it later).
//  3. Try the transports best first, each but the last for a short
//     handshake trial: udp-mux (WireGuard on the QUIC socket the punch
//     opened, when the node has a wgpath.Mux), udp (a socket of its own
//     towards the provider's address), then stream (WireGuard framed over a
//     libp2p stream, through the relay when nothing direct exists). Each
//     trial is an open request on /mystp2p/session/1, a tunnel stream for
//     the stream transport, and wgpath.Link.Bind for the WireGuard bind. A
//     refusal other than session.RejectPolicy ends the trials.
//  4. Wait for the first WireGuard handshake. A paying session starts
//     answering invoices before it (Config.Payment), since the provider
//     invoices from the moment its end of the tunnel exists.
//  5. Keep alive: ping every session.PingInterval (1 s), each ping bounded
//     by four smoothed round trips (1 to 5 s), a failed one retried at once;
//     a refusal or two failures in a row end the session with
//     ErrProviderGone (Session.Done, Session.Err). Consume then reconnects
//     to the offers it already knows before it discovers afresh.
//  6. A relayed session keeps looking for a direct path: once a direct QUIC
//     connection appears on the shared socket it asks the provider to
//     upgrade and switches its WireGuard bind in place (Session.Direct is
//     closed then). One second after the session came up, and every three
//     seconds after, it asks the provider to dial its public QUIC addresses
//     while it dials the provider's: each side's packets open its own NAT
//     for the other's, which gets two port-restricted NATs through, and a
//     full-cone NAT from behind a symmetric one, where DCUtR's try did not.
//     When one end's NAT is symmetric (overlay.Node.NATMapping: public
//     peers see its QUIC socket at different ports), it asks for a
//     birthday punch instead: the symmetric end opens 256 sockets towards
//     the other's public address while the other sprays probes at 1024
//     random ports of the symmetric end's IP, and the session moves to the
//     first 5-tuple a keyed probe crosses (wgpath.PunchFromSockets,
//     wgpath.PunchSpray). Two symmetric NATs stay relayed.
//  7. Close tells the provider, waits for its acknowledgement (after the
//     final invoice, for a paying session) and tears the tunnel down.
//
// # Consume
//
// Consume is `mystp2p connect`: it discovers providers matching a query,
// keeps those the consumer can pay (PayThrough readies a Payment through a
// hermes hub), tries them fewest-failures then cheapest first, and serves
// SOCKS5 (or a TUN device) through the session. When the session ends it
// says so and, with AutoReconnect, counts the failure against that provider
// and connects to the next best one; SOCKS5 clients are refused in
// between. Its errors wrap ErrDiscovery, ErrNoProposals, ErrNeedsPayment,
// ErrInsufficientBalance or ErrSessionEnded, so a command can name the flag
// that helps.
package client
