package bridge

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
)

// The golden peer: the Ed25519 key whose seed is the bytes 0..31.
const goldenPeer = "12D3KooWA4Xop1JaT3MHxwYMkCepYsv4iPVopMXwCz5iHYdBfeSB"

// goldenLine is goldenLineValue().String(). It must never change: lines
// already shared must keep parsing.
const goldenLine = "mystp2p-bridge:1:quic-v1,tcp,wss:ASYAJAgBEiADoQe_884Qvh1w3RjnS8CZZ-TWMJulDV8d3IZkElUxuKChoqOkpaanqKmqq6ytrq-wsbKztLW2t7i5uru8vb6_BAsEywBxB5ECAbvNAwgEywBxBwYBuxcpIAENuAAAAAAAAAAAAAAAB5ECAbvNAzA2EmJyaWRnZS5leGFtcGxlLmNvbQYBu8ADwQMSYnJpZGdlLmV4YW1wbGUuY29t3QOyfT4O"

// goldenPayloadHex is the decoded payload of goldenLine, field by field.
const goldenPayloadHex = "" +
	"01" + // flags: secret
	"26" + // peer ID length 38
	"002408011220" + "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8" + // identity multihash of the Ed25519 key
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf" + // secret
	"04" + // four addresses
	"0b" + "04cb007107" + "9102" + "01bb" + "cd03" + // /ip4/203.0.113.7/udp/443/quic-v1
	"08" + "04cb007107" + "0601bb" + // /ip4/203.0.113.7/tcp/443
	"17" + "2920010db8000000000000000000000007" + "910201bb" + "cd03" + // /ip6/2001:db8::7/udp/443/quic-v1
	"30" + "3612" + hexBridgeName + "0601bb" + "c003" + "c10312" + hexBridgeName + "dd03" + // /dns4/…/tcp/443/tls/sni/…/ws
	"b27d3e0e" // checksum

const hexBridgeName = "6272696467652e6578616d706c652e636f6d" // bridge.example.com

// goldenShort has no secret and two addresses.
const goldenShort = "mystp2p-bridge:1:quic-v1,tcp:ACYAJAgBEiADoQe_884Qvh1w3RjnS8CZZ-TWMJulDV8d3IZkElUxuAILBMsAcQeRAgG7zQMIBMsAcQcGAbtJDKrE"

func goldenKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	sk, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

func goldenLineValue(t testing.TB) Line {
	t.Helper()
	id, err := peer.IDFromPrivateKey(goldenKey(t))
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, SecretLen)
	for i := range secret {
		secret[i] = byte(0xa0 + i)
	}
	return Line{
		Peer: id,
		Addrs: []ma.Multiaddr{
			ma.StringCast("/ip4/203.0.113.7/udp/443/quic-v1"),
			ma.StringCast("/ip4/203.0.113.7/tcp/443"),
			ma.StringCast("/ip6/2001:db8::7/udp/443/quic-v1"),
			ma.StringCast("/dns4/bridge.example.com/tcp/443/tls/sni/bridge.example.com/ws"),
		},
		Secret: secret,
	}
}

func equalLines(a, b Line) bool {
	if a.Peer != b.Peer || !bytes.Equal(a.Secret, b.Secret) || (a.Secret == nil) != (b.Secret == nil) || len(a.Addrs) != len(b.Addrs) {
		return false
	}
	for i := range a.Addrs {
		if !a.Addrs[i].Equal(b.Addrs[i]) {
			return false
		}
	}
	return true
}

