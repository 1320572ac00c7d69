// # Obfuscation
//
// ObfsBind wraps any of the binds and removes WireGuard's fingerprint from
// the wire: the fixed first bytes (a type 1–4 followed by three zero bytes),
// the fixed handshake sizes (148, 92 and 64 bytes) and the 16-byte size grid
// of data packets. Both ends need the same 32-byte per-session key; a
// datagram not made with it is dropped before WireGuard sees it, so a probe
// gets no reply of any kind, and a captured handshake replayed at either end
// is dropped too (so a burst of replays cannot push WireGuard into its
// "under load" mode, whose cookie replies would identify it).
//
// A session negotiates it over the libp2p stream that opens it, which is
// already authenticated and encrypted: the provider draws 32 random bytes
// (crypto/rand) and sends them in its open reply; both ends then wrap the
// bind that wgpath.Link.Bind returned, NewObfsBind(bind, ObfsConfig{Key: k}),
// and hand the wrapped bind to WireGuard. A fresh key per session means
// nothing seen on one session helps against another. An end that does not
// wrap, or wraps with another key, never completes a handshake; its
// datagrams show up in the other end's ObfsStats.Unauthenticated.
//
// The tunnel MTU must leave room for ObfsConfig.Overhead: the data padding
// makes a full-size data packet up to that many bytes longer than plain
// WireGuard's.
//
// On the shared socket (a MuxBind) obfuscation needs two things, which
// Link.Bind arranges for the UDPMux transport. The mux sends every datagram
// whose first byte has 0x40 or 0x80 set to QUIC, and an obfuscated
// datagram's first byte is random, so ObfsConfig.MuxSafe folds a byte QUIC
// never sends first into every datagram (see the wire formats below). And
// the mux hands a datagram that is neither QUIC nor WireGuard to WireGuard
// only from a peer whose bind asked for it: open the bind with
// Mux.PeerBindObfs, not Mux.PeerBind.
//
// # Obfuscation wire formats
//
// An ObfsBind sends each WireGuard packet in one of two formats, and the
// receiver tells them apart by trying the cheap one first.
//
// Data format, for WireGuard transport data (type 4, at least 32 bytes, a
// counter below 2^48, which WireGuard's rekeying keeps it far below):
//
//	E(block) || WireGuard bytes 16.. || padding
//
// block is WireGuard's 16-byte header rewritten as 4, padLen, 0, 0, the
// receiver index (4 bytes), the low 48 bits of the counter, 0, 0, and E is
// AES-256 under the data key. The header is unique per packet (the counter
// grows), so one block encryption makes it look random without a nonce. The
// padding is 0..DataPad random bytes. The rest of the packet is WireGuard's
// own ciphertext and tag, already indistinguishable from random; it is sent
// as it is, so the data path costs one AES block each way and no extra
// bytes but the padding. The receiver decrypts the first block and accepts
// the datagram only if the 40 fixed bits (type 4 and the four zero bytes)
// and the padding length check out: a datagram not made with the key passes
// with a probability of about 2^-44, and WireGuard then drops it by its own
// authentication, without a reply.
//
// Sealed format, for everything else (handshake initiations, responses and
// cookie replies, so all of WireGuard's unencrypted handshake fields and
// its all-zero mac2 are hidden):
//
//	nonce (12 random bytes) || AES-256-GCM(nonce, ts || len || packet || zeros)
//
// ts is the sender's clock in Unix microseconds (8 bytes, little-endian;
// monotonic within one bind), len the packet's length (2 bytes), and zeros
// the padding, 0..MaxPad bytes inside the ciphertext, so the true length is
// recoverable only with the key. The whole datagram is authenticated. The
// receiver keeps the nonces of the last 256 sealed datagrams it accepted
// and drops a repeat, one more than two minutes older (by the sender's
// clock) than the newest, and one older than any that left those 256; so
// the filter's memory is bounded and yet no replay, however old, gets
// through to the bind that accepted the original (ObfsStats.Replayed counts
// them; another session has another key).
//
// AES-GCM was chosen over ChaCha20-Poly1305 because it is the faster of the
// two on short messages on CPUs with AES instructions; the data path uses a
// bare AES block for the same reason. Both keys are derived from the
// session key with HKDF-SHA256, under different labels.
//
// Mux-safe fold (ObfsConfig.MuxSafe): after either format is made, its first
// byte is moved to the end and replaced by a random byte in 0x00..0x3f:
//
//	r || datagram bytes 1.. || datagram byte 0
//
// so the first byte never has QUIC's 0x40 or 0x80 bits and the mux can tell
// the datagram from QUIC, at the cost of one byte. Nothing is lost or
// weakened: the moved byte still travels, r carries no information, and the
// receiver, which drops a datagram whose first byte is 0x40 or more, puts
// the moved byte back in place without copying the rest. Both ends must
// agree on MuxSafe, as on the key.
//
// Not hidden: the 5-tuple, timing, how many datagrams flow which way, and
// sizes beyond the padding (a data datagram is within DataPad bytes of the
// WireGuard packet; with MaxPad negative the sealed handshakes have fixed
// sizes again, 186, 130 and 102 bytes, one more each with MuxSafe), and,
// with MuxSafe, that every first byte is below 0x40 (as it is for plain
// WireGuard, STUN, DTLS and much else that is not QUIC).
package wgpath

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.zx2c4.com/wireguard/conn"
)

