package tunnel

import (
	"errors"
	"net/netip"
	"testing"
)

func TestAddressPool(t *testing.T) {
	p, err := NewAddressPool(netip.MustParsePrefix("10.50.0.0/16"), netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[netip.Addr]bool)
	var pairs []AddressPair
	for range numPairs {
		pair, err := p.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		if err := pair.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, a := range []netip.Addr{pair.Consumer, pair.Provider, pair.Consumer6, pair.Provider6} {
			if seen[a] {
				t.Fatalf("address %s handed out twice", a)
			}
			seen[a] = true
		}
		for _, a := range []netip.Addr{pair.Consumer, pair.Provider} {
			if b := a.As4(); !netip.MustParsePrefix("10.50.0.0/16").Contains(a) || (b[2] == 0 && b[3] == 0) || (b[2] == 255 && b[3] == 255) {
				t.Fatalf("address %s outside the pool or network/broadcast", a)
			}
		}
		pairs = append(pairs, pair)
	}
	if _, err := p.Allocate(); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("err = %v, want ErrPoolExhausted", err)
	}
	p.Release(pairs[1234])
	p.Release(pairs[1234]) // twice: no effect
	p.Release(AddressPair{Provider: netip.MustParseAddr("192.168.0.2")})
	got, err := p.Allocate()
	if err != nil || got != pairs[1234] {
		t.Fatalf("after release got %v, %v; want %v", got, err, pairs[1234])
	}
	if p.InUse() != numPairs {
		t.Fatalf("InUse = %d", p.InUse())
	}
}

func TestAddressPoolRejects(t *testing.T) {
	for _, pr := range []string{"8.8.0.0/16", "10.0.0.0/8", "10.1.2.0/24"} {
		if _, err := NewAddressPool(netip.MustParsePrefix(pr), netip.Prefix{}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v", pr, err)
		}
	}
	if _, err := NewAddressPool(netip.Prefix{}, netip.MustParsePrefix("2001:db8::/64")); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("non-ULA v6 accepted: %v", err)
	}
}
