package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver is what the provider's DNS responder asks. *net.Resolver (the
// host resolver, the default) satisfies it; tests pass a fixed table.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

const (
	dnsPort = 53
	// maxDNSMessage bounds queries over UDP and TCP alike; real queries
	// are a few dozen bytes.
	maxDNSMessage = 1232
	// maxDNSAnswers keeps UDP answers within 512 bytes.
	maxDNSAnswers = 8
	dnsTTL        = 60
	// dnsLookupTimeout bounds one host lookup at the provider.
	dnsLookupTimeout = 5 * time.Second
	// dnsQueryTimeout bounds one name resolution at the consumer.
	dnsQueryTimeout = 6 * time.Second
	dnsRetransmit   = time.Second
)

// answerDNS builds the response to one query, asking r. ok is false when
// the query is too broken to answer (no header, or not a query).
func answerDNS(ctx context.Context, r Resolver, query []byte) (resp []byte, ok bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil || hdr.Response {
		return nil, false
	}
	reply := func(rcode dnsmessage.RCode, q *dnsmessage.Question, addrs []netip.Addr) ([]byte, bool) {
		b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{
			ID: hdr.ID, Response: true, OpCode: hdr.OpCode,
			RecursionDesired: hdr.RecursionDesired, RecursionAvailable: true, RCode: rcode,
		})
		b.EnableCompression()
		if q == nil {
			out, err := b.Finish()
			return out, err == nil
		}
		if b.StartQuestions() != nil || b.Question(*q) != nil || b.StartAnswers() != nil {
			return nil, false
		}
		for _, a := range addrs {
			rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
			var err error
			if a.Is4() {
				err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
			} else {
				err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
			}
			if err != nil {
				return nil, false
			}
		}
		out, err := b.Finish()
		return out, err == nil
	}
	if hdr.OpCode != 0 {
		return reply(dnsmessage.RCodeNotImplemented, nil, nil)
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return reply(dnsmessage.RCodeFormatError, nil, nil)
	}
	q := qs[0]
	if q.Class != dnsmessage.ClassINET {
		return reply(dnsmessage.RCodeNotImplemented, &q, nil)
	}
	name := strings.TrimSuffix(q.Name.String(), ".")
	if name == "" {
		return reply(dnsmessage.RCodeRefused, &q, nil)
	}
	var want func(netip.Addr) bool
	switch q.Type {
	case dnsmessage.TypeA:
		want = netip.Addr.Is4
	case dnsmessage.TypeAAAA:
		want = func(a netip.Addr) bool { return a.Is6() && !a.Is4In6() }
	default:
		// No data for other types: clients fall back to A/AAAA.
		return reply(dnsmessage.RCodeSuccess, &q, nil)
	}
	ctx, cancel := context.WithTimeout(ctx, dnsLookupTimeout)
	defer cancel()
	all, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return reply(dnsmessage.RCodeNameError, &q, nil)
		}
		return reply(dnsmessage.RCodeServerFailure, &q, nil)
	}
	var addrs []netip.Addr
	for _, a := range all {
		a = a.Unmap()
		if want(a) && len(addrs) < maxDNSAnswers {
			addrs = append(addrs, a)
		}
	}
	return reply(dnsmessage.RCodeSuccess, &q, addrs)
}

// dnsQuery builds a recursive query for name of type t with a random ID.
func dnsQuery(name string, t dnsmessage.Type) (uint16, []byte, error) {
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return 0, nil, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: bad name %q: %v", ErrNameNotFound, name, err)
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return 0, nil, err
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return 0, nil, err
	}
	msg, err := b.Finish()
	return id, msg, err
}

// dnsResult is one parsed answer to a query of ours.
type dnsResult struct {
	rcode dnsmessage.RCode
	addrs []netip.Addr
}

// parseDNSAnswer parses resp if it answers query id for name/type t.
func parseDNSAnswer(resp []byte, id uint16, t dnsmessage.Type) (dnsResult, bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(resp)
	if err != nil || !hdr.Response || hdr.ID != id {
		return dnsResult{}, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || qs[0].Type != t {
		return dnsResult{}, false
	}
	res := dnsResult{rcode: hdr.RCode}
	for {
		h, err := p.AnswerHeader()
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			break
		}
		if err != nil {
			return dnsResult{}, false
		}
		switch {
		case h.Type == dnsmessage.TypeA && t == dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return dnsResult{}, false
			}
			res.addrs = append(res.addrs, netip.AddrFrom4(r.A))
		case h.Type == dnsmessage.TypeAAAA && t == dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return dnsResult{}, false
			}
			res.addrs = append(res.addrs, netip.AddrFrom16(r.AAAA))
		default:
			if err := p.SkipAnswer(); err != nil {
				return dnsResult{}, false
			}
		}
	}
	return res, true
}
