package overlay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mystp2p/mystp2p/tunnel"
)

// Session protocols.
const (
	// ProtocolSession opens, pings and closes sessions: one request and one
	// reply per stream, so it works over relayed (limited) connections and
	// survives the switch to a direct one.
	ProtocolSession protocol.ID = "/mystp2p/session/1"
	// ProtocolTunnel carries WireGuard packets over a libp2p stream when no
	// UDP path works (the relayed fallback).
	ProtocolTunnel protocol.ID = "/mystp2p/tunnel/1"
)

// MaxSessionMessage bounds every session protocol message.
const MaxSessionMessage = 4096

// Session request kinds.
const (
	reqOpen  = "open"
	reqPing  = "ping"
	reqClose = "close"
	// reqUpgrade moves a relayed session to a direct transport.
	reqUpgrade = "upgrade"
	// reqDialBack asks the provider to dial the consumer's public QUIC
	// addresses: it gets through a full-cone NAT when the provider sits
	// behind a symmetric one, where DCUtR's simultaneous open does not.
	reqDialBack = "dial_back"
)

// Transports a session's WireGuard packets can take.
const (
	// TransportUDP is WireGuard over UDP straight between the two peers.
	TransportUDP = "udp"
	// TransportStream is WireGuard over a libp2p stream (relayed fallback).
	TransportStream = "stream"
	// TransportMux is WireGuard over both peers' QUIC sockets, on the
	// 5-tuple of their direct QUIC connection — the path a hole punch opened.
	TransportMux = "udp-mux"
)

// sessionRequest is what a consumer sends.
type sessionRequest struct {
	Kind    string `json:"kind"`
	Session string `json:"session,omitempty"` // ping, close
	// Open only:
	ProposalSeq uint64           `json:"proposal_seq,omitempty"`
	PriceHour   string           `json:"price_hour,omitempty"`
	PriceGiB    string           `json:"price_gib,omitempty"`
	WGKey       tunnel.PublicKey `json:"wg_key,omitzero"`
	Transport   string           `json:"transport,omitempty"`
	UDPPort     uint16           `json:"udp_port,omitempty"` // TransportUDP: the consumer's WireGuard port
	// Hermes is the peer ID of the hermes hub the consumer pays through;
	// empty when it does not pay (free providers only).
	Hermes string `json:"hermes,omitempty"`
	// Dial back only: the consumer's public QUIC addresses.
	Addrs []string `json:"addrs,omitempty"`
}

// Reject codes a provider answers with.
const (
	RejectFull      = "full"
	RejectPrice     = "price_changed"
	RejectPolicy    = "policy"
	RejectBadReq    = "bad_request"
	RejectNoSession = "no_session"
	RejectInternal  = "internal"
	// RejectHermes: the provider charges for sessions and does not accept
	// (or cannot reach) the hermes the consumer pays through.
	RejectHermes = "hermes_not_accepted"
	// RejectBalance: the consumer's spendable balance at its hermes is below
	// what the provider asks to start a session (top up the channel).
	RejectBalance = "insufficient_balance"
)

// sessionReply is what a provider answers.
type sessionReply struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Open only:
	Session   string             `json:"session,omitempty"`
	WGKey     tunnel.PublicKey   `json:"wg_key,omitzero"`
	Addresses tunnel.AddressPair `json:"addresses,omitzero"`
	UDPPort   uint16             `json:"udp_port,omitempty"`
	Transport string             `json:"transport,omitempty"`
}

// RejectedError is a provider's refusal of a session request.
type RejectedError struct {
	Provider string
	Code     string
	Message  string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("provider %s rejected the session (%s): %s", e.Provider, e.Code, e.Message)
}

var errMessageTooLarge = errors.New("session message too large")

// writeMsg writes one length-prefixed JSON message.
func writeMsg(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxSessionMessage {
		return errMessageTooLarge
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(b)+3), uint64(len(b)))
	_, err = w.Write(append(buf, b...))
	return err
}

// readMsg reads one length-prefixed JSON message into v, strictly.
func readMsg(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("read message length: %w", err)
	}
	if n > MaxSessionMessage {
		return fmt.Errorf("%w: %d bytes", errMessageTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	return decodeStrict(b, v)
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed session message: %w", err)
	}
	if dec.More() {
		return errors.New("malformed session message: trailing data")
	}
	return nil
}
