//go:build !linux

package wgpath

import "net"

// setSocketMark is Linux only (SO_MARK); elsewhere marks are ignored, as
// wireguard-go's own bind does on platforms without them.
func setSocketMark(*net.UDPConn, uint32) error { return nil }
