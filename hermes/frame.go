package hermes

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frames on /mystp2p/hermes/1 and /mystp2p/pay/1: one type byte, a 2-byte
// big-endian body length, the body. Each stream carries one request frame
// and one response frame. Bodies are bounded by maxFrameBody.
const (
	frameHeader  = 3
	maxFrameBody = 1024
	maxErrorText = 256
)

// Frame types.
const (
	// /mystp2p/hermes/1 requests.
	msgPromiseRequest byte = 0x01 // exchange message ‖ R (zero R: revealed later)
	msgRevealR        byte = 0x02 // R
	msgProviderQuery  byte = 0x03 // empty: the requesting provider's state
	msgConsumerQuery  byte = 0x04 // consumer address
	// /mystp2p/pay/1 request.
	msgInvoice byte = 0x10 // invoice
	// Responses.
	msgPromise       byte = 0x80 // promise
	msgOK            byte = 0x81 // empty
	msgProviderState byte = 0x82 // flags ‖ optional promise
	msgConsumerState byte = 0x83 // deposited ‖ promised ‖ fee ‖ uint16 fee bp
	msgExchange      byte = 0x90 // exchange message
	msgError         byte = 0xff // code ‖ text
)

func writeFrame(w io.Writer, typ byte, body []byte) error {
	if len(body) > maxFrameBody {
		return fmt.Errorf("%w: %d-byte body", ErrTooLarge, len(body))
	}
	b := make([]byte, frameHeader+len(body))
	b[0] = typ
	binary.BigEndian.PutUint16(b[1:3], uint16(len(body)))
	copy(b[frameHeader:], body)
	_, err := w.Write(b)
	return err
}

// readFrame reads one frame of at most maxFrameBody body bytes.
func readFrame(r io.Reader) (typ byte, body []byte, err error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("read frame header: %w", err)
	}
	n := int(binary.BigEndian.Uint16(h[1:3]))
	if n > maxFrameBody {
		return 0, nil, fmt.Errorf("%w: %d-byte body, limit %d", ErrTooLarge, n, maxFrameBody)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, fmt.Errorf("read frame body: %w", err)
	}
	return h[0], body, nil
}

// errorCodes are the sentinel errors that travel as a code in an error
// frame. Their order is part of the wire format: append only.
var errorCodes = []error{
	ErrRejected, ErrMalformed, ErrTooLarge, ErrBadSignature, ErrWrongChain, ErrWrongChannel,
	ErrWrongHermes, ErrWrongProvider, ErrNotIncreasing, ErrAmountMismatch, ErrFeeTooLow,
	ErrFeeTooHigh, ErrOverspend, ErrHashlockMismatch, ErrUnrevealedR, ErrOvercharge,
	ErrClosed, ErrConsumerWithdrawing, ErrHermesLeaving,
}

// encodeError makes an error frame body for err.
func encodeError(err error) []byte {
	code := 0
	for i, e := range errorCodes {
		if errors.Is(err, e) {
			code = i
			break
		}
	}
	text := err.Error()
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
	}
	return append([]byte{byte(code)}, text...)
}

// RemoteError is a refusal reported by the peer. It matches (errors.Is) the
// sentinel error the peer named.
type RemoteError struct {
	Kind error  // one of this package's sentinel errors
	Text string // the peer's explanation, for logs only
}

func (e *RemoteError) Error() string { return fmt.Sprintf("peer refused: %s", e.Text) }

// Unwrap gives the sentinel error.
func (e *RemoteError) Unwrap() error { return e.Kind }

func decodeError(body []byte) error {
	if len(body) == 0 || len(body) > 1+maxErrorText {
		return fmt.Errorf("%w: error frame of %d bytes", ErrMalformed, len(body))
	}
	kind := ErrRejected
	if int(body[0]) < len(errorCodes) {
		kind = errorCodes[body[0]]
	}
	return &RemoteError{Kind: kind, Text: string(body[1:])}
}
