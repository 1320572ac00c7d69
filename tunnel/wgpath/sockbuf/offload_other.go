//go:build !linux

package sockbuf

import (
	"errors"
	"net"
)

// SupportsSegmentation is Linux only.
func SupportsSegmentation(*net.UDPConn) bool { return false }

// SetReceiveCoalescing is Linux only.
func SetReceiveCoalescing(*net.UDPConn, bool) error {
	return errors.New("UDP receive coalescing is supported on Linux only")
}

// SegmentControlLen is 0: there is no segmentation offload.
var SegmentControlLen = 0

// SegmentControl is never called where SupportsSegmentation is false.
func SegmentControl(oob []byte, _ uint16) []byte { return oob[:0] }

// CoalescedControlLen is 0: reads never coalesce.
var CoalescedControlLen = 0

// CoalescedSize reports single datagrams only.
func CoalescedSize([]byte) (int, error) { return 0, nil }

// Truncated reports nothing here: reads never coalesce, so a buffer
// WireGuard sized always holds a datagram.
func Truncated(int) bool { return false }
