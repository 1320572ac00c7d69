package session

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

func frame(s string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(s))), s...)
}

func TestWireRoundTrip(t *testing.T) {
	k, _ := tunnel.GeneratePrivateKey()
	in := Request{Kind: Open, ProposalSeq: 9, PriceHour: "1", PriceGiB: "2", WGKey: k.PublicKey(), Transport: wgpath.UDP, UDPPort: 51820}
	var buf bytes.Buffer
	if err := Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out Request
	if err := Read(bufio.NewReader(&buf), &out); err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || out.WGKey != in.WGKey || out.UDPPort != in.UDPPort || out.Transport != in.Transport || out.PriceGiB != in.PriceGiB {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	big := Request{Kind: Kind(make([]byte, MaxMessage))}
	if err := Write(&buf, big); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("oversized message: %v, want ErrMessageTooLarge", err)
	}
}

// TestWireGolden pins the bytes of a ping and of a refusal.
func TestWireGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, Request{Kind: Ping, Session: "ab"}); err != nil {
		t.Fatal(err)
	}
	const wantPing = "1e7b226b696e64223a2270696e67222c2273657373696f6e223a226162227d"
	if got := hex.EncodeToString(buf.Bytes()); got != wantPing {
		t.Fatalf("ping = %s, want %s", got, wantPing)
	}
	buf.Reset()
	if err := Write(&buf, Reject(RejectNoSession, "no session %q", "ab")); err != nil {
		t.Fatal(err)
	}
	const wantReject = `{"ok":false,"code":"no_session","message":"no session \"ab\""}`
	if got := buf.String()[1:]; got != wantReject {
		t.Fatalf("reject = %s, want %s", got, wantReject)
	}
}

func TestReadRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"unknown field": frame(`{"kind":"ping","evil":1}`),
		"trailing":      frame(`{"kind":"ping"}{}`),
		"not json":      frame(`ping`),
	} {
		var r Request
		if err := Read(bufio.NewReader(bytes.NewReader(in)), &r); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	huge := binary.AppendUvarint(nil, MaxMessage+1)
	var r Request
	if err := Read(bufio.NewReader(bytes.NewReader(huge)), &r); !errors.Is(err, ErrMessageTooLarge) {
		t.Errorf("huge length: %v, want ErrMessageTooLarge", err)
	}
}

func FuzzRequest(f *testing.F) {
	k, _ := tunnel.GeneratePrivateKey()
	var buf bytes.Buffer
	_ = Write(&buf, Request{Kind: Open, PriceHour: "1", PriceGiB: "2", WGKey: k.PublicKey(), Transport: wgpath.Stream})
	f.Add(buf.Bytes())
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(frame(`{"kind":"ping","session":"ab"}`))
	f.Add(frame(`{"kind":"dial_back","session":"ab","addrs":["/ip4/1.2.3.4/udp/1/quic-v1"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req Request
		if err := Read(bufio.NewReader(bytes.NewReader(b)), &req); err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same request.
		var again bytes.Buffer
		if err := Write(&again, req); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var back Request
		if err := Read(bufio.NewReader(&again), &back); err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		x, _ := json.Marshal(req)
		y, _ := json.Marshal(back)
		if !bytes.Equal(x, y) {
			t.Fatalf("round trip changed the request: %s vs %s", x, y)
		}
	})
}

func FuzzReply(f *testing.F) {
	f.Add(frame(`{"ok":true,"session":"ab","transport":"udp","udp_port":1}`))
	f.Add(frame(`{"ok":false,"code":"full","message":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep Reply
		_ = Read(bufio.NewReader(bytes.NewReader(b)), &rep)
	})
}
