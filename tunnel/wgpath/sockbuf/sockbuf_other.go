//go:build !linux

package sockbuf

import (
	"errors"
	"net"
)

// Force is Linux only; elsewhere the kernel limit stands.
func Force(*net.UDPConn, int) error {
	return errors.New("forcing socket buffers is supported on Linux only")
}

// ReadSize is Linux only.
func ReadSize(*net.UDPConn) (int, error) {
	return 0, errors.New("reading socket buffer sizes is supported on Linux only")
}
