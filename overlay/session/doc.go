// Package session is the wire protocol between a consumer and a provider,
// and the states a session moves through on either end.
//
// Two libp2p protocols carry it:
//
//   - /mystp2p/session/1: one Request and one Reply per stream (open, ping,
//     close, upgrade, dial_back). One exchange per stream works over relayed
//     (limited) connections and survives the move to a direct one.
//   - /mystp2p/tunnel/1: an Attach request, a Reply, then WireGuard packets
//     framed on the same stream — the transport of last resort, through a
//     relay if need be.
//
// Every message is a uvarint length and at most MaxMessage bytes of strict
// JSON (unknown fields and trailing data are errors). A provider answers a
// request it will not honour with a RejectCode and a message for the user.
//
// The provider's side lives in overlay/session/server, the consumer's in
// overlay/session/client; how the WireGuard packets travel once a session
// is open is tunnel/wgpath's business.
package session
