package wgpath

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.zx2c4.com/wireguard/conn"
)

const (
	// DefaultMaxFrame is the largest WireGuard packet a PipeBind accepts
	// by default: a full-MTU data message (1420 + 32 bytes of WireGuard
	// overhead) with room to spare, far below the 64 KiB the framing allows.
	DefaultMaxFrame = 2048
	// maxFrameLimit is what a 2-byte length prefix can express.
	maxFrameLimit = 1<<16 - 1
	pipeHeaderLen = 2
)

// PipeBind is a conn.Bind that carries WireGuard packets over a reliable
// byte stream (a libp2p stream through a relay, for the relayed fallback).
// Each packet is framed as a 2-byte big-endian length followed by the
// packet. A frame longer than the limit closes the stream with
// ErrFrameTooLarge: nothing from a peer that breaks the framing is kept.
//
// The bind owns the stream. WireGuard calls Close before its first Open;
// that is harmless. Closing an opened bind closes the stream (the only way
// to unblock a pending read of an arbitrary io.Reader), after which Open
// returns ErrBindClosed. Done is closed when the stream fails or is closed,
// so the session owner learns that the relayed path is gone.
type PipeBind struct {
	rwc      io.ReadWriteCloser
	maxFrame int
	ep       pipeEndpoint

	readMu sync.Mutex // serialises frame reads
	br     *bufio.Reader

	writeMu sync.Mutex // serialises frame writes
	wbuf    []byte     // guarded by writeMu

	mu     sync.Mutex
	opened bool // guarded by mu
	closed bool // guarded by mu

	done     chan struct{}
	doneOnce sync.Once
	err      atomic.Pointer[error]
}

var _ conn.Bind = (*PipeBind)(nil)

// PipeOption configures a PipeBind.
type PipeOption func(*PipeBind) error

// WithMaxFrame sets the largest packet accepted or sent, between 148 (a
// WireGuard handshake initiation) and 65535.
func WithMaxFrame(n int) PipeOption {
	return func(b *PipeBind) error {
		if n < 148 || n > maxFrameLimit {
			return fmt.Errorf("%w: max frame %d out of range [148, %d]", ErrInvalidConfig, n, maxFrameLimit)
		}
		b.maxFrame = n
		return nil
	}
}

// NewPipeBind returns a bind over rwc.
func NewPipeBind(rwc io.ReadWriteCloser, opts ...PipeOption) (*PipeBind, error) {
	if rwc == nil {
		return nil, fmt.Errorf("%w: PipeBind needs a stream", ErrInvalidConfig)
	}
	b := &PipeBind{rwc: rwc, maxFrame: DefaultMaxFrame, done: make(chan struct{})}
	for _, o := range opts {
		if err := o(b); err != nil {
			return nil, err
		}
	}
	b.br = bufio.NewReaderSize(rwc, 64<<10)
	b.wbuf = make([]byte, 0, 64<<10)
	return b, nil
}

// Endpoint returns the peer endpoint string; any value works for a stream.
func (b *PipeBind) Endpoint() string { return "pipe" }

// Done is closed once the stream has failed or the bind was closed.
func (b *PipeBind) Done() <-chan struct{} { return b.done }

// Err returns why the stream ended, or nil while it is up.
func (b *PipeBind) Err() error {
	if p := b.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (b *PipeBind) fail(err error) {
	b.doneOnce.Do(func() {
		b.err.Store(&err)
		close(b.done)
		b.rwc.Close()
	})
}

// Open implements conn.Bind.
func (b *PipeBind) Open(uint16) ([]conn.ReceiveFunc, uint16, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, 0, ErrBindClosed
	case b.opened:
		return nil, 0, conn.ErrBindAlreadyOpen
	}
	b.opened = true
	return []conn.ReceiveFunc{b.receive}, 0, nil
}

func (b *PipeBind) receive(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
	b.readMu.Lock()
	defer b.readMu.Unlock()
	n, err := b.readFrame(bufs[0])
	if err != nil {
		b.fail(err)
		if b.isClosed() || errors.Is(err, io.EOF) || errors.Is(err, ErrFrameTooLarge) {
			return 0, fmt.Errorf("%w: %w", net.ErrClosed, err)
		}
		return 0, fmt.Errorf("%w: pipe bind: %w", net.ErrClosed, err)
	}
	sizes[0] = n
	eps[0] = b.ep
	return 1, nil
}

func (b *PipeBind) readFrame(dst []byte) (int, error) {
	var hdr [pipeHeaderLen]byte
	if _, err := io.ReadFull(b.br, hdr[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 || n > b.maxFrame || n > len(dst) {
		return 0, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLarge, n, min(b.maxFrame, len(dst)))
	}
	if _, err := io.ReadFull(b.br, dst[:n]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	return n, nil
}

func (b *PipeBind) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close implements conn.Bind. See the type documentation.
func (b *PipeBind) Close() error {
	b.mu.Lock()
	if !b.opened || b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.fail(net.ErrClosed)
	return nil
}

// SetMark implements conn.Bind; ignored.
func (b *PipeBind) SetMark(uint32) error { return nil }

// BatchSize implements conn.Bind.
func (b *PipeBind) BatchSize() int { return 1 }

// Send implements conn.Bind: it frames bufs and writes them with one Write.
func (b *PipeBind) Send(bufs [][]byte, _ conn.Endpoint) error {
	select {
	case <-b.done:
		return net.ErrClosed
	default:
	}
	b.writeMu.Lock()
	defer b.writeMu.Unlock()
	w := b.wbuf[:0]
	for _, p := range bufs {
		if len(p) == 0 || len(p) > b.maxFrame {
			return fmt.Errorf("%w: sending %d bytes (limit %d)", ErrFrameTooLarge, len(p), b.maxFrame)
		}
		w = binary.BigEndian.AppendUint16(w, uint16(len(p)))
		w = append(w, p...)
	}
	if _, err := b.rwc.Write(w); err != nil {
		b.fail(err)
		return fmt.Errorf("%w: pipe bind: %w", net.ErrClosed, err)
	}
	return nil
}

// ParseEndpoint implements conn.Bind. A stream has one peer; any string
// yields it.
func (b *PipeBind) ParseEndpoint(string) (conn.Endpoint, error) { return b.ep, nil }

// pipeEndpoint is the single peer at the other end of the stream.
type pipeEndpoint struct{}

var _ conn.Endpoint = pipeEndpoint{}

func (pipeEndpoint) ClearSrc()           {}
func (pipeEndpoint) SrcToString() string { return "" }
func (pipeEndpoint) DstToString() string { return "pipe" }
func (pipeEndpoint) DstToBytes() []byte  { return []byte("pipe") }
func (pipeEndpoint) DstIP() netip.Addr   { return netip.Addr{} }
func (pipeEndpoint) SrcIP() netip.Addr   { return netip.Addr{} }
