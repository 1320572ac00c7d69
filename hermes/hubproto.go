package hermes

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/guard"
)

// HermesProtocol is the provider/consumer ↔ hermes protocol: request a
// promise, reveal R, query balances. One request and one response per stream.
const HermesProtocol protocol.ID = "/mystp2p/hermes/1"

// DefaultRequestTimeout bounds a request on a stream (dial, write, read)
// when the caller's context has no deadline, and a served stream's lifetime.
const DefaultRequestTimeout = 10 * time.Second

// Serve registers the hub's /mystp2p/hermes/1 handler on h. Close removes it
// and waits for the requests being served.
func (h *Hub) Serve(host host.Host) error {
	h.srv.mu.Lock()
	defer h.srv.mu.Unlock()
	if h.srv.closed {
		return ErrClosed
	}
	if h.srv.host != nil {
		return errors.New("hermes hub: already serving")
	}
	h.srv.host = host
	host.SetStreamHandler(HermesProtocol, guard.Handler(h.log, HermesProtocol, h.handleStream))
	return nil
}

// Close stops serving, waits for requests in flight and makes further
// requests fail with ErrClosed. It does not close the Store. Idempotent.
func (h *Hub) Close() error {
	h.srv.mu.Lock()
	if h.srv.closed {
		h.srv.mu.Unlock()
		return nil
	}
	h.srv.closed = true
	h.closed.Store(true)
	if h.srv.host != nil {
		h.srv.host.RemoveStreamHandler(HermesProtocol)
	}
	h.srv.mu.Unlock()
	h.srv.cancel()
	h.srv.wg.Wait()
	return nil
}

func (h *Hub) handleStream(s network.Stream) {
	h.srv.mu.Lock()
	if h.srv.closed {
		h.srv.mu.Unlock()
		_ = s.Reset()
		return
	}
	h.srv.wg.Add(1)
	h.srv.mu.Unlock()
	defer h.srv.wg.Done()

	remote := s.Conn().RemotePeer()
	log := h.log.With("peer", remote)
	ctx, cancel := context.WithTimeout(h.srv.ctx, h.srv.timeout)
	defer cancel()
	_ = s.SetDeadline(time.Now().Add(h.srv.timeout))
	typ, body, err := readFrame(s)
	if err != nil {
		log.Debug("bad hermes request", "err", err)
		_ = s.Reset()
		return
	}
	rt, rb, err := h.serveRequest(ctx, remote, typ, body)
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			log.Debug("malformed hermes request", "err", err)
			_ = s.Reset()
			return
		}
		log.Debug("hermes request refused", "type", typ, "err", err)
		rt, rb = msgError, encodeError(err)
	}
	if err := writeFrame(s, rt, rb); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

func (h *Hub) serveRequest(ctx context.Context, remote peer.ID, typ byte, body []byte) (byte, []byte, error) {
	switch typ {
	case msgPromiseRequest:
		if len(body) != ExchangeMessageSize+32 {
			return 0, nil, fmt.Errorf("%w: promise request is %d bytes", ErrMalformed, len(body))
		}
		provider, err := identity.AddressOf(remote)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrWrongProvider, err)
		}
		var m ExchangeMessage
		if err := m.UnmarshalBinary(body[:ExchangeMessageSize]); err != nil {
			return 0, nil, err
		}
		p, err := h.Exchange(ctx, provider, &m, [32]byte(body[ExchangeMessageSize:]))
		if err != nil {
			return 0, nil, err
		}
		b, err := p.MarshalBinary()
		return msgPromise, b, err
	case msgRevealR:
		if len(body) != 32 {
			return 0, nil, fmt.Errorf("%w: reveal is %d bytes", ErrMalformed, len(body))
		}
		provider, err := identity.AddressOf(remote)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrWrongProvider, err)
		}
		return msgOK, nil, h.RevealR(provider, [32]byte(body))
	case msgProviderQuery:
		if len(body) != 0 {
			return 0, nil, fmt.Errorf("%w: provider query has a body", ErrMalformed)
		}
		provider, err := identity.AddressOf(remote)
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrWrongProvider, err)
		}
		st, err := h.Provider(provider)
		if err != nil {
			return 0, nil, err
		}
		b, err := encodeProviderState(st)
		return msgProviderState, b, err
	case msgConsumerQuery:
		if len(body) != common.AddressLength {
			return 0, nil, fmt.Errorf("%w: consumer query is %d bytes", ErrMalformed, len(body))
		}
		if h.Leaving() {
			// Providers ask before they open a session: a leaving hub
			// takes none.
			return 0, nil, fmt.Errorf("%w: hermes %s announced its leave and takes no new sessions (pay through another hermes)", ErrHermesLeaving, h.addr)
		}
		st, err := h.Consumer(ctx, common.Address(body))
		if err != nil {
			return 0, nil, err
		}
		b, err := encodeConsumerState(st)
		return msgConsumerState, b, err
	default:
		return 0, nil, fmt.Errorf("%w: unknown request type %#x", ErrMalformed, typ)
	}
}

