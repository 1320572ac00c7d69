package overlay

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/bridge/gate"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// Reachability overrides what AutoNAT would find out.
type Reachability string

// Reachability values.
const (
	ReachabilityAuto    Reachability = ""
	ReachabilityPublic  Reachability = "public"
	ReachabilityPrivate Reachability = "private"
)

// DefaultListen are the addresses a node listens on when none are given:
// TCP and QUIC on every IPv4 and every IPv6 interface, random ports. The IPv4
// QUIC address comes first, so muxFor takes it for the UDP mux (muxFor
// drops the other QUIC addresses, so a Node has IPv6 over TCP only for now).
// A host without IPv6 still starts: libp2p fails only when no address at
// all can be bound, and logs a warning for each one that cannot.
var DefaultListen = []string{
	"/ip4/0.0.0.0/tcp/0",
	"/ip4/0.0.0.0/udp/0/quic-v1",
	"/ip6/::/tcp/0",
	"/ip6/::/udp/0/quic-v1",
}

// HostConfig describes the libp2p host under a node.
type HostConfig struct {
	Identity *identity.Identity
	Listen   []string
	// StaticRelays are relays to reserve a slot with when behind NAT; with
	// them autorelay starts at once instead of waiting minutes for candidates.
	StaticRelays []peer.AddrInfo
	// RelayService makes this host a circuit relay v2 for others, with these
	// limits (nil: not a relay).
	RelayService *relay.Limits
	Reachability Reachability
	// ConnLow and ConnHigh are the connection manager watermarks.
	ConnLow, ConnHigh int
	// Metrics registers libp2p's metrics; nil disables them.
	Metrics prometheus.Registerer
	// UDPMux, when set, is the one UDP socket for QUIC and WireGuard: the
	// host's QUIC listens and dials on it, so a session's WireGuard packets
	// take the very 5-tuple a hole punch opened. Listen must then hold no
	// QUIC address of its own.
	UDPMux *wgpath.Mux

	// WSS are WebSocket-over-TLS listen addresses such as
	// /ip4/0.0.0.0/tcp/443/tls/ws (or …/wss), added to Listen (or to
	// DefaultListen when Listen is empty). To an observer such a listener is
	// an HTTPS server: libp2p's multistream, Noise and yamux all run inside
	// the TLS session, and plain HTTPS requests that are not WebSocket
	// upgrades get an ordinary web page (WSSHandler). Unlike the other
	// listen addresses, each WSS address must bind, or NewHost fails: the
	// operator asked for it. Ports below 1024 need root or
	// CAP_NET_BIND_SERVICE. A /tls/ws address in Listen is treated the same.
	// Write /tls/sni/<name>/ws to advertise a name dialers put in their TLS
	// server name indication.
	WSS []string
	// WSSCertFile and WSSKeyFile are a PEM certificate (chain) and key for
	// the WSS listeners, for operators with a real certificate. Both or
	// neither; without them NewHost makes a self-signed ECDSA P-256
	// certificate for WSSName at every start. A self-signed certificate
	// keeps the protocol hidden from a passive observer, but an active prober
	// can tell it from a public site's.
	WSSCertFile, WSSKeyFile string
	// WSSName is the DNS name in the self-signed certificate. Empty: a
	// random www.<letters>.com name.
	WSSName string
	// WSSHandler answers HTTP requests on the WSS listeners that are not
	// WebSocket upgrades. Nil: a bland static page (DefaultWSSHandler).
	WSSHandler http.Handler

	// BridgeSecret makes this host a bridge (see package gate): each WSS
	// address is served by a gate that passes a dialer on to libp2p only
	// when it proves this secret (from the node's bridge line), and shows
	// everyone else WSSHandler's page, whatever they send. libp2p itself
	// then listens on a loopback WebSocket address that is never
	// advertised. A bridge needs at least one WSS address, and with
	// BridgeSecret set an empty Listen means no other listener rather than
	// DefaultListen: a TCP or QUIC listener would answer a prober as
	// libp2p.
	BridgeSecret []byte
	// BridgeSecrets are the secrets of the bridge lines this host dials
	// through; its WSS dials prove them to bridges that ask (see package
	// gate).
	BridgeSecrets [][]byte
}

