package tunnel

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// socksClient is a minimal SOCKS5 client for the tests.
type socksClient struct {
	server     netip.AddrPort
	user, pass string
}

// handshake connects, authenticates and sends a request; it returns the
// control connection, the reply code and the bound address.
func (sc socksClient) handshake(t testing.TB, cmd byte, dst socksAddr) (net.Conn, byte, socksAddr, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", sc.server.String(), 5*time.Second)
	if err != nil {
		return nil, 0, socksAddr{}, err
	}
	c.SetDeadline(time.Now().Add(40 * time.Second))
	method := byte(methodNoAuth)
	if sc.user != "" {
		method = methodUserPass
	}
	if _, err := c.Write([]byte{socksVersion, 1, method}); err != nil {
		c.Close()
		return nil, 0, socksAddr{}, err
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		c.Close()
		return nil, 0, socksAddr{}, err
	}
	if sel[1] != method {
		c.Close()
		return nil, 0, socksAddr{}, fmt.Errorf("server selected method %#x", sel[1])
	}
	if method == methodUserPass {
		msg := []byte{socksAuthVer, byte(len(sc.user))}
		msg = append(msg, sc.user...)
		msg = append(msg, byte(len(sc.pass)))
		msg = append(msg, sc.pass...)
		c.Write(msg)
		var st [2]byte
		if _, err := io.ReadFull(c, st[:]); err != nil || st[1] != 0 {
			c.Close()
			return nil, 0, socksAddr{}, fmt.Errorf("authentication failed: %v %v", st, err)
		}
	}
	req := appendSOCKSAddr([]byte{socksVersion, cmd, 0}, dst)
	if _, err := c.Write(req); err != nil {
		c.Close()
		return nil, 0, socksAddr{}, err
	}
	var h [3]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		c.Close()
		return nil, 0, socksAddr{}, err
	}
	bound, err := readSOCKSAddr(c)
	if err != nil {
		c.Close()
		return nil, 0, socksAddr{}, err
	}
	c.SetDeadline(time.Time{})
	return c, h[1], bound, nil
}

// connect performs a CONNECT and fails the test unless it succeeds.
func (sc socksClient) connect(t testing.TB, dst socksAddr) net.Conn {
	t.Helper()
	c, rep, _, err := sc.handshake(t, cmdConnect, dst)
	if err != nil {
		t.Fatalf("SOCKS CONNECT %s: %v", dst, err)
	}
	if rep != repSucceeded {
		c.Close()
		t.Fatalf("SOCKS CONNECT %s: reply %#x", dst, rep)
	}
	return c
}

// connectReply performs a CONNECT and returns only the reply code.
func (sc socksClient) connectReply(t testing.TB, dst socksAddr) byte {
	t.Helper()
	c, rep, _, err := sc.handshake(t, cmdConnect, dst)
	if err != nil {
		t.Fatalf("SOCKS CONNECT %s: %v", dst, err)
	}
	c.Close()
	return rep
}

func udpDatagram(dst socksAddr, payload []byte) []byte {
	return append(appendUDPHeader(nil, dst), payload...)
}

func hostPort(host string, port uint16) socksAddr { return socksAddr{Host: host, Port: port} }

func ipPort(ap netip.AddrPort) socksAddr { return socksAddr{IP: ap.Addr(), Port: ap.Port()} }
