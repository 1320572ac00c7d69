package overlay

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/identity"
)

var testNow = time.UnixMilli(1_800_000_000_000)

func testProposal(t testing.TB, id *identity.Identity) *SignedProposal {
	t.Helper()
	sp, err := SignProposal(Proposal{
		Format: ProposalFormat, Service: ServiceWireGuard, Country: "DE", IPType: IPResidential,
		PriceHour: "50000000000000000", PriceGiB: "200000000000000000",
		Hermes: []string{"0x00000000000000000000000000000000000000aa"},
		Addrs:  []string{"/ip4/127.0.0.1/udp/4001/quic-v1"},
		Seq:    7, IssuedAt: testNow.UnixMilli(), ExpiresAt: testNow.Add(10 * time.Minute).UnixMilli(),
	}, id)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func mustID(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestProposalRoundTrip(t *testing.T) {
	id := mustID(t)
	sp := testProposal(t, id)
	raw, err := sp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeProposal(raw, testNow)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if got.Proposal.Provider != id.PeerID() || got.Proposal.Country != "DE" || got.Proposal.Seq != 7 {
		t.Fatalf("decoded %+v", got.Proposal)
	}
	if FormatTokens(got.Proposal.GiBPrice()) != "0.2" {
		t.Fatalf("price per GiB %s", FormatTokens(got.Proposal.GiBPrice()))
	}
}

// hermesProposal turns p into a hermes hub's proposal with fee feeBp.
func hermesProposal(p Proposal, feeBp uint16) Proposal {
	p.Service, p.IPType, p.PriceHour, p.PriceGiB, p.Hermes = ServiceHermes, "", "0", "0", []string{}
	p.HermesTerms = &HermesTerms{ChainID: 1337, Registry: "0x00000000000000000000000000000000000000aa", FeeBp: feeBp}
	return p
}

func TestHermesProposalRoundTrip(t *testing.T) {
	id := mustID(t)
	p := hermesProposal(testProposal(t, id).Proposal, 250)
	sp, err := SignProposal(p, id)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeProposal(raw, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Proposal.HermesTerms != *p.HermesTerms || got.Proposal.HermesAddress() != id.Address() {
		t.Fatalf("round trip: %+v", got.Proposal)
	}
	// A VPN proposal's wire form has no trace of the new field, so its
	// signature is what older nodes compute.
	vpn, _ := testProposal(t, id).Encode()
	if strings.Contains(string(vpn), "hermes_terms") {
		t.Fatalf("wireguard proposal carries hermes_terms: %s", vpn)
	}
}

func TestProposalRejects(t *testing.T) {
	id, other := mustID(t), mustID(t)
	encode := func(sp *SignedProposal) []byte {
		b, err := sp.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resign := func(mut func(*Proposal)) []byte {
		sp := testProposal(t, id)
		p := sp.Proposal
		mut(&p)
		h, _ := p.Hash()
		sig, _ := id.SignHash(h)
		return encode(&SignedProposal{Proposal: p, Signature: sig})
	}
	tests := []struct {
		name string
		raw  []byte
		now  time.Time
		want error
	}{
		{"tampered price", func() []byte {
			sp := testProposal(t, id)
			sp.Proposal.PriceGiB = "1"
			return encode(sp)
		}(), testNow, ErrProposalSignature},
		{"signer is not provider", func() []byte {
			sp := testProposal(t, id)
			sp.Proposal.Provider = other.PeerID()
			return encode(sp)
		}(), testNow, ErrProposalSignature},
		{"expired", encode(testProposal(t, id)), testNow.Add(11 * time.Minute), ErrProposalExpired},
		{"issued in the future", encode(testProposal(t, id)), testNow.Add(-time.Hour), ErrProposalFuture},
		{"expires too far ahead", resign(func(p *Proposal) { p.ExpiresAt = testNow.Add(48 * time.Hour).UnixMilli() }), testNow, ErrProposalFuture},
		{"oversized", []byte(`{"proposal":{"country":"` + strings.Repeat("A", MaxProposalSize) + `"}}`), testNow, ErrProposalTooLarge},
		{"not json", []byte("hello"), testNow, ErrProposalMalformed},
		{"unknown field", []byte(`{"proposal":{},"signature":"0x00","extra":1}`), testNow, ErrProposalMalformed},
		{"trailing data", append(encode(testProposal(t, id)), []byte(" {}")...), testNow, ErrProposalMalformed},
		{"bad country", resign(func(p *Proposal) { p.Country = "Germany" }), testNow, ErrProposalMalformed},
		{"bad ip type", resign(func(p *Proposal) { p.IPType = "datacenter" }), testNow, ErrProposalMalformed},
		{"negative price", resign(func(p *Proposal) { p.PriceHour = "-1" }), testNow, ErrProposalMalformed},
		{"leading zero price", resign(func(p *Proposal) { p.PriceHour = "01" }), testNow, ErrProposalMalformed},
		{"bad hermes", resign(func(p *Proposal) { p.Hermes = []string{"nope"} }), testNow, ErrProposalMalformed},
		{"bad addr", resign(func(p *Proposal) { p.Addrs = []string{"/ip9/x"} }), testNow, ErrProposalMalformed},
		{"wrong service", resign(func(p *Proposal) { p.Service = "openvpn" }), testNow, ErrProposalMalformed},
		{"wrong format", resign(func(p *Proposal) { p.Format = 2 }), testNow, ErrProposalMalformed},
		{"hermes terms on a wireguard proposal", resign(func(p *Proposal) { *p = hermesProposal(*p, 250); p.Service = ServiceWireGuard }), testNow, ErrProposalMalformed},
		{"hermes without terms", resign(func(p *Proposal) { *p = hermesProposal(*p, 250); p.HermesTerms = nil }), testNow, ErrProposalMalformed},
		{"hermes fee above 100 %", resign(func(p *Proposal) { *p = hermesProposal(*p, MaxHermesFeeBp+1) }), testNow, ErrProposalMalformed},
		{"hermes with prices", resign(func(p *Proposal) { *p = hermesProposal(*p, 250); p.PriceGiB = "1" }), testNow, ErrProposalMalformed},
		{"hermes without chain", resign(func(p *Proposal) { *p = hermesProposal(*p, 250); p.HermesTerms.ChainID = 0 }), testNow, ErrProposalMalformed},
		{"hermes bad registry", resign(func(p *Proposal) { *p = hermesProposal(*p, 250); p.HermesTerms.Registry = "0x12" }), testNow, ErrProposalMalformed},
		{"short signature", func() []byte {
			sp := testProposal(t, id)
			sp.Signature = sp.Signature[:10]
			return encode(sp)
		}(), testNow, ErrProposalSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := DecodeProposal(tt.raw, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if sp != nil {
				t.Fatal("a rejected proposal was returned")
			}
		})
	}
}

func TestRecordValidatorSelectsNewest(t *testing.T) {
	id := mustID(t)
	v := recordValidator{now: func() time.Time { return testNow }}
	older := testProposal(t, id)
	newer := testProposal(t, id)
	p := newer.Proposal
	p.Seq = 8
	newerSP, err := SignProposal(p, id)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := older.Encode()
	b, _ := newerSP.Encode()
	key := "/mystp2p-rec/" + id.PeerID().String()
	if err := v.Validate(key, b); err != nil {
		t.Fatal(err)
	}
	if err := v.Validate("/mystp2p-rec/"+mustID(t).PeerID().String(), b); !errors.Is(err, ErrProposalSignature) {
		t.Fatalf("record under another provider's key: err = %v", err)
	}
	i, err := v.Select(key, [][]byte{a, []byte("junk"), b})
	if err != nil || i != 2 {
		t.Fatalf("select = %d, %v; want 2", i, err)
	}
}

func TestTokens(t *testing.T) {
	for _, tt := range []struct{ in, base, out string }{
		{"0.05", "50000000000000000", "0.05"},
		{"1", "1000000000000000000", "1"},
		{"12.5", "12500000000000000000", "12.5"},
		{".2", "200000000000000000", "0.2"},
		{"0", "0", "0"},
	} {
		v, err := ParseTokens(tt.in)
		if err != nil || v.String() != tt.base || FormatTokens(v) != tt.out {
			t.Errorf("%s: %v %v %s", tt.in, v, err, FormatTokens(v))
		}
	}
	for _, bad := range []string{"-1", "1e3", "abc", "0.0000000000000000001", "1.2.3", ""} {
		if v, err := ParseTokens(bad); err == nil && bad != "" {
			t.Errorf("ParseTokens(%q) = %v, want error", bad, v)
		}
	}
}

func FuzzDecodeProposal(f *testing.F) {
	id, err := identity.FromHex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
	if err != nil {
		f.Fatal(err)
	}
	sp := testProposal(f, id)
	raw, _ := sp.Encode()
	f.Add(raw)
	hub, err := SignProposal(hermesProposal(sp.Proposal, 250), id)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ = hub.Encode()
	f.Add(raw)
	f.Add([]byte(`{"proposal":{},"signature":"0x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeProposal(b, testNow)
		if err != nil {
			if got != nil {
				t.Fatal("proposal returned with an error")
			}
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		again, err := got.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeProposal(again, testNow)
		if err != nil {
			t.Fatalf("re-encoded proposal rejected: %v", err)
		}
		a, _ := json.Marshal(got)
		c, _ := json.Marshal(back)
		if string(a) != string(c) {
			t.Fatalf("round trip changed the proposal:\n%s\n%s", a, c)
		}
	})
}
