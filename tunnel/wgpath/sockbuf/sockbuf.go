// Package sockbuf sizes UDP socket buffers for the data path: WireGuard's
// and QUIC's sockets need megabytes where the kernel default holds under a
// hundred full-size datagrams. It also switches on the kernel's UDP
// segmentation offload (offload_linux.go), with which one system call
// moves a run of datagrams as one buffer.
package sockbuf

import (
	"net"
	"strconv"
)

// Size asks for bytes of receive and send buffer on c, past the system
// limit where the process may (CAP_NET_ADMIN on Linux). It reports whether
// the forced setting worked; the ordinary request is made either way, and
// a smaller buffer than asked costs throughput, not correctness.
func Size(c *net.UDPConn, bytes int) error {
	_ = c.SetReadBuffer(bytes)
	_ = c.SetWriteBuffer(bytes)
	return Force(c, bytes)
}

// Low is the receive buffer below which throughput suffers: a burst of a
// fast TCP transfer through the tunnel overflows it.
const Low = 1 << 20

// Advice tells an operator how to lift the system limit that kept a
// socket's receive buffer at got bytes.
func Advice(got int) string {
	return "UDP receive buffer is only " + strconv.Itoa(got>>10) + " KiB, which drops bursts and slows tunnels: " +
		"raise the limit with `sysctl -w net.core.rmem_max=8388608 net.core.wmem_max=8388608` (or run as root)"
}
