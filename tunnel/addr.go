package tunnel

import (
	"fmt"
	"net/netip"
	"sync"
)

// Default pool ranges: the private /16 that session address pairs come
// from, and the ULA /64 holding their IPv6 halves.
const (
	DefaultPoolPrefix  = "10.182.0.0/16"
	DefaultPoolPrefix6 = "fd6d:7973:7470::/64"
)

// AddressPair holds the tunnel addresses of one session: the consumer's and
// the provider's, in IPv4 and IPv6. The provider's IPv4 address also serves
// DNS (port 53) to the consumer.
type AddressPair struct {
	Consumer  netip.Addr `json:"consumer"`
	Provider  netip.Addr `json:"provider"`
	Consumer6 netip.Addr `json:"consumer6"`
	Provider6 netip.Addr `json:"provider6"`
}

// Validate checks that the pair holds four distinct addresses of the right
// families (IPv4 for Consumer/Provider, IPv6 for Consumer6/Provider6).
func (p AddressPair) Validate() error {
	switch {
	case !p.Consumer.Is4() || !p.Provider.Is4():
		return fmt.Errorf("%w: address pair needs IPv4 consumer and provider addresses", ErrInvalidConfig)
	case !p.Consumer6.Is6() || p.Consumer6.Is4In6() || !p.Provider6.Is6() || p.Provider6.Is4In6():
		return fmt.Errorf("%w: address pair needs IPv6 consumer6 and provider6 addresses", ErrInvalidConfig)
	case p.Consumer == p.Provider || p.Consumer6 == p.Provider6:
		return fmt.Errorf("%w: consumer and provider tunnel addresses are equal", ErrInvalidConfig)
	}
	return nil
}

// AddressPool hands out per-session address pairs from a private IPv4 /16
// (and a parallel IPv6 ULA range). A provider keeps one pool for all its
// sessions and releases a pair when the session ends. It is safe for
// concurrent use.
type AddressPool struct {
	prefix4 netip.Prefix
	prefix6 netip.Prefix

	mu    sync.Mutex
	inUse map[uint32]struct{} // pair index
	next  uint32
}

// numPairs is the number of pairs in a /16: 65536 addresses, two per pair,
// minus the pair holding the network address and the one holding the
// broadcast address.
const numPairs = 1<<15 - 2

// NewAddressPool returns a pool over prefix4, which must be an IPv4 /16 in
// private space, and prefix6, an IPv6 ULA prefix of length /64 or shorter.
// The zero prefixes select DefaultPoolPrefix and DefaultPoolPrefix6.
func NewAddressPool(prefix4, prefix6 netip.Prefix) (*AddressPool, error) {
	if !prefix4.IsValid() {
		prefix4 = netip.MustParsePrefix(DefaultPoolPrefix)
	}
	if !prefix6.IsValid() {
		prefix6 = netip.MustParsePrefix(DefaultPoolPrefix6)
	}
	if !prefix4.Addr().Is4() || prefix4.Bits() != 16 || !prefix4.Addr().IsPrivate() {
		return nil, fmt.Errorf("%w: pool prefix %s must be a private IPv4 /16", ErrInvalidConfig, prefix4)
	}
	if !prefix6.Addr().Is6() || prefix6.Addr().Is4In6() || prefix6.Bits() > 64 || !prefix6.Addr().IsPrivate() {
		return nil, fmt.Errorf("%w: pool prefix %s must be an IPv6 ULA of /64 or shorter", ErrInvalidConfig, prefix6)
	}
	return &AddressPool{
		prefix4: prefix4.Masked(),
		prefix6: prefix6.Masked(),
		inUse:   make(map[uint32]struct{}),
	}, nil
}

// Allocate returns a free address pair, or ErrPoolExhausted.
func (p *AddressPool) Allocate() (AddressPair, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range numPairs {
		idx := p.next%numPairs + 1 // 1..numPairs
		p.next++
		if _, busy := p.inUse[idx]; busy {
			continue
		}
		p.inUse[idx] = struct{}{}
		return p.pairLocked(idx), nil
	}
	return AddressPair{}, ErrPoolExhausted
}

// Release returns a pair to the pool. Releasing a pair that is not
// allocated from this pool is a no-op.
func (p *AddressPool) Release(pair AddressPair) {
	if !p.prefix4.Contains(pair.Provider) {
		return
	}
	b := pair.Provider.As4()
	host := uint32(b[2])<<8 | uint32(b[3])
	if host%2 != 0 {
		return
	}
	idx := host / 2
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pairLocked(idx) == pair {
		delete(p.inUse, idx)
	}
}

// InUse reports the number of allocated pairs.
func (p *AddressPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inUse)
}

// pairLocked maps index i (1..numPairs) to the addresses 2i (provider) and
// 2i+1 (consumer) inside the /16, and the same host numbers inside the
// IPv6 prefix.
func (p *AddressPool) pairLocked(i uint32) AddressPair {
	base4 := p.prefix4.Addr().As4()
	host := func(n uint32) netip.Addr {
		b := base4
		b[2] = byte(n >> 8)
		b[3] = byte(n)
		return netip.AddrFrom4(b)
	}
	base6 := p.prefix6.Addr().As16()
	host6 := func(n uint32) netip.Addr {
		b := base6
		b[14] = byte(n >> 8)
		b[15] = byte(n)
		return netip.AddrFrom16(b)
	}
	return AddressPair{
		Provider:  host(2 * i),
		Consumer:  host(2*i + 1),
		Provider6: host6(2 * i),
		Consumer6: host6(2*i + 1),
	}
}
