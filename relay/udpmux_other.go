//go:build !linux

package relay

import (
	"errors"
	"net"
)

// forceSocketBuffers is Linux only; elsewhere the kernel limit stands.
func forceSocketBuffers(*net.UDPConn, int) error {
	return errors.New("forcing socket buffers is supported on Linux only")
}

// setSocketMark is Linux only (SO_MARK); elsewhere marks are ignored, as
// wireguard-go's own bind does on platforms without them.
func setSocketMark(*net.UDPConn, uint32) error { return nil }
