package tunnel

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestSOCKSWireGolden(t *testing.T) {
	tests := []struct {
		hex  string
		cmd  byte
		addr socksAddr
	}{
		{"050100017f0000011f90", cmdConnect, socksAddr{IP: netip.MustParseAddr("127.0.0.1"), Port: 8080}},
		{"05010003076578616d706c650050", cmdConnect, socksAddr{Host: "example", Port: 80}},
		{"0503000400000000000000000000000000000001" + "0035", cmdUDPAssociate, socksAddr{IP: netip.MustParseAddr("::1"), Port: 53}},
		{"050100030831302e302e302e310050", cmdConnect, socksAddr{IP: netip.MustParseAddr("10.0.0.1"), Port: 80}}, // IP literal as a name
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		cmd, a, err := readRequest(bytes.NewReader(b))
		if err != nil || cmd != tt.cmd || a != tt.addr {
			t.Fatalf("%s: %d %v %v", tt.hex, cmd, a, err)
		}
	}
	// A UDP datagram header.
	d := udpDatagram(socksAddr{Host: "example", Port: 53}, []byte("q"))
	if got := hex.EncodeToString(d); got != "00000003076578616d706c65003571" {
		t.Fatalf("datagram %s", got)
	}
	if _, _, err := parseUDPDatagram([]byte{0, 0, 1, 1, 127, 0, 0, 1, 0, 53}); !errors.Is(err, errUDPFragment) {
		t.Fatalf("fragment: %v", err)
	}
	var se *socksError
	if _, _, err := readRequest(bytes.NewReader([]byte{5, 1, 0, 9})); !errors.As(err, &se) || se.reply != repAddrNotSupported {
		t.Fatalf("bad atyp: %v", err)
	}
}

// FuzzReadRequest decodes arbitrary requests; whatever decodes must encode
// back to an equivalent request.
func FuzzReadRequest(f *testing.F) {
	for _, h := range []string{"050100017f0000011f90", "05010003076578616d706c650050", "0503000400000000000000000000000000000001" + "0035", "0501000300"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, a, err := readRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		if a.Host != "" && !validHost(a.Host) {
			t.Fatalf("invalid host %q accepted", a.Host)
		}
		enc := appendSOCKSAddr([]byte{socksVersion, cmd, 0}, a)
		cmd2, a2, err := readRequest(bytes.NewReader(enc))
		if err != nil || cmd2 != cmd || a2 != a {
			t.Fatalf("round trip: %v %v -> %x -> %v %v %v", cmd, a, enc, cmd2, a2, err)
		}
	})
}

// FuzzParseUDPDatagram decodes arbitrary datagrams and checks the
// decode→encode round trip.
func FuzzParseUDPDatagram(f *testing.F) {
	f.Add(udpDatagram(socksAddr{IP: netip.MustParseAddr("1.2.3.4"), Port: 53}, []byte("payload")))
	f.Add(udpDatagram(socksAddr{Host: "example.com", Port: 443}, nil))
	f.Add(udpDatagram(socksAddr{IP: netip.MustParseAddr("2001:db8::1"), Port: 1}, []byte{0}))
	f.Add([]byte{0, 0, 0, 3, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, payload, err := parseUDPDatagram(b)
		if err != nil {
			return
		}
		enc := append(appendUDPHeader(nil, a), payload...)
		a2, p2, err := parseUDPDatagram(enc)
		if err != nil || a2 != a || !bytes.Equal(p2, payload) {
			t.Fatalf("round trip: %v %x -> %v %x %v", a, payload, a2, p2, err)
		}
	})
}

func FuzzHandshakeDecoders(f *testing.F) {
	f.Add([]byte{5, 2, 0, 2})
	f.Add([]byte{1, 5, 'a', 'l', 'i', 'c', 'e', 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := readGreeting(bytes.NewReader(b)); err == nil && len(m) == 0 {
			t.Fatal("greeting with no methods accepted")
		}
		if u, p, err := readUserPass(bytes.NewReader(b)); err == nil && (len(u) > 255 || len(p) > 255) {
			t.Fatal("oversized credentials")
		}
	})
}

func TestReplyCode(t *testing.T) {
	tests := []struct {
		err  error
		want byte
	}{
		{fmt.Errorf("dial: %w", ErrPolicyDenied), repNotAllowed},
		{fmt.Errorf("dial: %w", ErrNetworkUnreachable), repNetworkUnreachable},
		{fmt.Errorf("dial: %w", ErrHostUnreachable), repHostUnreachable},
		{fmt.Errorf("resolve: %w", ErrNameNotFound), repHostUnreachable},
		{fmt.Errorf("resolve: %w", ErrDNS), repHostUnreachable},
		{fmt.Errorf("dial: %w", ErrConnectionRefused), repConnectionRefused},
		{fmt.Errorf("dial: %w", ErrTimeout), repTTLExpired},
		{context.DeadlineExceeded, repTTLExpired},
		{ErrClosed, repGeneralFailure},
		{errors.New("other"), repGeneralFailure},
	}
	for _, tt := range tests {
		if got := replyCode(tt.err); got != tt.want {
			t.Errorf("replyCode(%v) = %#x, want %#x", tt.err, got, tt.want)
		}
	}
}
