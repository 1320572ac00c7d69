package overlay

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/identity"
)

// Limits on proposals. They bound what any peer can make us store or show.
const (
	// ProposalFormat is the only format version this node reads and writes.
	ProposalFormat = 1
	// MaxProposalSize bounds an encoded signed proposal.
	MaxProposalSize = 4096
	// MaxProposalTTL bounds how far ahead a proposal may expire.
	MaxProposalTTL = 24 * time.Hour
	// MaxClockSkew is how far in the future an issue time may lie.
	MaxClockSkew = 2 * time.Minute
	maxAddrs     = 16
	maxHermes    = 8
	maxPriceLen  = 78 // digits of 2^256
)

// Services a proposal may offer: VPN service over WireGuard, or payment
// clearing as a hermes hub (package hermes).
const (
	ServiceWireGuard = "wireguard"
	ServiceHermes    = "hermes"
)

// MaxHermesFeeBp is the highest hermes fee a hub may advertise (100 %).
const MaxHermesFeeBp = 10000

// IP types a provider may declare about its exit address, for consumers to
// filter on (Query.IPType).
const (
	IPResidential = "residential"
	IPHosting     = "hosting"
	IPMobile      = "mobile"
)

// Proposal is a provider's signed offer of service. Prices are in token base
// units (18 decimals) as decimal strings so they survive JSON intact.
type Proposal struct {
	Format    int      `json:"format"`
	Provider  peer.ID  `json:"provider"`
	Service   string   `json:"service"`
	Country   string   `json:"country"`
	IPType    string   `json:"ip_type"`
	PriceHour string   `json:"price_hour"`
	PriceGiB  string   `json:"price_gib"`
	Hermes    []string `json:"hermes"`
	Addrs     []string `json:"addrs"`
	Seq       uint64   `json:"seq"`
	IssuedAt  int64    `json:"issued_at"`  // unix milliseconds
	ExpiresAt int64    `json:"expires_at"` // unix milliseconds
	// HermesTerms is set on, and only on, a hermes hub's proposal.
	HermesTerms *HermesTerms `json:"hermes_terms,omitempty"`
}

// HermesTerms are what a hermes hub advertises: the chain and Registry
// contract its channels live on and its fee.
type HermesTerms struct {
	ChainID  uint64 `json:"chain_id"`
	Registry string `json:"registry"` // 0x address
	FeeBp    uint16 `json:"fee_bp"`   // basis points of each agreement total
}

// HermesAddress is the Ethereum address of a hermes hub's proposal (the
// address consumers top up channels for and providers list).
func (p *Proposal) HermesAddress() common.Address {
	a, _ := identity.AddressOf(p.Provider)
	return a
}

// AcceptsHermes reports whether a provider's proposal lists hermes.
func (p *Proposal) AcceptsHermes(hermes common.Address) bool {
	return slices.ContainsFunc(p.Hermes, func(h string) bool { return common.HexToAddress(h) == hermes })
}

// Charges reports whether a provider asks to be paid: it lists at least one
// hermes to pay through. A proposal that lists none is free, whatever its
// prices say.
func (p *Proposal) Charges() bool { return len(p.Hermes) > 0 }

// SignedProposal is a proposal with its provider's signature, as it travels.
type SignedProposal struct {
	Proposal  Proposal      `json:"proposal"`
	Signature hexutil.Bytes `json:"signature"`
}

var proposalDomain = []byte("mystp2p/proposal/1\x00")

// Hash is what the provider signs: keccak256 of a domain tag and the canonical
// JSON of the proposal.
func (p *Proposal) Hash() ([]byte, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return ethcrypto.Keccak256(proposalDomain, body), nil
}

// Issued is when the proposal was signed.
func (p *Proposal) Issued() time.Time { return time.UnixMilli(p.IssuedAt) }

// Expires is when the proposal stops being valid.
func (p *Proposal) Expires() time.Time { return time.UnixMilli(p.ExpiresAt) }

// HourPrice parses PriceHour.
func (p *Proposal) HourPrice() *big.Int { v, _ := parsePrice(p.PriceHour); return v }

// GiBPrice parses PriceGiB.
func (p *Proposal) GiBPrice() *big.Int { v, _ := parsePrice(p.PriceGiB); return v }

// AddrInfo is the provider's peer ID with its advertised addresses.
func (p *Proposal) AddrInfo() peer.AddrInfo {
	ai := peer.AddrInfo{ID: p.Provider}
	for _, s := range p.Addrs {
		if a, err := ma.NewMultiaddr(s); err == nil {
			ai.Addrs = append(ai.Addrs, a)
		}
	}
	return ai
}