func encodeProviderState(st ProviderState) ([]byte, error) {
	var w recordWriter
	w.flag(st.Pending)
	if err := w.promise(st.Latest); err != nil {
		return nil, err
	}
	return w.b, nil
}

func decodeProviderState(b []byte) (ProviderState, error) {
	r := recordReader{b: b}
	st := ProviderState{Pending: r.flag(), Latest: r.promise()}
	return st, r.done()
}

func encodeConsumerState(st ConsumerState) ([]byte, error) {
	var w recordWriter
	w.amount(st.Deposited)
	w.amount(st.Promised)
	w.amount(st.Fee)
	w.b = binary.BigEndian.AppendUint16(w.b, st.FeeBp)
	if err := w.promise(st.Latest); err != nil {
		return nil, err
	}
	return w.b, nil
}

func decodeConsumerState(b []byte) (ConsumerState, error) {
	r := recordReader{b: b}
	st := ConsumerState{Deposited: r.amount(), Promised: r.amount(), Fee: r.amount()}
	st.FeeBp = binary.BigEndian.Uint16(r.take(2))
	st.Latest = r.promise()
	return st, r.done()
}

// HubClient talks to one hermes over /mystp2p/hermes/1. It has no state of
// its own and needs no Close.
type HubClient struct {
	host    host.Host
	peer    peer.ID
	addr    common.Address
	timeout time.Duration
}

// NewHubClient makes a client of the hermes at peer hub; its Ethereum
// address is derived from the peer ID.
func NewHubClient(h host.Host, hub peer.ID) (*HubClient, error) {
	addr, err := identity.AddressOf(hub)
	if err != nil {
		return nil, fmt.Errorf("hermes %s: %w", hub, err)
	}
	return &HubClient{host: h, peer: hub, addr: addr, timeout: DefaultRequestTimeout}, nil
}

// Address is the hermes's Ethereum address.
func (c *HubClient) Address() common.Address { return c.addr }

// Peer is the hermes's peer ID.
func (c *HubClient) Peer() peer.ID { return c.peer }

// RequestPromise presents a consumer's exchange message with its R (zero:
// revealed later) and returns the hermes promise, checked: signed by the
// hermes, on this provider's channel, with the consumer's hashlock.
func (c *HubClient) RequestPromise(ctx context.Context, m *ExchangeMessage, r [32]byte) (Promise, error) {
	em, err := m.MarshalBinary()
	if err != nil {
		return Promise{}, err
	}
	body, err := c.roundTrip(ctx, msgPromiseRequest, append(em, r[:]...), msgPromise)
	if err != nil {
		return Promise{}, err
	}
	var p Promise
	if err := p.UnmarshalBinary(body); err != nil {
		return Promise{}, err
	}
	self, err := identity.AddressOf(c.host.ID())
	if err != nil {
		return Promise{}, err
	}
	switch {
	case p.ChannelID != ChannelID(self, c.addr):
		return Promise{}, fmt.Errorf("%w: hermes promise for channel %x", ErrWrongChannel, p.ChannelID)
	case p.Hashlock != m.Promise.Hashlock:
		return Promise{}, fmt.Errorf("%w: hermes promise has another hashlock", ErrHashlockMismatch)
	case p.ChainID != m.Promise.ChainID:
		return Promise{}, fmt.Errorf("%w: hermes promise for chain %d", ErrWrongChain, p.ChainID)
	}
	if err := p.Verify(c.addr); err != nil {
		return Promise{}, err
	}
	return p, nil
}