// NewHost assembles the libp2p host: TCP, QUIC and WebSocket (plain and over
// TLS; see HostConfig.WSS), Noise and TLS, the
// resource manager (on, with go-libp2p's scaled defaults), a connection
// manager, AutoNAT v2, the relay client, hole punching (QUIC only: WireGuard
// rides the punched QUIC 5-tuple, and punching TCP at the same time made
// NAT-lab runs fail), and optionally a relay service with its own limits.
func NewHost(cfg HostConfig) (host.Host, error) {
	if cfg.Identity == nil {
		return nil, fmt.Errorf("overlay: HostConfig.Identity is required")
	}
	listen := cfg.Listen
	if len(listen) == 0 && cfg.BridgeSecret == nil {
		listen = DefaultListen
	}
	listen, wss, err := splitWSS(append(slices.Clone(listen), cfg.WSS...))
	if err != nil {
		return nil, err
	}
	var gates *gateSet
	if cfg.BridgeSecret != nil {
		if len(wss) == 0 {
			return nil, errors.New("overlay: a bridge needs a WSS address to listen on (such as /ip4/0.0.0.0/tcp/443/tls/ws)")
		}
		// libp2p listens on a plain loopback WebSocket behind the gates.
		gates, wss = &gateSet{addrs: wss}, nil
		listen = append(listen, gateUpstreamListen)
	}
	wsOpts, err := cfg.websocketOptions(len(wss) > 0)
	if err != nil {
		return nil, err
	}
	low, high := cfg.ConnLow, cfg.ConnHigh
	if low == 0 && high == 0 {
		low, high = 100, 400
	}
	if low < 0 || high < low {
		return nil, fmt.Errorf("overlay: connection watermarks low=%d high=%d: need 0 <= low <= high", low, high)
	}
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity.LibP2PKey()),
		libp2p.ListenAddrStrings(listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Transport(websocket.New, wsOpts...),
		libp2p.DefaultSecurity,
		libp2p.DefaultMuxers,
		libp2p.ConnectionManager(cm),
		libp2p.EnableAutoNATv2(),
		libp2p.EnableRelay(),
		libp2p.EnableHolePunching(holepunch.WithAddrFilter(quicOnly{})),
		libp2p.UserAgent("mystp2p/1"),
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	if len(cfg.StaticRelays) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(cfg.StaticRelays))
	}
	switch cfg.Reachability {
	case ReachabilityAuto:
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	default:
		return nil, fmt.Errorf("overlay: reachability %q (want public, private or empty)", cfg.Reachability)
	}
	if cfg.RelayService != nil {
		ropts, err := cfg.RelayService.ServiceOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, libp2p.EnableRelayService(ropts...), libp2p.EnableNATService())
	}
	if cfg.UDPMux != nil {
		opts = append(opts, cfg.UDPMux.Libp2pOptions())
	}
	if gates != nil {
		opts = append(opts, libp2p.AddrsFactory(gates.advertise))
	}
	rm, err := resourceManager(high)
	if err != nil {
		return nil, err
	}
	opts = append(opts, libp2p.ResourceManager(rm)) // libp2p closes it with the host, or on a failed start
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("start libp2p host: %w", err)
	}
	if gates != nil {
		if err := gates.start(h, &cfg); err != nil {
			h.Close()
			return nil, err
		}
		return &gatedHost{Host: h, gates: gates}, nil
	}
	// The WSS addresses are bound one by one after the start, so that a
	// failure is an error with its cause instead of a logged warning.
	for _, a := range wss {
		if err := listenOne(h, a); err != nil {
			h.Close()
			return nil, wssListenError(a, err)
		}
	}
	return h, nil
}

// splitWSS parses the listen addresses and separates the WebSocket-over-TLS
// ones.
func splitWSS(in []string) (rest []string, wss []ma.Multiaddr, err error) {
	for _, s := range in {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("overlay: listen address %q: %w", s, err)
		}
		if !IsWSS(a) {
			rest = append(rest, s)
			continue
		}
		wss = append(wss, a)
	}
	return rest, wss, nil
}

// IsWSS reports whether a is a WebSocket-over-TLS address (/tls/ws,
// /tls/sni/<name>/ws or /wss).
func IsWSS(a ma.Multiaddr) bool {
	var ws, tls bool
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_WSS:
			ws, tls = true, true
		case ma.P_WS:
			ws = true
		case ma.P_TLS:
			tls = true
		}
	}
	return ws && tls
}

// listenOne binds one address and returns the transport's own error.
func listenOne(h host.Host, a ma.Multiaddr) error {
	if s, ok := h.Network().(*swarm.Swarm); ok {
		return s.AddListenAddr(a)
	}
	return h.Network().Listen(a)
}

// wssListenError explains a WSS bind failure, naming the fix for a
// privileged port.
func wssListenError(a ma.Multiaddr, err error) error {
	if errors.Is(err, syscall.EACCES) {
		port, _ := a.ValueForProtocol(ma.P_TCP)
		return fmt.Errorf("listen on %s: %w: port %s is privileged; run as root, grant the binary CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep <binary>), or use a port above 1023 and redirect 443 to it", a, err, port)
	}
	return fmt.Errorf("listen on %s: %w", a, err)
}

