package overlay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/mystp2p/mystp2p/tunnel"
)

func TestSessionWireRoundTrip(t *testing.T) {
	k, _ := tunnel.GeneratePrivateKey()
	in := sessionRequest{Kind: reqOpen, ProposalSeq: 9, PriceHour: "1", PriceGiB: "2", WGKey: k.PublicKey(), Transport: TransportUDP, UDPPort: 51820}
	var buf bytes.Buffer
	if err := writeMsg(&buf, in); err != nil {
		t.Fatal(err)
	}
	var out sessionRequest
	if err := readMsg(bufio.NewReader(&buf), &out); err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || out.WGKey != in.WGKey || out.UDPPort != in.UDPPort || out.Transport != in.Transport || out.PriceGiB != in.PriceGiB {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	big := sessionRequest{Kind: string(make([]byte, MaxSessionMessage))}
	if err := writeMsg(&buf, big); err == nil {
		t.Fatal("oversized message written")
	}
}

func FuzzSessionRequest(f *testing.F) {
	k, _ := tunnel.GeneratePrivateKey()
	var buf bytes.Buffer
	_ = writeMsg(&buf, sessionRequest{Kind: reqOpen, PriceHour: "1", PriceGiB: "2", WGKey: k.PublicKey(), Transport: TransportStream})
	f.Add(buf.Bytes())
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add(frame(`{"kind":"ping","session":"ab"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req sessionRequest
		if err := readMsg(bufio.NewReader(bytes.NewReader(b)), &req); err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same request.
		var again bytes.Buffer
		if err := writeMsg(&again, req); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var back sessionRequest
		if err := readMsg(bufio.NewReader(&again), &back); err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		x, _ := json.Marshal(req)
		y, _ := json.Marshal(back)
		if !bytes.Equal(x, y) {
			t.Fatalf("round trip changed the request: %s vs %s", x, y)
		}
	})
}

func FuzzSessionReply(f *testing.F) {
	f.Add(frame(`{"ok":true,"session":"ab","transport":"udp","udp_port":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rep sessionReply
		_ = readMsg(bufio.NewReader(bytes.NewReader(b)), &rep)
	})
}