// SignProposal fills the provider field and signs p with id.
func SignProposal(p Proposal, id *identity.Identity) (*SignedProposal, error) {
	p.Provider = id.PeerID()
	if err := p.check(); err != nil {
		return nil, err
	}
	h, err := p.Hash()
	if err != nil {
		return nil, err
	}
	sig, err := id.SignHash(h)
	if err != nil {
		return nil, err
	}
	sp := &SignedProposal{Proposal: p, Signature: sig}
	if b, _ := sp.Encode(); len(b) > MaxProposalSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d (fewer addresses or hermes IDs)", ErrProposalTooLarge, len(b), MaxProposalSize)
	}
	return sp, nil
}

// Encode returns the wire form.
func (sp *SignedProposal) Encode() ([]byte, error) { return json.Marshal(sp) }

// DecodeProposal parses and fully validates a signed proposal against the
// clock now. It never returns a proposal that failed a check.
func DecodeProposal(b []byte, now time.Time) (*SignedProposal, error) {
	if len(b) > MaxProposalSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrProposalTooLarge, len(b), MaxProposalSize)
	}
	key := sha256.Sum256(b)
	if sp, ok := verifiedProposals.Get(key); ok {
		sp = sp.clone()
		if err := sp.Proposal.checkTime(now); err != nil {
			return nil, err
		}
		return sp, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sp SignedProposal
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProposalMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrProposalMalformed)
	}
	if err := sp.verifySignature(); err != nil {
		return nil, err
	}
	verifiedProposals.Add(key, sp.clone())
	if err := sp.Proposal.checkTime(now); err != nil {
		return nil, err
	}
	return &sp, nil
}

// verifiedProposals holds, by the SHA-256 of their bytes, proposals whose
// fields and signature checked out, for every node in the process. The same
// bytes arrive many times: by gossip, then in DHT records that every node
// on a record's path validates, in offer exchanges and fetches, and in an
// in-process testnet at every node. Decoding and recovering the signer cost
// about 100 µs of CPU each time; a hit costs a hash and a copy. Only the
// time window is checked again. Entries are copies that callers never see.
var verifiedProposals = must(lru.New[[sha256.Size]byte, *SignedProposal](verifiedProposalsSize))

// verifiedProposalsSize bounds verifiedProposals: a few KiB each, some
// megabytes in all, more proposals than a thousand-provider network has live.
const verifiedProposalsSize = 4096

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// clone is a deep copy of sp.
func (sp *SignedProposal) clone() *SignedProposal {
	c := *sp
	c.Signature = slices.Clone(sp.Signature)
	c.Proposal.Hermes = slices.Clone(sp.Proposal.Hermes)
	c.Proposal.Addrs = slices.Clone(sp.Proposal.Addrs)
	if t := sp.Proposal.HermesTerms; t != nil {
		tc := *t
		c.Proposal.HermesTerms = &tc
	}
	return &c
}

// Verify checks the proposal's fields, its signature and its time window.
func (sp *SignedProposal) Verify(now time.Time) error {
	if err := sp.verifySignature(); err != nil {
		return err
	}
	return sp.Proposal.checkTime(now)
}

// verifySignature checks the proposal's fields and that its provider signed
// it.
func (sp *SignedProposal) verifySignature() error {
	p := &sp.Proposal
	if err := p.check(); err != nil {
		return err
	}
	want, err := identity.AddressOf(p.Provider)
	if err != nil {
		return fmt.Errorf("%w: provider ID: %v", ErrProposalSignature, err)
	}
	h, err := p.Hash()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProposalMalformed, err)
	}
	got, err := identity.RecoverAddress(h, sp.Signature)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrProposalSignature, err)
	}
	if got != want {
		return fmt.Errorf("%w: signed by %s, provider is %s", ErrProposalSignature, got.Hex(), want.Hex())
	}
	return nil
}

// checkTime checks that now is inside the proposal's time window.
func (p *Proposal) checkTime(now time.Time) error {
	if !now.Before(p.Expires()) {
		return fmt.Errorf("%w: at %s", ErrProposalExpired, p.Expires().UTC().Format(time.RFC3339))
	}
	if p.Issued().After(now.Add(MaxClockSkew)) {
		return fmt.Errorf("%w: issued at %s", ErrProposalFuture, p.Issued().UTC().Format(time.RFC3339))
	}
	if p.Expires().After(now.Add(MaxProposalTTL + MaxClockSkew)) {
		return fmt.Errorf("%w: expires at %s", ErrProposalFuture, p.Expires().UTC().Format(time.RFC3339))
	}
	return nil
}

