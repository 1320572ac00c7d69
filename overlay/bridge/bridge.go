// Package bridge is the bridge line: one short line of text that names a
// mystp2p peer and how to dial it, for a user to paste into a chat message,
// an e-mail or a QR code, so that a censored consumer who knows one live
// peer of any role can join the network without the bootstrap list.
//
// # Format
//
// A version-1 line is four fields separated by colons:
//
//	mystp2p-bridge:1:<transports>:<payload>
//
// The first field is Prefix without its colon (matched case-insensitively,
// since chat programs capitalise), the second the format version in
// decimal, the third the comma-separated, sorted transport names of the
// addresses ("quic-v1", "tcp", "ws", "wss"), there for a person to read,
// and the last the base64url (unpadded) payload:
//
//	flags     1 byte, bit 0: a secret follows the peer ID; other bits zero
//	peer len  1 byte, then the binary peer ID (a multihash)
//	secret    SecretLen bytes, only when flag bit 0 is set
//	count     1 byte, 1..MaxAddrs
//	address   count times: 1 byte length, then the binary multiaddr
//	checksum  ChecksumLen bytes
//
// The checksum is the first ChecksumLen bytes of SHA-256 over the text
// "mystp2p-bridge:1:<transports>:" followed by the payload before the
// checksum, so a line cut short or mistyped anywhere after the version is
// reported as such rather than read as another peer. Whitespace anywhere in
// the line is ignored (chat programs wrap long lines), and so are quotes,
// brackets and sentence punctuation around it.
//
// An address is /ip4, /ip6, /dns, /dns4 or /dns6, then /tcp/PORT with
// nothing, /ws, /wss, /tls/ws or /tls/sni/NAME/ws after it, or
// /udp/PORT/quic-v1; it names no peer (/p2p) and no relay (/p2p-circuit).
//
// The line carries the secret in clear: whoever has the line can use the
// bridge, which is the point. Do not log a Line that has one.
package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Format limits and constants.
const (
	// Prefix starts every bridge line.
	Prefix = "mystp2p-bridge:"
	// Version is the format version String writes and Parse reads.
	Version = 1
	// MaxLineLen caps a line, surrounding whitespace excluded.
	MaxLineLen = 2048
	// MaxAddrs caps the number of addresses in a line.
	MaxAddrs = 8
	// MaxAddrLen caps one binary multiaddr.
	MaxAddrLen = 255
	// MaxPeerIDLen caps the binary peer ID.
	MaxPeerIDLen = 128
	// SecretLen is the length of a bridge secret.
	SecretLen = 32
	// ChecksumLen is the length of the checksum at the end of the payload.
	ChecksumLen = 4
)

const flagSecret = 1 << 0

var b64 = base64.RawURLEncoding.Strict()

// Line is one bridge: a peer, the addresses to dial it on and, for a bridge
// that answers only those who know it, its secret.
type Line struct {
	Peer  peer.ID
	Addrs []ma.Multiaddr
	// Secret is nil or SecretLen bytes.
	Secret []byte
}

// String encodes the line. The result parses back to an equal Line when
// Validate accepts l; otherwise it is a best effort that Parse rejects.
func (l Line) String() string {
	body := l.body()
	tr := strings.Join(l.Transports(), ",")
	sum := checksum(tr, body)
	return Prefix + strconv.Itoa(Version) + ":" + tr + ":" + b64.EncodeToString(append(body, sum...))
}

// Transports returns the sorted, distinct transport names of l's
// addresses; an address that is not dialable adds none.
func (l Line) Transports() []string {
	var out []string
	for _, a := range l.Addrs {
		if t, err := transportOf(a); err == nil && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// AddrInfo returns the peer and its addresses, for the host's peerstore or
// a bootstrap list.
func (l Line) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: l.Peer, Addrs: slices.Clone(l.Addrs)}
}