// Sizes and limits of the two wire formats (see the package documentation).
const (
	wgHeaderSize = 16 // type (4), receiver index (4), counter (8)

	obfsNonceSize  = 12
	obfsTagSize    = 16
	obfsSealedMeta = 10 // ts (8) + packet length (2)
	// obfsSealedOverhead is what the sealed format adds before padding.
	obfsSealedOverhead = obfsNonceSize + obfsTagSize + obfsSealedMeta
	// obfsMaxSealed bounds a sealed datagram (both ways), so garbage
	// costs at most this much authentication work.
	obfsMaxSealed  = 2048
	obfsMaxCounter = 1 << 48

	// DefaultObfsMaxPad is the default of ObfsConfig.MaxPad.
	DefaultObfsMaxPad = 64
	// MaxObfsMaxPad is the largest ObfsConfig.MaxPad.
	MaxObfsMaxPad = 1024
	// DefaultObfsDataPad is the default of ObfsConfig.DataPad, and its
	// largest value: enough to fill WireGuard's 16-byte size grid.
	DefaultObfsDataPad = 15
	// MaxObfsJunk is the largest ObfsConfig.Junk.
	MaxObfsJunk = 16

	// obfsReplaySlots is how many sealed nonces the replay filter keeps.
	obfsReplaySlots = 256
	// obfsReplayWindow is how far (in the sender's microseconds) a sealed
	// datagram may lag the newest one accepted. WireGuard retries an
	// initiation for 90 seconds.
	obfsReplayWindow = 120_000_000
)

// ObfsConfig configures an ObfsBind. Both ends of a session must use the
// same Key; the other fields are each end's own choice.
type ObfsConfig struct {
	// Key is the per-session secret both ends agreed; it must not be all
	// zeros.
	Key [32]byte
	// MaxPad is the most padding added to a handshake packet: each gets
	// a random 0..MaxPad bytes. Zero means DefaultObfsMaxPad, a negative
	// value none; at most MaxObfsMaxPad.
	MaxPad int
	// DataPad is the most padding added to a data packet: each gets a
	// random 0..DataPad bytes, so data sizes do not all sit on WireGuard's
	// 16-byte grid. Zero means DefaultObfsDataPad, a negative value none;
	// at most DefaultObfsDataPad.
	DataPad int
	// Junk is how many random datagrams are sent before each handshake
	// initiation; the peer drops them as unauthenticated. At most
	// MaxObfsJunk; the default is none.
	Junk int
	// MuxSafe makes every datagram sent, junk included, start with a byte
	// below 0x40, which QUIC never sends first, so that a Mux can tell it
	// from QUIC (see the package documentation); it costs one byte per
	// datagram, counted in Overhead. Set it on a bind over a MuxBind from
	// Mux.PeerBindObfs; Link.Bind does so for the UDPMux transport. Unlike
	// the paddings it is not each end's own choice: both ends must set it,
	// or neither.
	MuxSafe bool
}

