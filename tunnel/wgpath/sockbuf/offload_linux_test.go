package sockbuf

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// groControl is the control message the kernel writes for a coalesced
// read of datagrams of size bytes.
func groControl(size uint16) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_GRO
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], size)
	return b
}

func TestCoalescedSize(t *testing.T) {
	if n, err := CoalescedSize(groControl(1452)); n != 1452 || err != nil {
		t.Fatalf("UDP_GRO 1452: got %d, %v", n, err)
	}
	if n, err := CoalescedSize(SegmentControl(make([]byte, SegmentControlLen), 99)); n != 0 || err != nil {
		t.Fatalf("a UDP_SEGMENT message is not a coalesced size: got %d, %v", n, err)
	}
	if n, err := CoalescedSize(nil); n != 0 || err != nil {
		t.Fatalf("no control data: %d, %v", n, err)
	}
	bad := groControl(1452)
	(*unix.Cmsghdr)(unsafe.Pointer(&bad[0])).SetLen(4096) // past the end
	if _, err := CoalescedSize(bad); err == nil {
		t.Fatal("a control message longer than its buffer was accepted")
	}
	short := groControl(1452)
	(*unix.Cmsghdr)(unsafe.Pointer(&short[0])).SetLen(unix.CmsgLen(1)) // one data byte
	if _, err := CoalescedSize(short); err == nil {
		t.Fatal("a UDP_GRO message with one byte of data was accepted")
	}
}

// FuzzCoalescedSize: control data is parsed, never trusted to be well
// formed; no input may panic, and a size comes only with no error.
func FuzzCoalescedSize(f *testing.F) {
	f.Add(groControl(1452))
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, oob []byte) {
		n, err := CoalescedSize(oob)
		if err != nil && n != 0 {
			t.Fatalf("size %d with error %v", n, err)
		}
		if n < 0 || n > 0xffff {
			t.Fatalf("size %d out of range", n)
		}
	})
}