// RevealR reveals the R of this provider's pending promise.
func (c *HubClient) RevealR(ctx context.Context, r [32]byte) error {
	_, err := c.roundTrip(ctx, msgRevealR, r[:], msgOK)
	return err
}

// Provider returns what the hermes has issued to this host's identity.
func (c *HubClient) Provider(ctx context.Context) (ProviderState, error) {
	body, err := c.roundTrip(ctx, msgProviderQuery, nil, msgProviderState)
	if err != nil {
		return ProviderState{}, err
	}
	st, err := decodeProviderState(body)
	if err != nil {
		return ProviderState{}, err
	}
	if st.Latest != nil {
		if err := st.Latest.Verify(c.addr); err != nil {
			return ProviderState{}, err
		}
	}
	return st, nil
}

// Consumer returns what the hermes says consumer may spend. The amount the
// hermes claims consumer has promised is checked against consumer's own
// signed promise, so a hermes cannot make a consumer's wallet start higher
// than what it really signed.
func (c *HubClient) Consumer(ctx context.Context, consumer common.Address) (ConsumerState, error) {
	body, err := c.roundTrip(ctx, msgConsumerQuery, consumer[:], msgConsumerState)
	if err != nil {
		return ConsumerState{}, err
	}
	st, err := decodeConsumerState(body)
	if err != nil {
		return ConsumerState{}, err
	}
	if st.Latest == nil {
		if st.Promised.Sign() != 0 || st.Fee.Sign() != 0 {
			return ConsumerState{}, fmt.Errorf("%w: hermes claims %s promised without a promise", ErrBadSignature, st.Promised)
		}
		return st, nil
	}
	switch {
	case st.Latest.ChannelID != ChannelID(consumer, c.addr):
		return ConsumerState{}, fmt.Errorf("%w: hermes shows a promise of channel %x", ErrWrongChannel, st.Latest.ChannelID)
	case st.Latest.Amount.Cmp(st.Promised) != 0 || st.Latest.Fee.Cmp(st.Fee) != 0:
		return ConsumerState{}, fmt.Errorf("%w: hermes claims %s/%s, its proof says %s/%s", ErrAmountMismatch, st.Promised, st.Fee, st.Latest.Amount, st.Latest.Fee)
	}
	if err := st.Latest.Verify(consumer); err != nil {
		return ConsumerState{}, err
	}
	return st, nil
}

func (c *HubClient) roundTrip(ctx context.Context, typ byte, body []byte, want byte) ([]byte, error) {
	return roundTrip(ctx, c.host, c.peer, HermesProtocol, c.timeout, typ, body, want)
}

// roundTrip opens a stream, sends one frame and reads the answer of type
// want or an error frame.
func roundTrip(ctx context.Context, h host.Host, p peer.ID, proto protocol.ID, timeout time.Duration, typ byte, body []byte, want byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	s, err := h.NewStream(network.WithAllowLimitedConn(ctx, string(proto)), p, proto)
	if err != nil {
		return nil, fmt.Errorf("open %s to %s: %w", proto, p, err)
	}
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if err := writeFrame(s, typ, body); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("%s to %s: write: %w", proto, p, err)
	}
	// The peer may already have answered and closed its side, and then
	// CloseWrite fails; the answer may still be waiting to be read, and
	// dropping it would lose a payment the other side has made. So read
	// regardless: a stream that is really broken fails the read.
	_ = s.CloseWrite()
	rt, rb, err := readFrame(s)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s to %s: waiting for answer: %w", proto, p, ctx.Err())
		}
		return nil, fmt.Errorf("%s to %s: %w", proto, p, err)
	}
	_ = s.Close()
	switch rt {
	case want:
		return rb, nil
	case msgError:
		return nil, decodeError(rb)
	default:
		return nil, fmt.Errorf("%w: %s answer type %#x, want %#x", ErrMalformed, proto, rt, want)
	}
}
