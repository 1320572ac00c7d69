package tunnel

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

type failingResolver struct{}

func (failingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return nil, errors.New("resolver down")
}

func TestAnswerDNS(t *testing.T) {
	r := staticResolver{
		"dual.test": {netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("::ffff:192.0.2.2")},
		"v4.test":   {netip.MustParseAddr("192.0.2.9")},
	}
	ask := func(res Resolver, name string, typ dnsmessage.Type) (dnsResult, bool) {
		t.Helper()
		id, q, err := dnsQuery(name, typ)
		if err != nil {
			t.Fatal(err)
		}
		resp, ok := answerDNS(context.Background(), res, q)
		if !ok {
			t.Fatalf("%s %v: no answer", name, typ)
		}
		return parseDNSAnswer(resp, id, typ)
	}
	tests := []struct {
		res   Resolver
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
		addrs []string
	}{
		{r, "dual.test", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"192.0.2.1", "192.0.2.2"}},
		{r, "dual.test", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, []string{"2001:db8::1"}},
		{r, "v4.test", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, nil},
		{r, "missing.test", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil},
		{r, "dual.test", dnsmessage.TypeMX, dnsmessage.RCodeSuccess, nil},
		{failingResolver{}, "dual.test", dnsmessage.TypeA, dnsmessage.RCodeServerFailure, nil},
	}
	for _, tt := range tests {
		res, ok := ask(tt.res, tt.name, tt.typ)
		if !ok {
			t.Fatalf("%s %v: answer does not parse", tt.name, tt.typ)
		}
		if res.rcode != tt.rcode || len(res.addrs) != len(tt.addrs) {
			t.Fatalf("%s %v: rcode %v addrs %v", tt.name, tt.typ, res.rcode, res.addrs)
		}
		for i, a := range tt.addrs {
			if res.addrs[i] != netip.MustParseAddr(a) {
				t.Fatalf("%s %v: addrs %v", tt.name, tt.typ, res.addrs)
			}
		}
	}
	// Garbage and responses get no answer at all.
	for _, q := range [][]byte{nil, {1, 2, 3}, make([]byte, 12)} {
		if len(q) == 12 {
			q[2] = 0x80 // QR: a response
		}
		if _, ok := answerDNS(context.Background(), r, q); ok {
			t.Fatalf("answered %x", q)
		}
	}
}

// TestLookupHostAtProvider resolves through a real session with the host
// resolver at the provider ("localhost" comes from the provider's hosts
// file, not from the consumer).
func TestLookupHostAtProvider(t *testing.T) {
	cons, _ := newSessionPair(t, "mem", pairOptions{resolver: net.DefaultResolver})
	addrs, err := cons.LookupHost(context.Background(), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range addrs {
		found = found || a.IsLoopback()
	}
	if !found {
		t.Fatalf("localhost resolved to %v", addrs)
	}
	if _, err := cons.LookupHost(context.Background(), "bad name with spaces"); err == nil {
		t.Fatal("invalid name resolved")
	}
}

// TestProviderDNSOverTCP asks the provider's responder over TCP, from
// inside the tunnel.
func TestProviderDNSOverTCP(t *testing.T) {
	cons, _ := newSessionPair(t, "mem", pairOptions{})
	c, err := cons.DialTCP(context.Background(), netip.AddrPortFrom(cons.Addresses().Provider, dnsPort))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, q, err := dnsQuery("origin.test", dnsmessage.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(append([]byte{0, byte(len(q))}, q...)); err != nil {
		t.Fatal(err)
	}
	var hdr [2]byte
	if _, err := readFull(c, hdr[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, int(hdr[0])<<8|int(hdr[1]))
	if _, err := readFull(c, resp); err != nil {
		t.Fatal(err)
	}
	res, ok := parseDNSAnswer(resp, id, dnsmessage.TypeA)
	if !ok || len(res.addrs) != 1 || res.addrs[0] != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("answer %+v %v", res, ok)
	}
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func FuzzAnswerDNS(f *testing.F) {
	_, q, _ := dnsQuery("origin.test", dnsmessage.TypeA)
	f.Add(q)
	_, q, _ = dnsQuery("x.y", dnsmessage.TypeAAAA)
	f.Add(q)
	f.Add([]byte{0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	r := staticResolver{"origin.test": {netip.MustParseAddr("127.0.0.1")}}
	f.Fuzz(func(t *testing.T, q []byte) {
		resp, ok := answerDNS(context.Background(), r, q)
		if !ok {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(resp)
		if err != nil || !h.Response {
			t.Fatalf("answer does not parse: %v", err)
		}
		if len(resp) > 512 {
			t.Fatalf("answer of %d bytes exceeds 512", len(resp))
		}
	})
}
