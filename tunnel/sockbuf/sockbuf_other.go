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
