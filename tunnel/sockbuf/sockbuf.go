// Package sockbuf sizes UDP socket buffers for the data path: WireGuard's
// and QUIC's sockets need megabytes where the kernel default holds under a
// hundred full-size datagrams.
package sockbuf

import "net"

// Size asks for bytes of receive and send buffer on c, past the system
// limit where the process may (CAP_NET_ADMIN on Linux). It reports whether
// the forced setting worked; the ordinary request is made either way, and
// a smaller buffer than asked costs throughput, not correctness.
func Size(c *net.UDPConn, bytes int) error {
	_ = c.SetReadBuffer(bytes)
	_ = c.SetWriteBuffer(bytes)
	return Force(c, bytes)
}
