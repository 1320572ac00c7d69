package sockbuf

import (
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
)

func TestSize(t *testing.T) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = Size(c, 8<<20)
	got, rerr := ReadSize(c)
	if runtime.GOOS != "linux" {
		// Forcing and reading sizes are Linux only, and say so.
		if err == nil || rerr == nil {
			t.Fatalf("on %s: Size %v, ReadSize %v; want errors", runtime.GOOS, err, rerr)
		}
		return
	}
	if rerr != nil {
		t.Fatal(rerr)
	}
	switch {
	case err == nil && got < 8<<20:
		t.Fatalf("forced 8 MiB, kernel reports %d", got)
	case err != nil && os.Geteuid() == 0:
		t.Fatalf("root could not force the buffers: %v", err)
	}
	if a := Advice(208 << 10); !strings.Contains(a, "208 KiB") || !strings.Contains(a, "net.core.rmem_max") {
		t.Fatalf("advice %q", a)
	}
}