// check validates the fields that need no clock or signature.
func (p *Proposal) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrProposalMalformed, fmt.Sprintf(format, a...))
	}
	switch {
	case p.Format != ProposalFormat:
		return bad("format %d, want %d", p.Format, ProposalFormat)
	case p.Provider == "":
		return bad("no provider")
	case len(p.Addrs) > maxAddrs:
		return bad("%d addresses, limit %d", len(p.Addrs), maxAddrs)
	case len(p.Hermes) > maxHermes:
		return bad("%d hermes IDs, limit %d", len(p.Hermes), maxHermes)
	case p.ExpiresAt <= p.IssuedAt:
		return bad("expires before it is issued")
	}
	switch p.Service {
	case ServiceWireGuard:
		switch {
		case !validCountry(p.Country):
			return bad("country %q is not an ISO 3166 alpha-2 code", p.Country)
		case !slices.Contains([]string{IPResidential, IPHosting, IPMobile}, p.IPType):
			return bad("ip type %q (want residential, hosting or mobile)", p.IPType)
		case p.HermesTerms != nil:
			return bad("hermes terms on a %s proposal", p.Service)
		}
	case ServiceHermes:
		t := p.HermesTerms
		switch {
		case p.Country != "" && !validCountry(p.Country):
			return bad("country %q is not an ISO 3166 alpha-2 code", p.Country)
		case p.IPType != "" || len(p.Hermes) > 0 || p.PriceHour != "0" || p.PriceGiB != "0":
			return bad("a hermes proposal has no IP type, hermes list or prices")
		case t == nil:
			return bad("hermes proposal without terms")
		case t.ChainID == 0:
			return bad("hermes terms without a chain ID")
		case !common.IsHexAddress(t.Registry):
			return bad("hermes registry %q is not an address", t.Registry)
		case t.FeeBp > MaxHermesFeeBp:
			return bad("hermes fee %d bp above %d", t.FeeBp, MaxHermesFeeBp)
		}
	default:
		return bad("service %q, want %q or %q", p.Service, ServiceWireGuard, ServiceHermes)
	}
	if _, err := parsePrice(p.PriceHour); err != nil {
		return bad("price per hour: %v", err)
	}
	if _, err := parsePrice(p.PriceGiB); err != nil {
		return bad("price per GiB: %v", err)
	}
	for _, h := range p.Hermes {
		if !common.IsHexAddress(h) {
			return bad("hermes ID %q is not an address", h)
		}
	}
	for _, a := range p.Addrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return bad("address %q: %v", a, err)
		}
	}
	if err := p.Provider.Validate(); err != nil {
		return bad("provider ID: %v", err)
	}
	return nil
}

func validCountry(c string) bool {
	if len(c) != 2 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// parsePrice reads a non-negative decimal integer in base units.
func parsePrice(s string) (*big.Int, error) {
	if s == "" || len(s) > maxPriceLen {
		return nil, fmt.Errorf("%q is not a base-unit amount", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return nil, fmt.Errorf("%q is not a base-unit amount", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return nil, fmt.Errorf("%q has leading zeros", s)
	}
	v, _ := new(big.Int).SetString(s, 10)
	return v, nil
}

// TokenDecimals is the number of decimals of the payment token.
const TokenDecimals = 18

// ParseTokens turns a human token amount ("0.05") into base units.
func ParseTokens(s string) (*big.Int, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > TokenDecimals {
		return nil, fmt.Errorf("amount %q has more than %d decimals", s, TokenDecimals)
	}
	digits := whole + frac + strings.Repeat("0", TokenDecimals-len(frac))
	for _, r := range digits {
		if r < '0' || r > '9' {
			return nil, fmt.Errorf("amount %q is not a non-negative decimal number (e.g. 0.05)", s)
		}
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok || len(digits) > maxPriceLen {
		return nil, fmt.Errorf("amount %q is out of range", s)
	}
	return v, nil
}

// FormatTokens renders base units as a human token amount.
func FormatTokens(v *big.Int) string {
	if v == nil {
		return "?"
	}
	s := v.String()
	if len(s) <= TokenDecimals {
		s = strings.Repeat("0", TokenDecimals-len(s)+1) + s
	}
	whole, frac := s[:len(s)-TokenDecimals], strings.TrimRight(s[len(s)-TokenDecimals:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}