func (c ObfsConfig) pads() (maxPad, dataPad int) {
	maxPad, dataPad = c.MaxPad, c.DataPad
	switch {
	case maxPad == 0:
		maxPad = DefaultObfsMaxPad
	case maxPad < 0:
		maxPad = 0
	}
	switch {
	case dataPad == 0:
		dataPad = DefaultObfsDataPad
	case dataPad < 0:
		dataPad = 0
	}
	return maxPad, dataPad
}

// Overhead is the most a data packet grows by on the wire: the tunnel MTU
// should be this much below what the path would carry with plain WireGuard.
// It is DataPad, plus one with MuxSafe.
func (c ObfsConfig) Overhead() int {
	_, d := c.pads()
	return d + c.fold()
}

// fold is the bytes MuxSafe adds to every datagram.
func (c ObfsConfig) fold() int {
	if c.MuxSafe {
		return 1
	}
	return 0
}

func (c ObfsConfig) validate() error {
	if c.Key == ([32]byte{}) {
		return fmt.Errorf("%w: obfuscation key is all zeros", ErrInvalidConfig)
	}
	if c.MaxPad > MaxObfsMaxPad {
		return fmt.Errorf("%w: obfuscation MaxPad %d above %d", ErrInvalidConfig, c.MaxPad, MaxObfsMaxPad)
	}
	if c.DataPad > DefaultObfsDataPad {
		return fmt.Errorf("%w: obfuscation DataPad %d above %d", ErrInvalidConfig, c.DataPad, DefaultObfsDataPad)
	}
	if c.Junk < 0 || c.Junk > MaxObfsJunk {
		return fmt.Errorf("%w: obfuscation Junk %d out of range [0, %d]", ErrInvalidConfig, c.Junk, MaxObfsJunk)
	}
	return nil
}

// ObfsStats counts what an ObfsBind did. A peer with another key, or none,
// shows as Unauthenticated growing while Received stays put.
type ObfsStats struct {
	// Sent and Received count WireGuard packets obfuscated and recovered.
	Sent, Received uint64
	// Junk counts junk datagrams sent.
	Junk uint64
	// Short counts datagrams dropped for being shorter than any this bind
	// makes (a WireGuard keepalive, 32 bytes, or 33 with MuxSafe).
	Short uint64
	// Unauthenticated counts datagrams dropped because they were not made
	// with the key: garbage, probes, plain WireGuard, the peer's junk, and
	// with MuxSafe any whose first byte is 0x40 or more.
	Unauthenticated uint64
	// Replayed counts sealed (handshake) datagrams dropped as repeats or as
	// older than the replay window.
	Replayed uint64
}

// ObfsBind is a conn.Bind that obfuscates every datagram of another bind
// (UDPBind, PipeBind, or any conn.Bind; over a MuxBind it needs MuxSafe and
// a bind from Mux.PeerBindObfs, see the package documentation, which also
// says what it hides and how).
//
// Open, Close, SetMark, ParseEndpoint and BatchSize are the inner bind's, so
// after Close the receive functions from Open return net.ErrClosed because
// the inner bind's do. Which source a datagram came from is the inner
// bind's business too; ObfsBind drops what does not authenticate and
// counts it in Stats. It is safe for concurrent use, as conn.Bind requires.
type ObfsBind struct {
	inner conn.Bind
	codec *obfsCodec
	junk  int

	sendPool sync.Pool // *obfsSendState
	recvPool sync.Pool // *obfsScratch

	sent, received, junkSent       atomic.Uint64
	short, unauthenticated, replay atomic.Uint64
}

var _ conn.Bind = (*ObfsBind)(nil)

// NewObfsBind wraps inner. It fails with ErrInvalidConfig for a nil inner
// bind, an all-zero key or a field out of range.
func NewObfsBind(inner conn.Bind, cfg ObfsConfig) (*ObfsBind, error) {
	if inner == nil {
		return nil, fmt.Errorf("%w: ObfsBind needs a bind to wrap", ErrInvalidConfig)
	}
	codec, err := newObfsCodec(cfg)
	if err != nil {
		return nil, err
	}
	b := &ObfsBind{inner: inner, codec: codec, junk: cfg.Junk}
	b.sendPool.New = func() any { return newObfsSendState() }
	b.recvPool.New = func() any { return new(obfsScratch) }
	return b, nil
}

