package sockbuf

import (
	"net"
	"runtime"
	"testing"
)

func TestOffloadOnLoopback(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seg := SupportsSegmentation(c)
	gro := SetReceiveCoalescing(c, true)
	if runtime.GOOS == "linux" {
		// Linux 5.0 and later have both; CI runs far newer kernels.
		if !seg || gro != nil {
			t.Fatalf("segmentation %v, UDP_GRO %v", seg, gro)
		}
		if err := SetReceiveCoalescing(c, false); err != nil {
			t.Fatal(err)
		}
		return
	}
	if seg || gro == nil {
		t.Fatalf("off Linux: segmentation %v, UDP_GRO %v", seg, gro)
	}
}
