package sockbuf

import (
	"encoding/binary"
	"errors"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP segmentation offload (Linux 4.18+ for UDP_SEGMENT, 5.0+ for UDP_GRO):
// one sendmsg carries up to 64 equal-sized datagrams as one buffer, and
// one recvmsg can return several datagrams of one sender merged, with
// their size in a control message. The datagrams on the wire are the same
// as without.

// SupportsSegmentation reports whether the kernel accepts UDP_SEGMENT on c.
func SupportsSegmentation(c *net.UDPConn) bool {
	ok := false
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		ok = err == nil
	})
	return ok
}

// SetReceiveCoalescing switches UDP_GRO on or off for c. With it on, a read
// may return several datagrams in one buffer; CoalescedSize reads how to
// cut it, so only a reader that does that may use c while it is on.
func SetReceiveCoalescing(c *net.UDPConn, on bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		opErr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, v)
	}); err != nil {
		return err
	}
	return opErr
}

// SegmentControlLen is the size of the control message SegmentControl writes.
var SegmentControlLen = unix.CmsgSpace(2)

// SegmentControl writes to oob (at least SegmentControlLen bytes) the
// control message that makes the kernel cut a sent buffer into datagrams
// of size bytes (the last may be shorter), and returns it.
func SegmentControl(oob []byte, size uint16) []byte {
	oob = oob[:SegmentControlLen]
	clear(oob)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], size)
	return oob
}

// CoalescedControlLen is enough control buffer for a read to report the
// size of merged datagrams.
var CoalescedControlLen = unix.CmsgSpace(4)

// errControl reports control data the kernel would not write.
var errControl = errors.New("sockbuf: malformed socket control message")

// CoalescedSize returns the size of each datagram in a buffer read with
// control data oob, or 0 if the buffer holds one datagram.
func CoalescedSize(oob []byte) (int, error) {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, errControl
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO {
			if len(data) < 2 {
				return 0, errControl
			}
			return int(binary.NativeEndian.Uint16(data)), nil
		}
		oob = rest
	}
	return 0, nil
}

// Truncated reports whether a read's flags say the datagram was longer
// than the buffer (MSG_TRUNC).
func Truncated(flags int) bool { return flags&unix.MSG_TRUNC != 0 }
