package role

import (
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/mystp2p/mystp2p/overlay"
)

// NodeStatus is what GET /v1/status answers about a running node.
type NodeStatus struct {
	PeerID string   `json:"peer_id"`
	Roles  []string `json:"roles"`
	// Reachability is what AutoNAT found (or was forced to): public,
	// private or unknown.
	Reachability string `json:"reachability"`
	// NAT is the NAT's mapping behaviour per transport protocol (udp,
	// tcp), once AutoNAT has found it: "endpoint-independent" (cone,
	// hole punching works) or "endpoint-dependent" (symmetric).
	NAT map[string]string `json:"nat"`
	// Relays are the relays this node holds reservations with.
	Relays []string `json:"relays"`
	// Peers is how many peers the host is connected to.
	Peers int `json:"peers"`
	// Addrs are the host's addresses; Transports the transports in them.
	Addrs      []string `json:"addrs"`
	Transports []string `json:"transports"`
	// Proposal is the provider's live proposal (providers only).
	Proposal *ProposalStatus `json:"proposal,omitempty"`
	Version  string          `json:"version"`
	Commit   string          `json:"commit,omitempty"`
	Go       string          `json:"go"`
	Started  time.Time       `json:"started"`
	// UptimeSeconds is the time since Started.
	UptimeSeconds int64 `json:"uptime_seconds"`
}

// ProposalStatus is a provider's live proposal, as the status shows it.
type ProposalStatus struct {
	Country   string   `json:"country"`
	IPType    string   `json:"ip_type"`
	PriceHour string   `json:"price_hour"`
	PriceGiB  string   `json:"price_gib"`
	Hermes    []string `json:"hermes"`
	Seq       uint64   `json:"seq"`
	ExpiresAt int64    `json:"expires_at"` // unix milliseconds
}

// nodeWatch follows what a node's host reports of its reachability and NAT
// on the event bus (AutoNAT emits no other way) until Close.
type nodeWatch struct {
	node    *overlay.Node
	roles   []string
	started time.Time
	sub     event.Subscription
	wg      sync.WaitGroup

	mu           sync.Mutex // guards the fields below
	reachability network.Reachability
	nat          map[string]string
}

// watchNode starts following node for GET /v1/status.
func watchNode(node *overlay.Node, roles ...string) (*nodeWatch, error) {
	w := &nodeWatch{node: node, roles: roles, started: time.Now(), nat: map[string]string{}}
	sub, err := node.Host().EventBus().Subscribe([]any{new(event.EvtLocalReachabilityChanged), new(event.EvtNATDeviceTypeChanged)})
	if err != nil {
		return nil, err
	}
	w.sub = sub
	w.wg.Go(func() {
		for e := range sub.Out() {
			w.mu.Lock()
			switch e := e.(type) {
			case event.EvtLocalReachabilityChanged:
				w.reachability = e.Reachability
			case event.EvtNATDeviceTypeChanged:
				w.nat[natProto(e.TransportProtocol)] = natKind(e.NatDeviceType)
			}
			w.mu.Unlock()
		}
	})
	return w, nil
}

// Close stops following and waits.
func (w *nodeWatch) Close() error {
	err := w.sub.Close()
	w.wg.Wait()
	return err
}

func natProto(p network.NATTransportProtocol) string {
	if p == network.NATTransportUDP {
		return "udp"
	}
	return "tcp"
}

func natKind(t network.NATDeviceType) string {
	switch t {
	case network.NATDeviceTypeEndpointIndependent:
		return "endpoint-independent"
	case network.NATDeviceTypeEndpointDependent:
		return "endpoint-dependent"
	}
	return "unknown"
}

// status is the node's status now.
func (w *nodeWatch) status() NodeStatus {
	h := w.node.Host()
	st := NodeStatus{PeerID: w.node.ID().String(), Roles: w.roles, Peers: len(h.Network().Peers()),
		Relays: []string{}, Addrs: []string{}, Transports: []string{}, Started: w.started,
		UptimeSeconds: int64(time.Since(w.started).Seconds())}
	w.mu.Lock()
	st.Reachability = strings.ToLower(w.reachability.String())
	st.NAT = make(map[string]string, len(w.nat))
	for k, v := range w.nat {
		st.NAT[k] = v
	}
	w.mu.Unlock()
	for _, a := range h.Addrs() {
		st.Addrs = append(st.Addrs, a.String())
		if t := transportOf(a); !slices.Contains(st.Transports, t) {
			st.Transports = append(st.Transports, t)
		}
		if relay, ok := relayOf(a); ok && !slices.Contains(st.Relays, relay.String()) {
			st.Relays = append(st.Relays, relay.String())
		}
	}
	if sp := w.node.CurrentProposal(); sp != nil {
		p := sp.Proposal
		st.Proposal = &ProposalStatus{Country: p.Country, IPType: p.IPType, PriceHour: p.PriceHour, PriceGiB: p.PriceGiB,
			Hermes: slices.Clone(p.Hermes), Seq: p.Seq, ExpiresAt: p.ExpiresAt}
		if st.Proposal.Hermes == nil {
			st.Proposal.Hermes = []string{}
		}
	}
	st.Version, st.Commit, st.Go = buildVersion()
	return st
}

// transportOf names the transport a host address is reached over.
func transportOf(a ma.Multiaddr) string {
	has := func(code int) bool { _, err := a.ValueForProtocol(code); return err == nil }
	switch {
	case has(ma.P_CIRCUIT):
		return "relay"
	case has(ma.P_WEBTRANSPORT):
		return "webtransport"
	case has(ma.P_WEBRTC_DIRECT):
		return "webrtc-direct"
	case has(ma.P_QUIC_V1):
		return "quic-v1"
	case has(ma.P_WSS) || (has(ma.P_WS) && has(ma.P_TLS)):
		return "wss"
	case has(ma.P_WS):
		return "ws"
	case has(ma.P_TCP):
		return "tcp"
	}
	return "other"
}

// relayOf is the relay a circuit address goes through.
func relayOf(a ma.Multiaddr) (peer.ID, bool) {
	relay, _ := ma.SplitFunc(a, func(c ma.Component) bool { return c.Protocol().Code == ma.P_CIRCUIT })
	if relay == nil || len(relay) == len(a) {
		return "", false
	}
	v, err := relay.ValueForProtocol(ma.P_P2P)
	if err != nil {
		return "", false
	}
	id, err := peer.Decode(v)
	return id, err == nil
}

// buildVersion is the binary's module version, VCS revision and Go version.
func buildVersion() (version, commit, goVersion string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev", "", ""
	}
	version = info.Main.Version
	if version == "" || version == "(devel)" {
		version = "dev"
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			commit = s.Value
		}
	}
	return version, commit, info.GoVersion
}
