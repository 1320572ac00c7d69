package testnet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
)

// quicV1InitialSalt is RFC 9001's initial salt for QUIC version 1.
var quicV1InitialSalt = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}

var errNotInitial = errors.New("not a QUIC v1 Initial")

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func hkdfExpandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(sha256.New, secret, string(info), n)
	if err != nil {
		panic(err) // n is always small
	}
	return out
}

// quicVarint reads a QUIC variable-length integer.
func quicVarint(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, false
	}
	v := uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, true
}

// quicInitialIDs returns the connection IDs of a datagram whose first packet
// is a QUIC v1 Initial.
func quicInitialIDs(d []byte) (dcid, scid []byte, err error) {
	if len(d) < 7 || d[0]&0xf0 != 0xc0 || binary.BigEndian.Uint32(d[1:5]) != 1 {
		return nil, nil, errNotInitial
	}
	dl := int(d[5])
	if dl > 20 || 6+dl >= len(d) {
		return nil, nil, errNotInitial
	}
	sl := int(d[6+dl])
	if sl > 20 || 7+dl+sl >= len(d) {
		return nil, nil, errNotInitial
	}
	return d[6 : 6+dl], d[7+dl : 7+dl+sl], nil
}

// quicInitialCrypto decrypts the first packet of a datagram, a client's
// QUIC v1 Initial (RFC 9001 §5), with the Initial keys of keyID (the
// connection's first destination connection ID; nil: this packet's), and
// returns its destination connection ID and the CRYPTO frames' data by
// offset.
func quicInitialCrypto(d []byte, keyID ...[]byte) (dcid []byte, frames map[uint64][]byte, err error) {
	if len(d) < 7 || d[0]&0xf0 != 0xc0 || binary.BigEndian.Uint32(d[1:5]) != 1 {
		return nil, nil, errNotInitial
	}
	p := 5
	dl := int(d[p])
	p++
	if dl > 20 || p+dl >= len(d) {
		return nil, nil, errNotInitial
	}
	dcid = d[p : p+dl]
	p += dl
	sl := int(d[p])
	p += 1 + sl
	if p >= len(d) {
		return nil, nil, errNotInitial
	}
	tl, n, ok := quicVarint(d[p:])
	if !ok {
		return nil, nil, errNotInitial
	}
	p += n + int(tl)
	if p >= len(d) {
		return nil, nil, errNotInitial
	}
	length, n, ok := quicVarint(d[p:])
	if !ok {
		return nil, nil, errNotInitial
	}
	p += n
	pnOff := p
	if length < 20 || pnOff+int(length) > len(d) {
		return nil, nil, errNotInitial
	}
	secret := dcid
	if len(keyID) > 0 && keyID[0] != nil {
		secret = keyID[0]
	}
	initial, err := hkdf.Extract(sha256.New, secret, quicV1InitialSalt)
	if err != nil {
		return nil, nil, err
	}
	client := hkdfExpandLabel(initial, "client in", 32)
	key, iv, hp := hkdfExpandLabel(client, "quic key", 16), hkdfExpandLabel(client, "quic iv", 12), hkdfExpandLabel(client, "quic hp", 16)
	hb, err := aes.NewCipher(hp)
	if err != nil {
		return nil, nil, err
	}
	mask := make([]byte, 16)
	hb.Encrypt(mask, d[pnOff+4:pnOff+20])
	pkt := slices.Clone(d[:pnOff+int(length)])
	pkt[0] ^= mask[0] & 0x0f
	pnLen := int(pkt[0]&0x03) + 1
	var pn uint64
	for i := range pnLen {
		pkt[pnOff+i] ^= mask[1+i]
		pn = pn<<8 | uint64(pkt[pnOff+i])
	}
	nonce := slices.Clone(iv)
	for i := range 8 {
		nonce[len(nonce)-1-i] ^= byte(pn >> (8 * i))
	}
	kb, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(kb)
	if err != nil {
		return nil, nil, err
	}
	plain, err := aead.Open(nil, nonce, pkt[pnOff+pnLen:], pkt[:pnOff+pnLen])
	if err != nil {
		return nil, nil, err
	}
	frames = map[uint64][]byte{}
	for q := 0; q < len(plain); {
		switch t := plain[q]; t {
		case 0x00, 0x01: // PADDING, PING
			q++
		case 0x06: // CRYPTO
			off, n1, ok1 := quicVarint(plain[q+1:])
			l, n2, ok2 := quicVarint(plain[q+1+n1:])
			s := q + 1 + n1 + n2
			if !ok1 || !ok2 || s+int(l) > len(plain) {
				return dcid, frames, nil
			}
			frames[off] = plain[s : s+int(l)]
			q = s + int(l)
		default: // ACK and the rest: a client's first flight has no more CRYPTO after them
			return dcid, frames, nil
		}
	}
	return dcid, frames, nil
}

