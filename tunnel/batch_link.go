package tunnel

import (
	"context"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/stack/gro"
)

// linkEndpoint is the link layer under a session's gVisor stack; netDevice
// moves its packets to and from WireGuard in batches.
//
// Outbound, it claims segmentation offload (see gso.go), so the stack's
// TCP hands it packets of up to gsoMaxSize bytes that netDevice.Read cuts
// into MTU-sized ones, and it queues packets by reference, not by copy.
//
// Inbound, a batch WireGuard decrypted goes through gVisor's GRO, which
// merges consecutive segments of one TCP flow into one large packet before
// the stack sees it (deliverBatch). It also claims receive checksum
// offload: WireGuard has authenticated every packet, so only the peer could
// have written a bad checksum, and it can only hurt its own flows that way.
type linkEndpoint struct {
	mtu uint32
	out chan *stack.PacketBuffer

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher // guarded by mu
	closed     bool                    // guarded by mu; out is closed

	groMu sync.Mutex
	gro   gro.GRO // guarded by groMu
}

// gsoMaxSize is the largest packet the stack's TCP hands the link.
const gsoMaxSize = 1 << 16

var (
	_ stack.LinkEndpoint = (*linkEndpoint)(nil)
	_ stack.GSOEndpoint  = (*linkEndpoint)(nil)
)

func newLinkEndpoint(queueLen int, mtu uint32) *linkEndpoint {
	e := &linkEndpoint{mtu: mtu, out: make(chan *stack.PacketBuffer, queueLen)}
	e.gro.Init(true)
	return e
}

// read blocks for the next outbound packet; nil once ctx is done or the
// endpoint is closed. The caller owns the reference it returns.
func (e *linkEndpoint) read(ctx context.Context) *stack.PacketBuffer {
	select {
	case pkt := <-e.out:
		return pkt
	case <-ctx.Done():
		return nil
	}
}

// tryRead returns the next outbound packet if one is queued, else nil.
func (e *linkEndpoint) tryRead() *stack.PacketBuffer {
	select {
	case pkt := <-e.out:
		return pkt
	default:
		return nil
	}
}

// deliverBatch hands inbound packets to the stack through GRO, and takes
// over the caller's references. GRO validates a packet's lengths and
// checksums unless its RXChecksumValidated is set.
func (e *linkEndpoint) deliverBatch(pkts []*stack.PacketBuffer) {
	e.mu.RLock()
	d := e.dispatcher
	e.mu.RUnlock()
	if d == nil {
		for _, p := range pkts {
			p.DecRef()
		}
		return
	}
	e.groMu.Lock()
	defer e.groMu.Unlock()
	e.gro.Dispatcher = d
	for _, p := range pkts {
		e.gro.Enqueue(p)
		p.DecRef()
	}
	e.gro.Flush()
}

// WritePackets implements stack.LinkWriter: it queues pkts for WireGuard,
// as many as fit.
func (e *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		pkt.IncRef()
		select {
		case e.out <- pkt:
			n++
		default:
			pkt.DecRef()
			if n == 0 {
				return 0, &tcpip.ErrNoBufferSpace{}
			}
			return n, nil
		}
	}
	return n, nil
}

// Close implements stack.LinkEndpoint; queued packets are released.
func (e *linkEndpoint) Close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.out)
	}
	e.mu.Unlock()
	for pkt := range e.out {
		pkt.DecRef()
	}
}

// Attach implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dispatcher = d
}

// IsAttached implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// MTU implements stack.NetworkLinkEndpoint.
func (e *linkEndpoint) MTU() uint32 { return e.mtu }

// SetMTU implements stack.NetworkLinkEndpoint; the session MTU is fixed.
func (e *linkEndpoint) SetMTU(uint32) {}

// MaxHeaderLength implements stack.NetworkLinkEndpoint: no link header.
func (*linkEndpoint) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.NetworkLinkEndpoint: there is none.
func (*linkEndpoint) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// GSOMaxSize implements stack.GSOEndpoint.
func (*linkEndpoint) GSOMaxSize() uint32 { return gsoMaxSize }

// SupportedGSO implements stack.GSOEndpoint: netDevice.Read segments.
func (*linkEndpoint) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

// Wait implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) Wait() {}

// ARPHardwareType implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) ParseHeader(*stack.PacketBuffer) bool { return true }

// SetOnCloseAction implements stack.NetworkLinkEndpoint.
func (*linkEndpoint) SetOnCloseAction(func()) {}