// Stats returns the counts so far.
func (b *ObfsBind) Stats() ObfsStats {
	return ObfsStats{
		Sent: b.sent.Load(), Received: b.received.Load(), Junk: b.junkSent.Load(),
		Short: b.short.Load(), Unauthenticated: b.unauthenticated.Load(), Replayed: b.replay.Load(),
	}
}

// Endpoint passes on the wrapped bind's single peer, if it has one.
func (b *ObfsBind) Endpoint() string {
	if e, ok := b.inner.(Endpointer); ok {
		return e.Endpoint()
	}
	return ""
}

// Open implements conn.Bind: it opens the inner bind and wraps its receive
// functions so that they return recovered WireGuard packets only.
func (b *ObfsBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, p, err := b.inner.Open(port)
	if err != nil {
		return nil, p, err
	}
	out := make([]conn.ReceiveFunc, len(fns))
	for i, fn := range fns {
		out[i] = b.receiveFunc(fn)
	}
	return out, p, nil
}

// receiveFunc decodes in place what fn received. Dropped datagrams get size
// 0; when all of a batch is dropped it reads again, so a flood of garbage
// never reaches WireGuard as an empty batch.
func (b *ObfsBind) receiveFunc(fn conn.ReceiveFunc) conn.ReceiveFunc {
	return func(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		s := b.recvPool.Get().(*obfsScratch)
		defer b.recvPool.Put(s)
		for {
			n, err := fn(bufs, sizes, eps)
			n = min(n, len(bufs), len(sizes))
			valid := 0
			for i := range n {
				if sizes[i] <= 0 {
					continue
				}
				m, verdict := b.codec.open(s, bufs[i][:min(sizes[i], len(bufs[i]))])
				switch verdict {
				case obfsOK:
					sizes[i] = m
					valid++
					continue
				case obfsShort:
					b.short.Add(1)
				case obfsReplayed:
					b.replay.Add(1)
				default:
					b.unauthenticated.Add(1)
				}
				sizes[i] = 0
			}
			if valid > 0 {
				b.received.Add(uint64(valid))
			}
			if err != nil || valid > 0 || n == 0 {
				return n, err
			}
		}
	}
}

// Close implements conn.Bind by closing the inner bind.
func (b *ObfsBind) Close() error { return b.inner.Close() }

// SetMark implements conn.Bind by passing the mark on.
func (b *ObfsBind) SetMark(mark uint32) error { return b.inner.SetMark(mark) }

// BatchSize implements conn.Bind: the inner bind's.
func (b *ObfsBind) BatchSize() int { return b.inner.BatchSize() }

// ParseEndpoint implements conn.Bind: the inner bind's.
func (b *ObfsBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	return b.inner.ParseEndpoint(s)
}

// Send implements conn.Bind: it obfuscates bufs into buffers of its own
// (reused from one call to the next; WireGuard's are not touched) and sends
// them, preceded by Junk random datagrams for each handshake initiation. A
// packet that cannot be obfuscated (shorter than 16 bytes, or a non-data
// packet too long for the sealed format) fails the call with ErrObfsPacket
// before anything is sent. The inner bind's own size limit applies to the
// obfuscated datagram, up to Overhead bytes longer for data.
func (b *ObfsBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	st := b.sendPool.Get().(*obfsSendState)
	defer b.sendPool.Put(st)
	out := st.out[:0]
	junk := 0
	for i, p := range bufs {
		if b.junk > 0 && isWGType(p, wgInitiationType) {
			for range b.junk {
				out = append(out, st.junkDatagram(junk, b.codec.maxPad, b.codec.fold))
				junk++
			}
		}
		w, err := b.codec.seal(&st.scratch, st.slot(i, len(p)+obfsSealedOverhead+max(b.codec.maxPad, b.codec.dataPad)+b.codec.fold), p)
		if err != nil {
			st.out = out[:0]
			return err
		}
		out = append(out, w)
	}
	st.out = out[:0]
	batch := max(b.inner.BatchSize(), 1)
	for len(out) > 0 {
		k := min(len(out), batch)
		if err := b.inner.Send(out[:k], ep); err != nil {
			return err
		}
		out = out[k:]
	}
	b.sent.Add(uint64(len(bufs)))
	if junk > 0 {
		b.junkSent.Add(uint64(junk))
	}
	return nil
}