// Validate reports whether l can be encoded as a line that Parse accepts.
func (l Line) Validate() error {
	if err := checkPeer(l.Peer); err != nil {
		return err
	}
	if len(l.Secret) != 0 && len(l.Secret) != SecretLen {
		return fmt.Errorf("%w: %d bytes, want %d or none", ErrBadSecret, len(l.Secret), SecretLen)
	}
	if len(l.Addrs) == 0 {
		return fmt.Errorf("%w: give the bridge at least one public address", ErrNoAddrs)
	}
	if len(l.Addrs) > MaxAddrs {
		return fmt.Errorf("%w: %d, at most %d", ErrTooManyAddrs, len(l.Addrs), MaxAddrs)
	}
	for i, a := range l.Addrs {
		if _, err := transportOf(a); err != nil {
			return fmt.Errorf("address %d: %w", i+1, err)
		}
	}
	if n := len(l.String()); n > MaxLineLen {
		return fmt.Errorf("%w: %d characters, at most %d: use fewer or shorter addresses", ErrTooLong, n, MaxLineLen)
	}
	return nil
}

// body is the payload before the checksum.
func (l Line) body() []byte {
	var b []byte
	var flags byte
	if l.Secret != nil {
		flags |= flagSecret
	}
	b = append(b, flags, byte(len(l.Peer)))
	b = append(b, l.Peer...)
	b = append(b, l.Secret...)
	b = append(b, byte(len(l.Addrs)))
	for _, a := range l.Addrs {
		ab := a.Bytes()
		b = append(b, byte(len(ab)))
		b = append(b, ab...)
	}
	return b
}

func checksum(transports string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(Prefix + strconv.Itoa(Version) + ":" + transports + ":"))
	h.Write(body)
	return h.Sum(nil)[:ChecksumLen]
}

// Parse reads a bridge line. Whitespace around and inside it is ignored,
// and so are quotes, brackets and punctuation around it.
// Every error wraps one of this package's sentinel errors and says what to
// do about it.
func Parse(s string) (Line, error) {
	if len(s) > 4*MaxLineLen {
		return Line{}, fmt.Errorf("%w: %d characters, at most %d: paste only the bridge line", ErrTooLong, len(s), MaxLineLen)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	// Quotes, brackets and sentence punctuation a chat message may put
	// around the line: none can begin a line or end its base64url payload.
	s = strings.Trim(s, "\"'`<>()[]{}.,;!?\u00ab\u00bb\u201c\u201d\u2018\u2019")
	if len(s) > MaxLineLen {
		return Line{}, fmt.Errorf("%w: %d characters, at most %d: paste only the bridge line", ErrTooLong, len(s), MaxLineLen)
	}
	if s == "" {
		return Line{}, fmt.Errorf("%w: the text is empty: paste the line that starts with %q", ErrNotBridgeLine, Prefix)
	}
	if len(s) < len(Prefix) || !strings.EqualFold(s[:len(Prefix)], Prefix) {
		if strings.HasPrefix(strings.ToLower(Prefix), strings.ToLower(s)) {
			return Line{}, fmt.Errorf("%w: it ends after %q: copy the whole line", ErrTruncated, s)
		}
		return Line{}, fmt.Errorf("%w: it must start with %q", ErrNotBridgeLine, Prefix)
	}
	rest := s[len(Prefix):]
	ver, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return Line{}, fmt.Errorf("%w: it ends after the version: copy the whole line", ErrTruncated)
	}
	if ver == "" || len(ver) > 9 || strings.Trim(ver, "0123456789") != "" {
		return Line{}, fmt.Errorf("%w: version %q is not a number: copy the whole line again", ErrMalformed, ver)
	}
	if v, _ := strconv.Atoi(ver); v != Version || ver != strconv.Itoa(Version) {
		return Line{}, fmt.Errorf("%w %s (this mystp2p reads version %d): update mystp2p", ErrUnknownVersion, ver, Version)
	}
	tr, enc, ok := strings.Cut(rest, ":")
	if !ok {
		return Line{}, fmt.Errorf("%w: it ends before its payload: copy the whole line", ErrTruncated)
	}
	raw, err := b64.DecodeString(enc)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) && int(ce) < len(enc) && !isB64(enc[ce]) {
			return Line{}, fmt.Errorf("%w: character %q at position %d of the payload is not base64url: copy the whole line again", ErrMalformed, enc[ce], int(ce)+1)
		}
		return Line{}, fmt.Errorf("%w (checksum mismatch): copy the whole line", ErrTruncated)
	}
	if len(raw) < ChecksumLen {
		return Line{}, fmt.Errorf("%w (checksum mismatch): copy the whole line", ErrTruncated)
	}
	body, sum := raw[:len(raw)-ChecksumLen], raw[len(raw)-ChecksumLen:]
	if !bytes.Equal(sum, checksum(tr, body)) {
		return Line{}, fmt.Errorf("%w (checksum mismatch): copy the whole line", ErrTruncated)
	}
	l, err := decodeBody(body)
	if err != nil {
		return Line{}, err
	}
	if want := strings.Join(l.Transports(), ","); tr != want {
		return Line{}, fmt.Errorf("%w: transports %q do not match its addresses (%q): it was not written by mystp2p", ErrMalformed, tr, want)
	}
	return l, nil
}