// websocketOptions configures the WebSocket transport. Every host can dial
// /wss peers. The client does not verify the server's certificate chain:
// peers' certificates are mostly self-signed, and the libp2p security
// handshake inside the TLS session (Noise or libp2p TLS) authenticates the
// peer ID the dialer expects, so the outer TLS only hides the traffic. With
// listen (a WSS address to serve), it also loads or makes the certificate.
func (cfg *HostConfig) websocketOptions(listen bool) ([]any, error) {
	client := &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // the libp2p handshake inside authenticates the peer
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
	}
	if len(cfg.BridgeSecrets) > 0 {
		cert, err := gate.ClientCertificate(cfg.BridgeSecrets)
		if err != nil {
			return nil, fmt.Errorf("overlay: bridge secrets: %w", err)
		}
		client = gate.ClientConfig(client, cert)
	}
	opts := []any{websocket.WithTLSClientConfig(client)}
	if (cfg.WSSCertFile == "") != (cfg.WSSKeyFile == "") {
		return nil, errors.New("overlay: WSS certificate and key files go together: give both or neither")
	}
	if !listen {
		return opts, nil
	}
	cert, err := cfg.wssCertificate()
	if err != nil {
		return nil, err
	}
	return append(opts,
		websocket.WithTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		websocket.WithHTTPHandler(cfg.wssHandler()),
	), nil
}

// wssCertificate loads the WSS certificate or makes a self-signed one.
func (cfg *HostConfig) wssCertificate() (tls.Certificate, error) {
	if cfg.WSSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.WSSCertFile, cfg.WSSKeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("overlay: WSS certificate: %w", err)
		}
		return cert, nil
	}
	name := cfg.WSSName
	if name == "" {
		name = randomHostname()
	}
	return SelfSignedCert(name)
}

// wssHandler is WSSHandler or the default page.
func (cfg *HostConfig) wssHandler() http.Handler {
	if cfg.WSSHandler != nil {
		return cfg.WSSHandler
	}
	return DefaultWSSHandler()
}

// SelfSignedCert makes a TLS server certificate for name: ECDSA P-256,
// self-signed, valid from an hour ago for 90 days, as a typical automated
// certificate is.
func SelfSignedCert(name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("overlay: certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("overlay: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("overlay: self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// randomHostname is www.<8 to 12 letters>.com.
func randomHostname() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	n := 8 + mrand.IntN(5)
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[mrand.IntN(len(letters))]
	}
	return "www." + string(b) + ".com"
}

// defaultPage is what a browser sees at a WSS listener.
const defaultPage = `<!DOCTYPE html>
<html>
<head><title>Welcome</title></head>
<body>
<h1>It works!</h1>
<p>This server is up and running.</p>
</body>
</html>
`

// DefaultWSSHandler answers requests that are not WebSocket upgrades like a
// freshly installed web server: a short welcome page at /, 404 elsewhere,
// 405 for methods other than GET and HEAD.
func DefaultWSSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path != "/" && r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(defaultPage)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.WriteString(w, defaultPage)
	})
}

// quicOnly keeps hole punching to QUIC addresses.
type quicOnly struct{}

func (quicOnly) FilterLocal(_ peer.ID, maddrs []ma.Multiaddr) []ma.Multiaddr { return onlyQUIC(maddrs) }
func (quicOnly) FilterRemote(_ peer.ID, maddrs []ma.Multiaddr) []ma.Multiaddr {
	return onlyQUIC(maddrs)
}

func onlyQUIC(in []ma.Multiaddr) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range in {
		if _, err := a.ValueForProtocol(ma.P_QUIC_V1); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// resourceManager is libp2p's default resource manager (limits scaled to
// this machine's memory and file descriptors), except that the system
// scope admits at least a quarter more connections than the connection
// manager's high watermark, with file descriptors and streams to match.
// libp2p's defaults refuse inbound connections past 64 plus 64 per GiB
// of an eighth of the memory (256 on a 24 GiB machine): a relay with a
// high watermark of 4000 refused its 250th provider (CONNECTION_REFUSED)
// long before its connection manager would have trimmed anyone.
func resourceManager(high int) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	want := high + high/4
	base := &limits.SystemBaseLimit
	base.Conns = max(base.Conns, want)
	base.ConnsInbound = max(base.ConnsInbound, want)
	base.ConnsOutbound = max(base.ConnsOutbound, want)
	base.FD = max(base.FD, want)
	base.Streams = max(base.Streams, 4*want)
	base.StreamsInbound = max(base.StreamsInbound, 4*want)
	base.StreamsOutbound = max(base.StreamsOutbound, 4*want)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	return rm, nil
}