// isWGType reports whether p starts with WireGuard message type t.
func isWGType(p []byte, t uint32) bool {
	return len(p) >= 4 && binary.LittleEndian.Uint32(p) == t
}

// obfsSendState is one Send call's reusable buffers.
type obfsSendState struct {
	slots   [][]byte
	junk    [][]byte
	out     [][]byte
	scratch obfsScratch
}

func newObfsSendState() *obfsSendState {
	st := &obfsSendState{}
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand panics rather)
	st.scratch.rng = mrand.NewChaCha8(seed)
	return st
}

// slot returns batch slot i's buffer with room for n bytes.
func (st *obfsSendState) slot(i, n int) []byte {
	for len(st.slots) <= i {
		st.slots = append(st.slots, nil)
	}
	if cap(st.slots[i]) < n {
		st.slots[i] = make([]byte, max(n, 2048))
	}
	return st.slots[i][:cap(st.slots[i])]
}

// junkDatagram returns junk datagram i of this call: random bytes, as long
// as a sealed handshake might be (fold is the MuxSafe byte, 0 or 1). With
// fold its first byte is below 0x40, as every mux-safe datagram's.
func (st *obfsSendState) junkDatagram(i, maxPad, fold int) []byte {
	for len(st.junk) <= i {
		st.junk = append(st.junk, make([]byte, obfsSealedOverhead+wgInitiationSize+MaxObfsMaxPad+1))
	}
	lo := obfsSealedOverhead + wgCookieReplySize + fold
	n := lo + st.scratch.intN(wgInitiationSize-wgCookieReplySize+maxPad+1)
	if n == wgInitiationSize {
		n++
	}
	j := st.junk[i][:n]
	st.scratch.rng.Read(j)
	if fold > 0 {
		j[0] &= muxSafeMask
	}
	return j
}

// obfsScratch is per-goroutine working memory of the codec, kept on the
// heap so that nothing passed to the ciphers allocates.
type obfsScratch struct {
	block [aes.BlockSize]byte
	nonce [obfsNonceSize]byte
	rng   *mrand.ChaCha8 // sending only
	// Filled by open, for tests: the format, the padding length and, for
	// the sealed format, the timestamp.
	sealed bool
	pad    int
	ts     uint64
}

// intN is a random number in [0, n); the bias of the modulo is below 2^-50
// for the small n used here.
func (s *obfsScratch) intN(n int) int { return int(s.rng.Uint64() % uint64(n)) }

// obfsVerdict is what open decided about a datagram.
type obfsVerdict uint8

const (
	obfsOK obfsVerdict = iota
	obfsShort
	obfsUnauthenticated
	obfsReplayed
)

// obfsCodec turns WireGuard packets into wire datagrams and back.
type obfsCodec struct {
	data    cipher.Block // data-format header
	sealed  cipher.AEAD  // sealed format
	maxPad  int
	dataPad int
	fold    int // 1 with MuxSafe, else 0
	replay  obfsReplay

	start   time.Time // monotonic origin of the sealed timestamps
	startUs uint64    // start in Unix microseconds
}

func newObfsCodec(cfg ObfsConfig) (*obfsCodec, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &obfsCodec{start: time.Now()}
	c.startUs = uint64(c.start.UnixMicro())
	c.maxPad, c.dataPad = cfg.pads()
	c.fold = cfg.fold()
	dk, err := hkdf.Key(sha256.New, cfg.Key[:], nil, "mystp2p wgpath obfs v1 data", 32)
	if err != nil {
		return nil, fmt.Errorf("obfs key: %w", err)
	}
	sk, err := hkdf.Key(sha256.New, cfg.Key[:], nil, "mystp2p wgpath obfs v1 sealed", 32)
	if err != nil {
		return nil, fmt.Errorf("obfs key: %w", err)
	}
	if c.data, err = aes.NewCipher(dk); err != nil {
		return nil, fmt.Errorf("obfs cipher: %w", err)
	}
	blk, err := aes.NewCipher(sk)
	if err != nil {
		return nil, fmt.Errorf("obfs cipher: %w", err)
	}
	if c.sealed, err = cipher.NewGCM(blk); err != nil {
		return nil, fmt.Errorf("obfs cipher: %w", err)
	}
	return c, nil
}

