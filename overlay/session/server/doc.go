// Package server is the provider's side of the session protocol: the
// session table, and each session's way from open to closed.
//
// A Server answers /mystp2p/session/1 and /mystp2p/tunnel/1 for one
// overlay.Node. Each session is a small state machine (session.State):
//
//	open      → Opening   keys and addresses allocated, price and balance checked
//	attach    → Attaching one caller builds the WireGuard end (others: busy)
//	          → Attached  the tunnel carries packets; payments start
//	upgrade     Attached  the transport moves in place (stream → udp-mux)
//	close,    → Closing   final invoice, then tunnel, socket, invoicer closed
//	reap, drop→ Closed    addresses released, the session leaves the table
//
// State changes happen under the session's mu only; the long operations
// (building a tunnel, switching its transport, tearing it down) hold the
// session's op lock, so a second attach or upgrade is refused with
// session.RejectBusy instead of racing the first, and a teardown waits for
// an attach in flight and closes what it built. Requests for a session that
// belongs to another peer are answered as if it did not exist.
//
// Bandwidth controls (Limits) act in the exit: each session's tunnel
// waits in its own token bucket and in one all sessions share
// (tunnel.Bucket), and once a second the server adds each session's new
// bytes to the month's count (usage.go), which ends every session and
// refuses new ones at the monthly cap. SetLimits, SetMaxSessions and
// SetPolicy change the controls at run time; Sessions is a snapshot of the
// live sessions.
//
// Every handler runs under overlay/guard, so a bug in one request resets
// that stream and nothing else.
package server
