package testnet

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// TestALPNFilterReadsQUICInitials captures the Initial datagrams of real
// quic-go dials and checks the censor's filter finds the offered ALPN.
func TestALPNFilterReadsQUICInitials(t *testing.T) {
	for _, tc := range []struct {
		alpn string
		drop bool
	}{{"libp2p", true}, {"h3", false}} {
		ln, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		go func() {
			c, err := quic.DialAddr(ctx, ln.LocalAddr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{tc.alpn}}, nil) //nolint:gosec // test
			if err == nil {
				_ = c.CloseWithError(0, "")
			}
		}()
		f := &alpnFilter{blocked: "libp2p"}
		dropped, initials := false, 0
		buf := make([]byte, 2048)
		_ = ln.SetReadDeadline(time.Now().Add(800 * time.Millisecond))
		for {
			n, _, err := ln.ReadFrom(buf)
			if err != nil {
				break
			}
			if _, _, err := quicInitialCrypto(buf[:n]); err == nil {
				initials++
			}
			dropped = dropped || f.drop(buf[:n])
		}
		cancel()
		ln.Close()
		if initials == 0 {
			t.Fatalf("ALPN %s: no Initial decrypted", tc.alpn)
		}
		if dropped != tc.drop {
			t.Errorf("ALPN %s: dropped %v, want %v", tc.alpn, dropped, tc.drop)
		}
	}
}