// dataFormat reports whether p travels in the data format.
func dataFormat(p []byte) bool {
	return len(p) >= wgMinTransportSize && isWGType(p, wgTransportType) &&
		binary.LittleEndian.Uint64(p[8:16]) < obfsMaxCounter
}

// seal writes p's wire form into dst (whose capacity must hold it: len(p)
// plus obfsSealedOverhead plus the larger padding, plus one with MuxSafe)
// and returns it.
func (c *obfsCodec) seal(s *obfsScratch, dst, p []byte) ([]byte, error) {
	if dataFormat(p) {
		pad := 0
		if c.dataPad > 0 {
			pad = avoidWGSize(len(p)+c.fold, s.intN(c.dataPad+1), c.dataPad)
		}
		return c.foldFirst(s, c.sealData(s, dst, p, pad, nil)), nil
	}
	if len(p) < wgHeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a WireGuard header", ErrObfsPacket, len(p))
	}
	if len(p)+obfsSealedOverhead+c.fold > obfsMaxSealed {
		return nil, fmt.Errorf("%w: %d-byte packet of type %d too long to seal", ErrObfsPacket, len(p), p[0])
	}
	pad := 0
	if limit := min(c.maxPad, obfsMaxSealed-obfsSealedOverhead-c.fold-len(p)); limit > 0 {
		pad = avoidWGSize(len(p)+obfsSealedOverhead+c.fold, s.intN(limit+1), limit)
	}
	crand.Read(s.nonce[:])
	return c.foldFirst(s, c.sealWith(dst, p, s.nonce[:], pad, c.now())), nil
}

// muxSafeMask clears the bits QUIC sets in a first byte (0x40, 0x80).
const muxSafeMask = 0x3f

// foldFirst applies the MuxSafe fold to a datagram made in place: its first
// byte moves to the end (w has the capacity, as seal's dst must) and a
// random byte below 0x40 takes its place. Without MuxSafe it returns w.
func (c *obfsCodec) foldFirst(s *obfsScratch, w []byte) []byte {
	if c.fold == 0 {
		return w
	}
	w = append(w, w[0])
	w[0] = byte(s.rng.Uint64()) & muxSafeMask
	return w
}

// avoidWGSize moves pad (at most limit) so that a datagram of n+pad bytes
// never has one of WireGuard's handshake sizes by chance. The sizes are far
// apart, so one step is enough; with limit 0 there is nothing to move.
func avoidWGSize(n, pad, limit int) int {
	switch n + pad {
	case wgInitiationSize, wgResponseSize, wgCookieReplySize:
		if pad < limit {
			return pad + 1
		}
		if pad > 0 {
			return pad - 1
		}
	}
	return pad
}

// now is the sealed timestamp: Unix microseconds, moving with the monotonic
// clock so that a wall-clock step does not trip the peer's replay window.
func (c *obfsCodec) now() uint64 {
	return c.startUs + uint64(time.Since(c.start).Microseconds())
}

// sealData writes the data format: the header block encrypted, the rest of
// p, and pad padding bytes (padding if not nil, random otherwise).
func (c *obfsCodec) sealData(s *obfsScratch, dst, p []byte, pad int, padding []byte) []byte {
	n := len(p) + pad
	out := dst[:n]
	blk := s.block[:]
	blk[0], blk[1], blk[2], blk[3] = wgTransportType, byte(pad), 0, 0
	copy(blk[4:14], p[4:14])
	blk[14], blk[15] = 0, 0
	c.data.Encrypt(out[:aes.BlockSize], blk)
	copy(out[wgHeaderSize:], p[wgHeaderSize:])
	if padding != nil {
		copy(out[len(p):], padding[:pad])
	} else {
		s.rng.Read(out[len(p):n])
	}
	return out
}

// sealWith writes the sealed format with the given nonce, padding length
// and timestamp.
func (c *obfsCodec) sealWith(dst, p, nonce []byte, pad int, ts uint64) []byte {
	plain := obfsSealedMeta + len(p) + pad
	out := dst[:obfsNonceSize+plain]
	copy(out, nonce)
	pt := out[obfsNonceSize:]
	binary.LittleEndian.PutUint64(pt, ts)
	binary.LittleEndian.PutUint16(pt[8:], uint16(len(p)))
	copy(pt[obfsSealedMeta:], p)
	clear(pt[obfsSealedMeta+len(p):])
	return c.sealed.Seal(out[:obfsNonceSize], out[:obfsNonceSize], pt, nil)
}

