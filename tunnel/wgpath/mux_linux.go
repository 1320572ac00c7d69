package wgpath

import (
	"net"

	"golang.org/x/sys/unix"
)

// setSocketMark sets SO_MARK on the socket (wireguard-go's fwmark).
func setSocketMark(c *net.UDPConn, mark uint32) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		opErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, int(mark))
	}); err != nil {
		return err
	}
	return opErr
}
