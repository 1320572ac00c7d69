package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// SOCKS5 wire format (RFC 1928, RFC 1929). Decoders take untrusted input:
// every length is checked before use and nothing is allocated beyond the
// 255-byte fields the protocol allows.

const (
	socksVersion    = 5
	socksAuthVer    = 1
	methodNoAuth    = 0x00
	methodUserPass  = 0x02
	methodNoAccept  = 0xff
	cmdConnect      = 0x01
	cmdBind         = 0x02
	cmdUDPAssociate = 0x03
	atypIPv4        = 0x01
	atypDomain      = 0x03
	atypIPv6        = 0x04
)

// SOCKS5 reply codes (RFC 1928 §6).
const (
	repSucceeded           = 0x00
	repGeneralFailure      = 0x01
	repNotAllowed          = 0x02
	repNetworkUnreachable  = 0x03
	repHostUnreachable     = 0x04
	repConnectionRefused   = 0x05
	repTTLExpired          = 0x06
	repCommandNotSupported = 0x07
	repAddrNotSupported    = 0x08
)

// errSOCKS is the cause of every malformed-message error; the wrapping
// error says what was wrong, and reply carries the code to answer with.
type socksError struct {
	reply byte
	msg   string
}

func (e *socksError) Error() string { return "socks: " + e.msg }

var errSOCKSVersion = &socksError{repGeneralFailure, "not SOCKS version 5"}

// socksAddr is a SOCKS destination: an IP or a domain name, and a port.
type socksAddr struct {
	IP   netip.Addr
	Host string
	Port uint16
}

func (a socksAddr) String() string {
	if a.Host != "" {
		return fmt.Sprintf("%s:%d", a.Host, a.Port)
	}
	return netip.AddrPortFrom(a.IP, a.Port).String()
}

// appendSOCKSAddr appends ATYP, address and port.
func appendSOCKSAddr(b []byte, a socksAddr) []byte {
	switch {
	case a.Host != "":
		b = append(b, atypDomain, byte(len(a.Host)))
		b = append(b, a.Host...)
	case a.IP.Is4():
		ip := a.IP.As4()
		b = append(b, atypIPv4)
		b = append(b, ip[:]...)
	default:
		ip := a.IP.As16()
		b = append(b, atypIPv6)
		b = append(b, ip[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port)
}

// validHost accepts names a DNS resolver could look up: 1-253 bytes of
// letters, digits, '-', '_' and '.'.
func validHost(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// readSOCKSAddr reads ATYP, address and port from r.
func readSOCKSAddr(r io.Reader) (socksAddr, error) {
	var atyp [1]byte
	if _, err := io.ReadFull(r, atyp[:]); err != nil {
		return socksAddr{}, err
	}
	var a socksAddr
	switch atyp[0] {
	case atypIPv4:
		var b [4 + 2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return socksAddr{}, err
		}
		a.IP = netip.AddrFrom4([4]byte(b[:4]))
		a.Port = binary.BigEndian.Uint16(b[4:])
	case atypIPv6:
		var b [16 + 2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return socksAddr{}, err
		}
		a.IP = netip.AddrFrom16([16]byte(b[:16])).Unmap()
		a.Port = binary.BigEndian.Uint16(b[16:])
	case atypDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return socksAddr{}, err
		}
		b := make([]byte, int(n[0])+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return socksAddr{}, err
		}
		host := string(b[:n[0]])
		a.Port = binary.BigEndian.Uint16(b[n[0]:])
		if ip, err := netip.ParseAddr(host); err == nil && ip.Zone() == "" {
			a.IP = ip.Unmap()
		} else if validHost(host) {
			a.Host = host
		} else {
			return socksAddr{}, &socksError{repHostUnreachable, "invalid domain name"}
		}
	default:
		return socksAddr{}, &socksError{repAddrNotSupported, fmt.Sprintf("address type %d not supported", atyp[0])}
	}
	return a, nil
}

// readGreeting reads the client's method selection message.
func readGreeting(r io.Reader) (methods []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0] != socksVersion {
		return nil, errSOCKSVersion
	}
	if h[1] == 0 {
		return nil, &socksError{repGeneralFailure, "no authentication methods offered"}
	}
	methods = make([]byte, h[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return nil, err
	}
	return methods, nil
}

// readUserPass reads an RFC 1929 username/password request.
func readUserPass(r io.Reader) (user, pass string, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return "", "", err
	}
	if h[0] != socksAuthVer {
		return "", "", &socksError{repGeneralFailure, "bad username/password subnegotiation version"}
	}
	u := make([]byte, h[1])
	if _, err := io.ReadFull(r, u); err != nil {
		return "", "", err
	}
	var pl [1]byte
	if _, err := io.ReadFull(r, pl[:]); err != nil {
		return "", "", err
	}
	p := make([]byte, pl[0])
	if _, err := io.ReadFull(r, p); err != nil {
		return "", "", err
	}
	return string(u), string(p), nil
}

// readRequest reads a SOCKS request: command and destination.
func readRequest(r io.Reader) (cmd byte, dst socksAddr, err error) {
	var h [3]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, socksAddr{}, err
	}
	if h[0] != socksVersion {
		return 0, socksAddr{}, errSOCKSVersion
	}
	if h[2] != 0 {
		return 0, socksAddr{}, &socksError{repGeneralFailure, "reserved byte not zero"}
	}
	dst, err = readSOCKSAddr(r)
	if err != nil {
		return 0, socksAddr{}, err
	}
	return h[1], dst, nil
}

// appendReply appends a reply with the given code and bound address.
func appendReply(b []byte, rep byte, bound socksAddr) []byte {
	if !bound.IP.IsValid() && bound.Host == "" {
		bound.IP = netip.IPv4Unspecified()
	}
	b = append(b, socksVersion, rep, 0)
	return appendSOCKSAddr(b, bound)
}

// errUDPFragment marks datagrams with FRAG != 0, which we do not reassemble
// (RFC 1928 §7 allows dropping them).
var errUDPFragment = errors.New("socks: fragmented UDP datagram")

// parseUDPDatagram splits a SOCKS UDP request header from its payload.
func parseUDPDatagram(b []byte) (socksAddr, []byte, error) {
	if len(b) < 4 {
		return socksAddr{}, nil, &socksError{repGeneralFailure, "short UDP datagram"}
	}
	if b[0] != 0 || b[1] != 0 {
		return socksAddr{}, nil, &socksError{repGeneralFailure, "reserved UDP bytes not zero"}
	}
	if b[2] != 0 {
		return socksAddr{}, nil, errUDPFragment
	}
	r := &sliceReader{b: b[3:]}
	a, err := readSOCKSAddr(r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return socksAddr{}, nil, &socksError{repGeneralFailure, "truncated UDP datagram header"}
		}
		return socksAddr{}, nil, err
	}
	return a, r.b, nil
}

// appendUDPHeader appends the SOCKS UDP header for a datagram from src.
func appendUDPHeader(b []byte, src socksAddr) []byte {
	b = append(b, 0, 0, 0)
	return appendSOCKSAddr(b, src)
}

// sliceReader is an io.Reader over a byte slice that exposes the rest.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