// clientHelloALPN returns the ALPN protocols of a TLS ClientHello, and
// whether the hello, possibly only its start, was enough to say.
func clientHelloALPN(h []byte) ([]string, bool) {
	if len(h) < 4 || h[0] != 1 {
		return nil, len(h) >= 4 // not a ClientHello: decided, no ALPN
	}
	body := h[4:]
	complete := false
	if n := int(h[1])<<16 | int(h[2])<<8 | int(h[3]); len(body) >= n {
		body, complete = body[:n], true
	}
	p := 2 + 32
	if p >= len(body) {
		return nil, complete
	}
	p += 1 + int(body[p]) // session ID
	if p+2 > len(body) {
		return nil, complete
	}
	p += 2 + int(binary.BigEndian.Uint16(body[p:])) // cipher suites
	if p >= len(body) {
		return nil, complete
	}
	p += 1 + int(body[p]) // compression methods
	if p+2 > len(body) {
		return nil, complete
	}
	p += 2
	for p+4 <= len(body) {
		typ, l := binary.BigEndian.Uint16(body[p:]), int(binary.BigEndian.Uint16(body[p+2:]))
		p += 4
		if p+l > len(body) {
			return nil, complete
		}
		if typ == 16 && l >= 2 {
			var protos []string
			e := body[p+2 : p+l]
			for len(e) > 0 && int(e[0]) < len(e) {
				protos = append(protos, string(e[1:1+int(e[0])]))
				e = e[1+int(e[0]):]
			}
			return protos, true
		}
		p += l
	}
	return nil, complete
}

// alpnFilter follows QUIC connections by the client's source connection ID
// (its destination ID changes once the server answers, but the Initial
// keys stay those of the first one), reassembles each one's ClientHello
// across Initial packets and decides whether it offers a blocked ALPN; once
// it does, every further Initial of that connection is dropped too.
type alpnFilter struct {
	blocked string
	mu      sync.Mutex
	conns   map[string]*alpnConn
}

type alpnConn struct {
	keyID   []byte // the first destination connection ID
	crypto  map[uint64][]byte
	decided bool
	drop    bool
}

// maxALPNConns bounds the filter's memory; it forgets everything past it.
const maxALPNConns = 4096

// drop reports whether the datagram (a UDP payload) is a QUIC Initial of a
// connection that offers the blocked ALPN.
func (f *alpnFilter) drop(d []byte) bool {
	dcid, scid, err := quicInitialIDs(d)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil || len(f.conns) > maxALPNConns {
		f.conns = map[string]*alpnConn{}
	}
	c := f.conns[string(scid)]
	if c == nil {
		c = &alpnConn{keyID: slices.Clone(dcid), crypto: map[uint64][]byte{}}
		f.conns[string(scid)] = c
	}
	if c.decided {
		return c.drop
	}
	_, frames, err := quicInitialCrypto(d, c.keyID)
	if err != nil {
		return false
	}
	for off, b := range frames {
		c.crypto[off] = slices.Clone(b)
	}
	var hello []byte
	for {
		b, ok := c.crypto[uint64(len(hello))]
		if !ok || len(b) == 0 {
			break
		}
		hello = append(hello, b...)
	}
	protos, ok := clientHelloALPN(hello)
	if !ok {
		// Not enough yet: let this packet through and decide on the next;
		// without the rest of the hello the server cannot answer anyway.
		return false
	}
	c.decided, c.drop = true, slices.Contains(protos, f.blocked)
	return c.drop
}
