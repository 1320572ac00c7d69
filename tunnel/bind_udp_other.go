//go:build !linux

package tunnel

import (
	"errors"
	"net"
)

// forceSocketBuffers is Linux only; elsewhere the kernel limit stands.
func forceSocketBuffers(*net.UDPConn, int) error {
	return errors.New("forcing socket buffers is supported on Linux only")
}