func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// decodeBody reads a payload whose checksum matched. Errors here mean a line
// not written by this package (the checksum rules out copying mistakes).
func decodeBody(b []byte) (Line, error) {
	malformed := func(what string) (Line, error) {
		return Line{}, fmt.Errorf("%w: %s: ask for a new bridge line", ErrMalformed, what)
	}
	if len(b) < 2 {
		return malformed("payload too short")
	}
	flags, n := b[0], int(b[1])
	b = b[2:]
	if flags&^flagSecret != 0 {
		return Line{}, fmt.Errorf("%w: flags %#02x: update mystp2p", ErrUnsupported, flags)
	}
	if n > len(b) {
		return malformed("peer ID runs past the end")
	}
	var l Line
	l.Peer = peer.ID(b[:n])
	b = b[n:]
	if err := checkPeer(l.Peer); err != nil {
		return Line{}, err
	}
	if flags&flagSecret != 0 {
		if len(b) < SecretLen {
			return malformed("secret runs past the end")
		}
		l.Secret = slices.Clone(b[:SecretLen])
		b = b[SecretLen:]
	}
	if len(b) < 1 {
		return malformed("address count missing")
	}
	count := int(b[0])
	b = b[1:]
	if count == 0 {
		return Line{}, fmt.Errorf("%w: ask the bridge's operator for a line with its public address", ErrNoAddrs)
	}
	if count > MaxAddrs {
		return Line{}, fmt.Errorf("%w: %d, at most %d: ask for a shorter line", ErrTooManyAddrs, count, MaxAddrs)
	}
	for i := range count {
		if len(b) < 1 || int(b[0]) > len(b)-1 {
			return malformed(fmt.Sprintf("address %d runs past the end", i+1))
		}
		an := int(b[0])
		a, err := ma.NewMultiaddrBytes(b[1 : 1+an])
		if err != nil {
			return malformed(fmt.Sprintf("address %d: %v", i+1, err))
		}
		b = b[1+an:]
		if _, err := transportOf(a); err != nil {
			return Line{}, fmt.Errorf("address %d: %w: ask for a new bridge line", i+1, err)
		}
		l.Addrs = append(l.Addrs, a)
	}
	if len(b) != 0 {
		return malformed(fmt.Sprintf("%d bytes after the last address", len(b)))
	}
	return l, nil
}

// checkPeer checks that id is a peer ID and, when it embeds its public key,
// that the key derives id.
func checkPeer(id peer.ID) error {
	if id == "" {
		return fmt.Errorf("%w: it is empty", ErrBadPeerID)
	}
	if len(id) > MaxPeerIDLen {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadPeerID, len(id), MaxPeerIDLen)
	}
	if _, err := peer.IDFromBytes([]byte(id)); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPeerID, err)
	}
	pk, err := id.ExtractPublicKey()
	if errors.Is(err, peer.ErrNoPublicKey) {
		return nil // a hashed key: nothing to compare
	}
	if err != nil {
		return fmt.Errorf("%w: its embedded key: %v", ErrBadPeerID, err)
	}
	derived, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return fmt.Errorf("%w: its embedded key: %v", ErrBadPeerID, err)
	}
	if derived != id {
		return fmt.Errorf("%w: the line names %s, its key is %s's", ErrPeerKeyMismatch, id, derived)
	}
	return nil
}