// open decodes the datagram in b in place. On obfsOK the WireGuard packet
// is b[:n].
func (c *obfsCodec) open(s *obfsScratch, b []byte) (n int, v obfsVerdict) {
	if len(b) < wgMinTransportSize+c.fold {
		return 0, obfsShort
	}
	if c.fold > 0 {
		// Undo the MuxSafe fold: the first byte must be one QUIC never
		// sends first, and the last goes back in its place.
		if b[0]&^muxSafeMask != 0 {
			return 0, obfsUnauthenticated
		}
		b[0] = b[len(b)-1]
		b = b[:len(b)-1]
	}
	// Data format: decrypt the first block and check its fixed bits.
	blk := s.block[:]
	c.data.Decrypt(blk, b[:aes.BlockSize])
	if blk[0] == wgTransportType && blk[2]|blk[3]|blk[14]|blk[15] == 0 {
		pad := int(blk[1])
		if pad <= DefaultObfsDataPad && len(b)-pad >= wgMinTransportSize {
			copy(b, blk[:4])
			b[1] = 0
			copy(b[4:14], blk[4:14])
			b[14], b[15] = 0, 0
			s.sealed, s.pad = false, pad
			return len(b) - pad, obfsOK
		}
	}
	if len(b) < obfsSealedOverhead+wgHeaderSize || len(b) > obfsMaxSealed {
		return 0, obfsUnauthenticated
	}
	copy(s.nonce[:], b[:obfsNonceSize])
	ct := b[obfsNonceSize:]
	pt, err := c.sealed.Open(ct[:0], s.nonce[:], ct, nil)
	if err != nil {
		return 0, obfsUnauthenticated
	}
	ts := binary.LittleEndian.Uint64(pt)
	n = int(binary.LittleEndian.Uint16(pt[8:]))
	if n < wgHeaderSize || n > len(pt)-obfsSealedMeta {
		// Authentic but malformed: only a broken peer sends it.
		return 0, obfsUnauthenticated
	}
	if !c.replay.admit(s.nonce, ts) {
		return 0, obfsReplayed
	}
	s.sealed, s.pad, s.ts = true, len(pt)-obfsSealedMeta-n, ts
	copy(b, pt[obfsSealedMeta:obfsSealedMeta+n])
	return n, obfsOK
}

// obfsReplay drops sealed datagrams seen before, in bounded memory. It
// keeps the nonces and timestamps of the last obfsReplaySlots accepted in a
// ring; a datagram is admitted only if its nonce is not in the ring, its
// timestamp lies within obfsReplayWindow of the newest admitted, and it is
// newer than floor, the newest timestamp that fell out of the ring. The
// floor makes the bound exact: a replay of a datagram evicted from the
// ring is older than floor and so still rejected, however many distinct
// captured handshakes an attacker cycles through. The price is that a
// genuine datagram is dropped if it arrives after obfsReplaySlots others
// sent later than it, or shares its microsecond with that many: WireGuard's
// handshake rate is orders of magnitude below that.
type obfsReplay struct {
	mu     sync.Mutex
	ring   [obfsReplaySlots]obfsReplayEntry // guarded by mu
	n      int                              // guarded by mu; entries in use
	next   int                              // guarded by mu; slot to fill next
	newest uint64                           // guarded by mu
	floor  uint64                           // guarded by mu
}

type obfsReplayEntry struct {
	nonce [obfsNonceSize]byte
	ts    uint64
}

func (r *obfsReplay) admit(nonce [obfsNonceSize]byte, ts uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ts <= r.floor || (r.newest > obfsReplayWindow && ts < r.newest-obfsReplayWindow) {
		return false
	}
	for i := range r.n {
		if r.ring[i].nonce == nonce {
			return false
		}
	}
	if r.n == len(r.ring) {
		r.floor = max(r.floor, r.ring[r.next].ts)
	} else {
		r.n++
	}
	r.ring[r.next] = obfsReplayEntry{nonce: nonce, ts: ts}
	r.next = (r.next + 1) % len(r.ring)
	r.newest = max(r.newest, ts)
	return true
}