func TestGolden(t *testing.T) {
	l := goldenLineValue(t)
	if l.Peer.String() != goldenPeer {
		t.Fatalf("peer %s, want %s", l.Peer, goldenPeer)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := l.String(); got != goldenLine {
		t.Fatalf("String:\n got %s\nwant %s", got, goldenLine)
	}
	enc := goldenLine[strings.LastIndexByte(goldenLine, ':')+1:]
	raw, err := b64.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(raw); got != goldenPayloadHex {
		t.Fatalf("payload:\n got %s\nwant %s", got, goldenPayloadHex)
	}
	got, err := Parse(goldenLine)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLines(got, l) {
		t.Fatalf("Parse = %+v, want %+v", got, l)
	}
	if tr := strings.Join(got.Transports(), ","); tr != "quic-v1,tcp,wss" {
		t.Fatalf("Transports = %s", tr)
	}

	short, err := Parse(goldenShort)
	if err != nil {
		t.Fatal(err)
	}
	want := Line{Peer: l.Peer, Addrs: l.Addrs[:2]}
	if !equalLines(short, want) || short.Secret != nil {
		t.Fatalf("Parse(short) = %+v, want %+v", short, want)
	}
	if short.String() != goldenShort {
		t.Fatalf("short String = %s", short.String())
	}
}

func TestParseTolerance(t *testing.T) {
	l := goldenLineValue(t)
	wrapped := "  \n\t" + strings.ToUpper(goldenLine[:8]) + goldenLine[8:60] + "\n" + goldenLine[60:120] + " \r\n" + goldenLine[120:] + "\n\n"
	got, err := Parse(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if !equalLines(got, l) {
		t.Fatalf("Parse(wrapped) = %+v", got)
	}
	for _, quoted := range []string{
		`"` + goldenLine + `"`,
		"`" + goldenLine + "`.",
		"<" + goldenLine + ">",
		"\u201c" + goldenLine + "\u201d,",
		"(" + goldenLine + ")!",
	} {
		if got, err := Parse(quoted); err != nil || !equalLines(got, l) {
			t.Errorf("Parse(%.12q...) = %v", quoted, err)
		}
	}
}

func TestAddrInfo(t *testing.T) {
	l := goldenLineValue(t)
	ai := l.AddrInfo()
	if ai.ID != l.Peer || len(ai.Addrs) != len(l.Addrs) {
		t.Fatalf("AddrInfo = %v", ai)
	}
	ai.Addrs[0] = nil // a copy: the line is untouched
	if l.Addrs[0] == nil {
		t.Fatal("AddrInfo shares the line's slice")
	}
}

func TestTransports(t *testing.T) {
	for addr, want := range map[string]string{
		"/ip4/1.2.3.4/tcp/1":                      "tcp",
		"/ip6/2001:4860::1/tcp/1/ws":              "ws",
		"/dns/example.org/tcp/443/wss":            "wss",
		"/dns6/example.org/tcp/443/tls/ws":        "wss",
		"/ip4/1.2.3.4/tcp/443/tls/sni/a.org/ws":   "wss",
		"/ip4/1.2.3.4/udp/1/quic-v1":              "quic-v1",
		"/ip4/1.2.3.4/udp/1/quic":                 "",
		"/ip4/1.2.3.4/udp/1":                      "",
		"/ip4/1.2.3.4/tcp/1/tls":                  "",
		"/ip4/0.0.0.0/tcp/1":                      "",
		"/ip4/1.2.3.4/tcp/0":                      "",
		"/dnsaddr/example.org":                    "",
		"/ip4/1.2.3.4/udp/1/quic-v1/p2p-circuit":  "",
		"/ip6zone/eth0/ip6/fe80::1/tcp/1":         "",
		"/ip4/1.2.3.4/udp/1/quic-v1/webtransport": "",
	} {
		got, err := transportOf(ma.StringCast(addr))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("transportOf(%s) = %q, %v; want %q", addr, got, err, want)
		}
	}
}

// craft builds a version-1 line around body with a valid checksum.
func craft(transports string, body []byte) string {
	return Prefix + "1:" + transports + ":" + b64.EncodeToString(append(bytes.Clone(body), checksum(transports, body)...))
}

// rawBody assembles a payload from its fields.
func rawBody(flags byte, id []byte, secret []byte, addrs ...[]byte) []byte {
	b := []byte{flags, byte(len(id))}
	b = append(b, id...)
	b = append(b, secret...)
	b = append(b, byte(len(addrs)))
	for _, a := range addrs {
		b = append(b, byte(len(a)))
		b = append(b, a...)
	}
	return b
}

func TestParseErrors(t *testing.T) {
	g := goldenLineValue(t)
	id := []byte(g.Peer)
	tcp := ma.StringCast("/ip4/203.0.113.7/tcp/443").Bytes()

	// A peer ID that embeds an ECDSA key, which derives a hashed ID.
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, epub, err := crypto.ECDSAKeyPairFromKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	epubBytes, err := crypto.MarshalPublicKey(epub)
	if err != nil {
		t.Fatal(err)
	}
	mismatch, err := mh.Sum(epubBytes, mh.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	nine := make([][]byte, 9)
	for i := range nine {
		nine[i] = tcp
	}
	onechar := []byte(goldenLine)
	onechar[100] ^= 'A' ^ 'B'
	if onechar[100] == goldenLine[100] {
		t.Fatal("test bug")
	}

	for _, tc := range []struct {
		name, in string
		want     error
		msg      string // a substring the message must contain
	}{
		{"empty", "", ErrNotBridgeLine, "paste the line"},
		{"blank", " \n\t ", ErrNotBridgeLine, "paste the line"},
		{"other text", "hello there", ErrNotBridgeLine, "must start with"},
		{"tor bridge", "obfs4 192.0.2.1:443 cert=x iat-mode=0", ErrNotBridgeLine, "must start with"},
		{"prefix cut", "mystp2p-bri", ErrTruncated, "copy the whole line"},
		{"no version", "mystp2p-bridge:", ErrTruncated, "copy the whole line"},
		{"version only", "mystp2p-bridge:1", ErrTruncated, "copy the whole line"},
		{"no payload", "mystp2p-bridge:1:tcp", ErrTruncated, "copy the whole line"},
		{"truncated", goldenLine[:len(goldenLine)-5], ErrTruncated, "bridge line is truncated or mistyped (checksum mismatch): copy the whole line"},
		{"truncated by one", goldenLine[:len(goldenLine)-1], ErrTruncated, "checksum mismatch"},
		{"truncated to 1 mod 4", goldenLine[:len(goldenLine)-3], ErrTruncated, "checksum mismatch"},
		{"half", goldenLine[:len(goldenLine)/2], ErrTruncated, "checksum mismatch"},
		{"empty payload", "mystp2p-bridge:1:tcp:", ErrTruncated, "checksum mismatch"},
		{"mistyped", string(onechar), ErrTruncated, "checksum mismatch"},
		{"transports edited", strings.Replace(goldenLine, "quic-v1,tcp,wss", "quic-v1,tcp", 1), ErrTruncated, "checksum mismatch"},
		{"not base64", goldenLine[:60] + "!" + goldenLine[61:], ErrMalformed, "not base64url"},
		{"padded", goldenShort + "==", ErrMalformed, "not base64url"},
		{"version 7", "mystp2p-bridge:7:tcp:AAAA", ErrUnknownVersion, "unknown bridge line version 7 (this mystp2p reads version 1): update mystp2p"},
		{"version 2 other layout", "mystp2p-bridge:2:whatever", ErrUnknownVersion, "update mystp2p"},
		{"version 0", "mystp2p-bridge:0:tcp:AAAA", ErrUnknownVersion, "update mystp2p"},
		{"version 01", "mystp2p-bridge:01:tcp:AAAA", ErrUnknownVersion, "update mystp2p"},
		{"version word", "mystp2p-bridge:one:tcp:AAAA", ErrMalformed, "not a number"},
		{"version empty", "mystp2p-bridge::tcp:AAAA", ErrMalformed, "not a number"},
		{"too long", Prefix + "1:tcp:" + strings.Repeat("A", MaxLineLen), ErrTooLong, "at most 2048"},
		{"huge", strings.Repeat(" ", 10*MaxLineLen), ErrTooLong, "paste only the bridge line"},
		{"no addresses", craft("", rawBody(0, id, nil)), ErrNoAddrs, "bridge line has no addresses"},
		{"too many addresses", craft("tcp", rawBody(0, id, nil, nine...)), ErrTooManyAddrs, "at most 8"},
		{"peer mismatch", craft("tcp", rawBody(0, mismatch, nil, tcp)), ErrPeerKeyMismatch, "peer ID does not match the key"},
		{"empty peer", craft("tcp", rawBody(0, nil, nil, tcp)), ErrBadPeerID, "empty"},
		{"garbage peer", craft("tcp", rawBody(0, []byte{0xff, 0xff, 0xff}, nil, tcp)), ErrBadPeerID, "invalid peer ID"},
		{"bad embedded key", craft("tcp", rawBody(0, []byte{0x00, 0x03, 1, 2, 3}, nil, tcp)), ErrBadPeerID, "embedded key"},
		{"unknown flag", craft("tcp", rawBody(0x02, id, nil, tcp)), ErrUnsupported, "update mystp2p"},
		{"secret short", craft("tcp", rawBody(flagSecret, id, []byte{1, 2, 3})), ErrMalformed, "secret runs past the end"},
		{"circuit", craft("", rawBody(0, id, nil, ma.StringCast("/ip4/203.0.113.7/tcp/1/p2p/"+goldenPeer+"/p2p-circuit").Bytes())), ErrCircuitOnly, "p2p-circuit"},
		{"p2p in address", craft("", rawBody(0, id, nil, ma.StringCast("/ip4/203.0.113.7/tcp/1/p2p/"+goldenPeer).Bytes())), ErrBadAddr, "names a peer"},
		{"unspecified", craft("", rawBody(0, id, nil, ma.StringCast("/ip4/0.0.0.0/tcp/1").Bytes())), ErrBadAddr, "unspecified"},
		{"port 0", craft("", rawBody(0, id, nil, ma.StringCast("/ip4/203.0.113.7/tcp/0").Bytes())), ErrBadAddr, "port 0"},
		{"quic draft", craft("", rawBody(0, id, nil, ma.StringCast("/ip4/203.0.113.7/udp/1/quic").Bytes())), ErrBadAddr, "want /tcp/PORT"},
		{"not a multiaddr", craft("", rawBody(0, id, nil, []byte{0xff, 0xff})), ErrMalformed, "address 1"},
		{"address past end", craft("", append(rawBody(0, id, nil)[:2+len(id)], 1, 20, 1)), ErrMalformed, "runs past the end"},
		{"trailing bytes", craft("tcp", append(rawBody(0, id, nil, tcp), 0)), ErrMalformed, "after the last address"},
		{"transports lie", craft("quic-v1", rawBody(0, id, nil, tcp)), ErrMalformed, "do not match its addresses"},
		{"body too short", craft("", []byte{0}), ErrMalformed, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %+v, %v; want %v", l, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	g := goldenLineValue(t)
	long := ma.StringCast("/dns/" + strings.Repeat("a", 200) + ".example/tcp/443/tls/sni/" + strings.Repeat("b", 20) + ".example/ws")
	for _, tc := range []struct {
		name string
		l    Line
		want error
	}{
		{"no peer", Line{Addrs: g.Addrs}, ErrBadPeerID},
		{"short secret", Line{Peer: g.Peer, Addrs: g.Addrs, Secret: []byte{1}}, ErrBadSecret},
		{"no addrs", Line{Peer: g.Peer}, ErrNoAddrs},
		{"nine addrs", Line{Peer: g.Peer, Addrs: append(append(append([]ma.Multiaddr{}, g.Addrs...), g.Addrs...), g.Addrs[0])}, ErrTooManyAddrs},
		{"circuit", Line{Peer: g.Peer, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/1.2.3.4/tcp/1/p2p-circuit")}}, ErrCircuitOnly},
		{"too long", Line{Peer: g.Peer, Addrs: []ma.Multiaddr{long, long, long, long, long, long, long, long}}, ErrTooLong},
	} {
		if err := tc.l.Validate(); !errors.Is(err, tc.want) {
			t.Errorf("%s: Validate = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestFromAddrInfo(t *testing.T) {
	g := goldenLineValue(t)
	self := g.Peer
	other, err := peer.Decode("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA")
	if err != nil {
		t.Fatal(err)
	}
	addrs := func(ss ...string) []ma.Multiaddr {
		var out []ma.Multiaddr
		for _, s := range ss {
			out = append(out, ma.StringCast(s))
		}
		return out
	}
	str := func(as []ma.Multiaddr) string {
		var ss []string
		for _, a := range as {
			ss = append(ss, a.String())
		}
		return strings.Join(ss, " ")
	}
	for _, tc := range []struct {
		name string
		in   []ma.Multiaddr
		want string
		err  error
	}{
		{"public kept, rest dropped", addrs(
			"/ip4/127.0.0.1/tcp/4001",
			"/ip4/192.168.1.5/tcp/4001",
			"/ip4/0.0.0.0/tcp/4001",
			"/ip4/8.8.4.4/udp/4001/quic-v1/p2p/"+self.String(),
			"/ip4/8.8.4.4/udp/4001/quic-v1",
			"/ip4/8.8.4.4/tcp/4001/p2p/"+other.String(),
			"/ip4/9.9.9.9/tcp/4001/p2p/"+other.String()+"/p2p-circuit",
			"/ip6/2606:4700::1/tcp/443/wss",
			"/dns4/bridge.example.org/tcp/443/tls/ws",
			"/ip4/8.8.4.4/udp/4001/quic",
		), "/ip4/8.8.4.4/udp/4001/quic-v1 /ip6/2606:4700::1/tcp/443/wss /dns4/bridge.example.org/tcp/443/tls/ws", nil},
		{"private when no public", addrs(
			"/ip4/127.0.0.1/tcp/4001",
			"/ip4/10.0.0.2/tcp/4001",
			"/ip4/10.0.0.2/udp/4001/quic-v1",
		), "/ip4/10.0.0.2/tcp/4001 /ip4/10.0.0.2/udp/4001/quic-v1", nil},
		{"loopback when nothing else", addrs(
			"/ip4/127.0.0.1/tcp/4001",
			"/ip6/::1/udp/4001/quic-v1",
			"/dns/localhost/tcp/1",
		), "/ip4/127.0.0.1/tcp/4001 /ip6/::1/udp/4001/quic-v1 /dns/localhost/tcp/1", nil},
		{"capped at MaxAddrs", addrs(
			"/ip4/8.8.4.1/tcp/1", "/ip4/8.8.4.2/tcp/1", "/ip4/8.8.4.3/tcp/1", "/ip4/8.8.4.4/tcp/1",
			"/ip4/8.8.4.5/tcp/1", "/ip4/8.8.4.6/tcp/1", "/ip4/8.8.4.7/tcp/1", "/ip4/8.8.4.8/tcp/1",
			"/ip4/8.8.4.9/tcp/1",
		), "/ip4/8.8.4.1/tcp/1 /ip4/8.8.4.2/tcp/1 /ip4/8.8.4.3/tcp/1 /ip4/8.8.4.4/tcp/1 /ip4/8.8.4.5/tcp/1 /ip4/8.8.4.6/tcp/1 /ip4/8.8.4.7/tcp/1 /ip4/8.8.4.8/tcp/1", nil},
		{"circuit only", addrs("/ip4/9.9.9.9/tcp/4001/p2p/" + other.String() + "/p2p-circuit"), "", ErrCircuitOnly},
		{"empty", nil, "", ErrNoAddrs},
		{"nothing dialable", addrs("/ip4/0.0.0.0/tcp/1", "/ip4/8.8.8.8/tcp/0"), "", ErrNoAddrs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := FromAddrInfo(peer.AddrInfo{ID: self, Addrs: tc.in}, g.Secret)
			if !errors.Is(err, tc.err) {
				t.Fatalf("FromAddrInfo error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if got := str(l.Addrs); got != tc.want {
				t.Fatalf("addrs\n got %s\nwant %s", got, tc.want)
			}
			if err := l.Validate(); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(l.String())
			if err != nil || !equalLines(back, l) {
				t.Fatalf("round trip: %+v, %v", back, err)
			}
		})
	}

	if _, err := FromAddrInfo(peer.AddrInfo{ID: self, Addrs: g.Addrs}, []byte{1, 2}); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := FromAddrInfo(peer.AddrInfo{Addrs: g.Addrs}, nil); !errors.Is(err, ErrBadPeerID) {
		t.Fatalf("no peer: %v", err)
	}
	l, err := FromAddrInfo(peer.AddrInfo{ID: self, Addrs: g.Addrs}, []byte{})
	if err != nil || l.Secret != nil {
		t.Fatalf("empty secret: %+v, %v", l, err)
	}
	// Long addresses: as many as fit in MaxLineLen.
	var long []ma.Multiaddr
	for i := range 8 {
		long = append(long, ma.StringCast("/dns/"+strings.Repeat(string(rune('a'+i)), 200)+".example/tcp/443/wss"))
	}
	l, err = FromAddrInfo(peer.AddrInfo{ID: self, Addrs: long}, g.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.String()); n > MaxLineLen || len(l.Addrs) >= 8 || len(l.Addrs) == 0 {
		t.Fatalf("%d addrs, %d characters", len(l.Addrs), n)
	}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(goldenLine)
	f.Add(goldenShort)
	f.Add("")
	f.Add("mystp2p-bridge:1:tcp:")
	f.Add("mystp2p-bridge:7:tcp:AAAA")
	f.Add(goldenLine[:len(goldenLine)-3])
	f.Add(craft("tcp", rawBody(0, []byte(goldenLineValue(f).Peer), nil, ma.StringCast("/ip4/1.2.3.4/tcp/1").Bytes())))
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			if l.Peer != "" || l.Addrs != nil || l.Secret != nil {
				t.Fatalf("Parse returned %+v with error %v", l, err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted a line Validate rejects: %v", s, err)
		}
		enc := l.String()
		back, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not parse: %v", enc, err)
		}
		if !equalLines(back, l) {
			t.Fatalf("round trip changed the line: %+v != %+v", back, l)
		}
		if back.String() != enc {
			t.Fatalf("String is not stable: %q != %q", back.String(), enc)
		}
	})
}

// FuzzParsePayload fuzzes what follows a valid checksum, which FuzzParse's
// mutations almost never reach.
func FuzzParsePayload(f *testing.F) {
	g := goldenLineValue(f)
	f.Add("quic-v1,tcp,wss", g.body())
	f.Add("tcp", rawBody(0, []byte(g.Peer), nil, ma.StringCast("/ip4/1.2.3.4/tcp/1").Bytes()))
	f.Add("wss", rawBody(flagSecret, []byte(g.Peer), g.Secret, ma.StringCast("/dns/a.example/tcp/443/wss").Bytes()))
	f.Fuzz(func(t *testing.T, transports string, body []byte) {
		l, err := Parse(craft(transports, body))
		if err != nil {
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("accepted a line Validate rejects: %v", err)
		}
		back, err := Parse(l.String())
		if err != nil || !equalLines(back, l) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, l)
		}
	})
}
