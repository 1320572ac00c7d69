package wgpath

import "errors"

// Errors of the binds and of Parse. The Mux has its own (ErrInvalidMuxConfig
// and the others next to it).
var (
	// ErrInvalidConfig is returned by bind constructors and options when a
	// required argument is missing or a value is out of range. The wrapping
	// error names it.
	ErrInvalidConfig = errors.New("invalid wireguard bind configuration")

	// ErrFrameTooLarge is returned by a PipeBind when the peer announces a
	// packet larger than the configured limit; the stream is then closed.
	ErrFrameTooLarge = errors.New("packet frame too large")

	// ErrBindClosed is returned by PipeBind.Open after the bind has been
	// closed once: its stream is gone and it cannot be reopened.
	ErrBindClosed = errors.New("bind closed and cannot be reopened")

	// ErrObfsPacket is returned by ObfsBind.Send for a packet it cannot
	// obfuscate: shorter than a WireGuard header, or a handshake-type
	// packet too long for the sealed format.
	ErrObfsPacket = errors.New("packet cannot be obfuscated")

	// ErrUnknownTransport is returned by Parse for a string that names no
	// Transport.
	ErrUnknownTransport = errors.New("unknown wireguard transport")
)
