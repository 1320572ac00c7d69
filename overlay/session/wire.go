package session

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// The session protocols.
const (
	// Protocol opens, pings, upgrades and closes sessions.
	Protocol protocol.ID = "/mystp2p/session/1"
	// TunnelProtocol carries a session's WireGuard packets over a libp2p
	// stream when no UDP path works.
	TunnelProtocol protocol.ID = "/mystp2p/tunnel/1"
)

// MaxMessage bounds every message of both protocols.
const MaxMessage = 4096

// MaxDialBackAddrs bounds the addresses of one DialBack request.
const MaxDialBackAddrs = 4

// PingInterval is how often a consumer pings its provider: often enough
// that a consumer notices a vanished provider within seconds and moves
// on. A provider drops a session after its PingTimeout without pings.
const PingInterval = time.Second

// Kind is what a Request asks for.
type Kind string

// Request kinds.
const (
	// Open asks for a new session at the proposal's price.
	Open Kind = "open"
	// Ping keeps a session alive.
	Ping Kind = "ping"
	// Close ends a session.
	Close Kind = "close"
	// Upgrade moves a stream-carried session to a direct transport.
	Upgrade Kind = "upgrade"
	// DialBack asks the provider to dial the consumer's public QUIC
	// addresses: that gets through a full-cone NAT when the provider sits
	// behind a symmetric one, where a simultaneous open does not.
	DialBack Kind = "dial_back"
	// Punch starts a birthday punch for a relayed session whose ends have
	// one symmetric NAT between them (wgpath.PunchSpray,
	// wgpath.PunchFromSockets); an Upgrade with Punched then moves the
	// session onto the path it found.
	Punch Kind = "punch"
	// Attach is the first message on a TunnelProtocol stream: it names the
	// session whose WireGuard packets the stream carries.
	Attach Kind = "attach"
)

// Request is what a consumer sends.
type Request struct {
	Kind Kind `json:"kind"`
	// Session names the session for every kind but Open.
	Session string `json:"session,omitempty"`
	// Open only:
	ProposalSeq uint64           `json:"proposal_seq,omitempty"`
	PriceHour   string           `json:"price_hour,omitempty"`
	PriceGiB    string           `json:"price_gib,omitempty"`
	WGKey       tunnel.PublicKey `json:"wg_key,omitzero"`
	// Transport is the transport to open on (Open) or move to (Upgrade).
	Transport wgpath.Transport `json:"transport,omitempty"`
	// UDPPort is the consumer's WireGuard port (Open over UDP or UDPMux).
	UDPPort uint16 `json:"udp_port,omitempty"`
	// Hermes is the peer ID of the hermes hub the consumer pays through;
	// empty when it does not pay (free providers only).
	Hermes string `json:"hermes,omitempty"`
	// Addrs are the consumer's public QUIC addresses (DialBack only).
	Addrs []string `json:"addrs,omitempty"`
	// A Punch says what the consumer knows of its own NAT: its mapping
	// (an overlay Mapping* value), its public IP, and its public ip:port
	// when its mapping is endpoint-independent. The provider, knowing its
	// own, picks the roles (Reply.PunchRole).
	PunchMapping string `json:"punch_mapping,omitempty"`
	PunchIP      string `json:"punch_ip,omitempty"`
	PunchAddr    string `json:"punch_addr,omitempty"`
	// Punched asks an Upgrade onto the path the session's last Punch found.
	Punched bool `json:"punched,omitempty"`
	// Obfs asks for WireGuard without its fingerprint (Open only): the
	// provider answers with a per-session key in Reply.ObfsKey when it
	// agrees.
	Obfs bool `json:"obfs,omitempty"`
}

// Reply is what a provider answers.
type Reply struct {
	OK      bool       `json:"ok"`
	Code    RejectCode `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
	Session string     `json:"session,omitempty"`
	// Open only:
	WGKey     tunnel.PublicKey   `json:"wg_key,omitzero"`
	Addresses tunnel.AddressPair `json:"addresses,omitzero"`
	UDPPort   uint16             `json:"udp_port,omitempty"`
	// Transport is the session's transport after an Open or Upgrade.
	Transport wgpath.Transport `json:"transport,omitempty"`
	// ObfsKey is the session's obfuscation key (Open, when the consumer
	// asked and the provider agreed): both ends wrap their bind in a
	// wgpath.ObfsBind with it. It travels only over this authenticated,
	// encrypted libp2p stream.
	ObfsKey []byte `json:"obfs_key,omitempty"`
	// Punch only: PunchKey authenticates the round's probes (32 bytes);
	// PunchRole is the consumer's side of it: PunchSockets (the consumer
	// is the symmetric one: it opens many sockets towards PunchAddr, the
	// provider's public ip:port, while the provider sprays the consumer's
	// IP) or PunchSpray (the provider is: it opens sockets towards the
	// consumer's public ip:port while the consumer sprays PunchAddr, the
	// provider's public IP).
	PunchKey  []byte `json:"punch_key,omitempty"`
	PunchRole string `json:"punch_role,omitempty"`
	PunchAddr string `json:"punch_addr,omitempty"`
}

// Punch roles of the consumer (Reply.PunchRole).
const (
	PunchSockets = "sockets"
	PunchSpray   = "spray"
)

// MaxPunches bounds the punches one session may ask for.
const MaxPunches = 3

// Reject builds a refusal with a message for the user.
func Reject(code RejectCode, format string, a ...any) Reply {
	return Reply{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Write writes one length-prefixed message.
func Write(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > MaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(b)+3), uint64(len(b)))
	_, err = w.Write(append(buf, b...))
	return err
}

// Read reads one length-prefixed message into v, strictly: unknown fields
// and trailing data are errors that wrap ErrMalformed.
func Read(r *bufio.Reader, v any) error {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("read message length: %w", err)
	}
	if n > MaxMessage {
		return fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	return nil
}

// Sentinel errors of the wire format.
var (
	// ErrMessageTooLarge means a message exceeds MaxMessage.
	ErrMessageTooLarge = errors.New("session message too large")
	// ErrMalformed means a message is not strict JSON of the expected shape.
	ErrMalformed = errors.New("malformed session message")
)

// Buffered is a stream whose reads go through R, the reader that already
// consumed the stream's first message and may hold bytes past it; writes
// and Close go to the stream itself.
type Buffered struct {
	network.Stream
	R *bufio.Reader
}

func (b Buffered) Read(p []byte) (int, error) { return b.R.Read(p) }
