package sockbuf

import (
	"errors"
	"net"

	"golang.org/x/sys/unix"
)

// Force sets c's buffers past net.core.{r,w}mem_max, which
// needs CAP_NET_ADMIN.
func Force(c *net.UDPConn, bytes int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		opErr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bytes),
		)
	}); err != nil {
		return err
	}
	return opErr
}

// ReadSize is c's receive buffer as the kernel reports it (Linux counts
// its bookkeeping too, so about twice what was granted).
func ReadSize(c *net.UDPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		n, opErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		return 0, err
	}
	return n / 2, opErr
}