// transportOf returns the transport name of a dialable bridge address.
func transportOf(a ma.Multiaddr) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %s: %s", ErrBadAddr, a, why)
	}
	for _, c := range a {
		if c.Code() == ma.P_CIRCUIT {
			return "", fmt.Errorf("%w: %s", ErrCircuitOnly, a)
		}
	}
	for _, c := range a {
		if c.Code() == ma.P_P2P {
			return bad("names a peer (/p2p): the line names the peer once")
		}
	}
	if len(a) < 2 {
		return bad("want a host and a port")
	}
	switch a[0].Code() {
	case ma.P_IP4, ma.P_IP6:
		if manet.IsIPUnspecified(a) {
			return bad("unspecified IP: give the address others reach the bridge on")
		}
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
	default:
		return bad("want /ip4, /ip6, /dns, /dns4 or /dns6 first")
	}
	if a[1].Value() == "0" {
		return bad("port 0")
	}
	rest := a[2:]
	codes := make([]int, len(rest))
	for i, c := range rest {
		codes[i] = c.Code()
	}
	switch a[1].Code() {
	case ma.P_TCP:
		switch {
		case len(codes) == 0:
			return "tcp", nil
		case slices.Equal(codes, []int{ma.P_WS}):
			return "ws", nil
		case slices.Equal(codes, []int{ma.P_WSS}),
			slices.Equal(codes, []int{ma.P_TLS, ma.P_WS}),
			slices.Equal(codes, []int{ma.P_TLS, ma.P_SNI, ma.P_WS}):
			return "wss", nil
		}
	case ma.P_UDP:
		if slices.Equal(codes, []int{ma.P_QUIC_V1}) {
			return "quic-v1", nil
		}
	}
	return bad("want /tcp/PORT (optionally /ws, /wss, /tls/ws or /tls/sni/NAME/ws) or /udp/PORT/quic-v1")
}

// FromAddrInfo makes the line of a peer from what the host knows of it (its
// own listen and observed addresses, say). It drops what a stranger cannot
// dial: relayed (p2p-circuit) addresses, unspecified IPs, port 0 and
// unsupported transports. Of the rest it keeps the public addresses; only
// when there are none does it keep the private (LAN) ones, and only when
// there are none of those either the loopback ones, so a test network on
// one machine still gets a line. It keeps the first MaxAddrs, fewer if the
// line would exceed MaxLineLen. secret is nil or SecretLen bytes.
func FromAddrInfo(ai peer.AddrInfo, secret []byte) (Line, error) {
	if err := checkPeer(ai.ID); err != nil {
		return Line{}, err
	}
	if len(secret) != 0 && len(secret) != SecretLen {
		return Line{}, fmt.Errorf("%w: %d bytes, want %d or none", ErrBadSecret, len(secret), SecretLen)
	}
	l := Line{Peer: ai.ID}
	if len(secret) != 0 {
		l.Secret = slices.Clone(secret)
	}
	var classes [3][]ma.Multiaddr // public, private, loopback
	circuit := false
	for _, a := range ai.Addrs {
		if len(a) == 0 {
			continue
		}
		// The host's addresses often end in /p2p/<self>: drop it.
		if last := a[len(a)-1]; last.Code() == ma.P_P2P {
			if id, err := peer.IDFromBytes(last.RawValue()); err != nil || id != ai.ID {
				continue
			}
			a = a[:len(a)-1]
		}
		if _, err := transportOf(a); err != nil {
			if errors.Is(err, ErrCircuitOnly) {
				circuit = true
			}
			continue
		}
		if len(a.Bytes()) > MaxAddrLen {
			continue
		}
		c := 0
		switch {
		case manet.IsPublicAddr(a):
		case manet.IsIPLoopback(a) || isLocalhostName(a):
			c = 2
		default:
			c = 1
		}
		if !slices.ContainsFunc(classes[c], a.Equal) {
			classes[c] = append(classes[c], a)
		}
	}
	for _, class := range classes {
		if len(class) == 0 {
			continue
		}
		for _, a := range class {
			if len(l.Addrs) == MaxAddrs {
				break
			}
			l.Addrs = append(l.Addrs, a)
			if len(l.String()) > MaxLineLen {
				l.Addrs = l.Addrs[:len(l.Addrs)-1]
				break
			}
		}
		break
	}
	if len(l.Addrs) == 0 {
		if circuit {
			return Line{}, fmt.Errorf("%w: a bridge needs an address of its own that others can dial (a public IP or a forwarded port)", ErrCircuitOnly)
		}
		return Line{}, fmt.Errorf("%w: the peer has no dialable address; give it a public IP or a forwarded port and listen on it", ErrNoAddrs)
	}
	return l, nil
}

func isLocalhostName(a ma.Multiaddr) bool {
	switch a[0].Code() {
	case ma.P_DNS, ma.P_DNS4, ma.P_DNS6:
		h := strings.ToLower(strings.TrimSuffix(a[0].Value(), "."))
		return h == "localhost" || strings.HasSuffix(h, ".localhost")
	}
	return false
}
