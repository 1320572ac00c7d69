package testnet

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/quic-go/quic-go"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/bridge"
	"github.com/mystp2p/mystp2p/overlay/bridge/gate"
	"github.com/mystp2p/mystp2p/overlay/peercache"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/relay"
	"github.com/mystp2p/mystp2p/tunnel"
)

// Censor lab child roles (`mystp2p testnet censor-node CONFIG`).
const (
	censorRoleProvider = "provider"
	censorRoleConsumer = "consumer"
	censorRoleProber   = "prober"
	censorRoleFilter   = "quic-filter"
	censorRoleCapture  = "capture"
)

// CensorChildCommand is the subcommand of `mystp2p testnet` that runs one
// node of the censor lab; its one argument is a JSON CensorChildConfig. It is
// an interface between two copies of this program, not for users.
const CensorChildCommand = "censor-node"

// CensorChildConfig describes one process of the censor lab.
type CensorChildConfig struct {
	Role      string         `json:"role"`
	LabRanges []netip.Prefix `json:"lab_ranges"`
	// Bootstrap is the published bootstrap list (the relay).
	Bootstrap []string `json:"bootstrap,omitempty"`
	// Bridge is the bridge line handed to the censored consumer out of band.
	Bridge string `json:"bridge,omitempty"`
	// BridgeSecret makes a provider the lab's bridge: it listens only on
	// WSS port 443, behind a gate that wants this secret.
	BridgeSecret []byte `json:"bridge_secret,omitempty"`
	// Consumer: the origin, how much to fetch and how many offers exist.
	Origin     string `json:"origin,omitempty"`
	FetchBytes int64  `json:"fetch_bytes,omitempty"`
	Offers     int    `json:"offers,omitempty"`
	// ResultFile is where the consumer writes its censorSession and the
	// prober its probes (JSON), before the "result" event.
	ResultFile string `json:"result_file,omitempty"`
	// CompareDirect has the consumer, after its download, download the
	// same through another provider than the bridge, for the report.
	CompareDirect bool `json:"compare_direct,omitempty"`
	// PeerCache is the consumer's peer cache file (its data directory's).
	PeerCache string `json:"peer_cache,omitempty"`
	// CaptureFile is where the prober finds the capture's first payloads.
	CaptureFile string `json:"capture_file,omitempty"`
	Debug       bool   `json:"debug,omitempty"`
}

// censorSession is what the censored consumer measured.
type censorSession struct {
	JoinMS     float64 `json:"join_ms"`
	DiscoverMS float64 `json:"discover_ms"`
	SessionMS  float64 `json:"session_ms"`
	// ReadyMS is from the start of joining to SOCKS5 listening: what a user
	// of `mystp2p connect` waits.
	ReadyMS    float64 `json:"ready_ms"`
	Discovered int     `json:"discovered"`
	Provider   string  `json:"provider,omitempty"`
	Path       string  `json:"path,omitempty"`
	Transport  string  `json:"transport,omitempty"`
	Obfuscated bool    `json:"obfuscated"`
	ExitAddr   string  `json:"exit_addr,omitempty"`
	Bytes      int64   `json:"bytes"`
	Intact     bool    `json:"intact"`
	// DownloadMbps is the download's throughput; DirectPath, DirectMbps
	// and DirectError the comparison download (CompareDirect).
	DownloadMbps float64 `json:"download_mbps"`
	DirectPath   string  `json:"direct_path,omitempty"`
	DirectMbps   float64 `json:"direct_mbps,omitempty"`
	DirectError  string  `json:"direct_error,omitempty"`
	Stage        string  `json:"stage"`
	Error        string  `json:"error,omitempty"`
}

// ProbeResult is one active probe of the censor's prober.
type ProbeResult struct {
	Target   string `json:"target"` // proto:addr:port
	Probe    string `json:"probe"`  // multistream, wss-multistream, wireguard, quic-libp2p, replay
	Answered bool   `json:"answered"`
	Detail   string `json:"detail,omitempty"`
}

// RunCensorChild runs one censor lab process until ctx ends (provider,
// prober) or its session is measured (consumer).
func RunCensorChild(ctx context.Context, arg string, out io.Writer) error {
	var cfg CensorChildConfig
	if err := json.Unmarshal([]byte(arg), &cfg); err != nil {
		return fmt.Errorf("censor node config: %w", err)
	}
	trustLabRanges(cfg.LabRanges)
	var mu sync.Mutex
	emit := func(ev childEvent) error {
		b, _ := json.Marshal(ev)
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(out, "%s\n", b)
		return err
	}
	switch cfg.Role {
	case censorRoleProber:
		return runProber(ctx, cfg, emit)
	case censorRoleFilter:
		return runQUICFilter(ctx, emit)
	case censorRoleCapture:
		return runCapture(ctx, cfg, emit)
	}
	level := slog.LevelWarn
	if cfg.Debug {
		level = slog.LevelDebug
	}
	id, err := identity.Generate()
	if err != nil {
		return err
	}
	oc := overlay.Config{
		Host: overlay.HostConfig{Identity: id,
			Listen: []string{fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", LabPort)}},
		ProposalTTL: 30 * time.Second, RecordTTL: 2 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	switch cfg.Role {
	case censorRoleProvider:
		boot, err := relay.ParsePeers(cfg.Bootstrap)
		if err != nil {
			return err
		}
		oc.Bootstrap = boot
		oc.Host.Reachability = overlay.ReachabilityPublic
		oc.Host.Listen = append(oc.Host.Listen, fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", LabPort))
		// Providers also look like the web: libp2p over WebSocket inside
		// TLS on port 443, as `provide --wss` offers it.
		oc.Host.WSS = []string{"/ip4/0.0.0.0/tcp/443/tls/ws"}
		if cfg.BridgeSecret != nil {
			// The bridge, as `provide --bridge-gate` runs it: nothing but
			// the gate on 443, which shows a prober a web page.
			oc.Host.Listen, oc.Host.BridgeSecret = nil, cfg.BridgeSecret
		}
		// A public provider answers discovery, so a bridge line naming it
		// is enough to join.
		oc.DHTServer = true
	case censorRoleConsumer:
		return runCensorConsumer(ctx, cfg, oc, emit)
	case failoverRoleConsumer:
		return runFailoverConsumer(ctx, cfg, oc, emit)
	default:
		return fmt.Errorf("unknown censor lab role %q", cfg.Role)
	}
	node, err := overlay.New(ctx, oc)
	if err != nil {
		return err
	}
	defer node.Close()
	if _, err := node.Advertise(ctx, overlay.Offer{Country: "DE", IPType: overlay.IPResidential,
		PriceHour: "10000000000000000", PriceGiB: "100000000000000000"}); err != nil {
		return err
	}
	policy, err := tunnel.NewExitPolicy(tunnel.WithAllowPrivate())
	if err != nil {
		return err
	}
	if _, err := server.New(server.Config{Node: node, MaxSessions: 64, Policy: policy, StreamOnly: cfg.BridgeSecret != nil,
		Logger: node.Logger()}); err != nil {
		return err
	}
	if err := emit(childEvent{Event: "ready", ID: node.ID().String(), Addrs: addrStrings(node)}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// Consumer time budgets: a censored consumer that has not joined,
// discovered or connected by then has failed.
const (
	censorJoinTimeout     = 20 * time.Second
	censorDiscoverTimeout = 5 * time.Second
	censorConnectTimeout  = 20 * time.Second
)

// runCensorConsumer joins through the bootstrap list and the bridge line,
// discovers offers, connects to the bridge's offer (or the first found),
// reports "ready" once SOCKS5 listens, waits for "go" on standard input
// (the parent reads the censor's counters meanwhile) and fetches.
func runCensorConsumer(ctx context.Context, cfg CensorChildConfig, oc overlay.Config, emit func(childEvent) error) error {
	var r censorSession
	report := func(err error) error {
		if err != nil {
			r.Error = err.Error()
		}
		b, _ := json.Marshal(r)
		if werr := os.WriteFile(cfg.ResultFile, b, 0o600); werr != nil {
			return werr
		}
		return emit(childEvent{Event: "result"})
	}
	var line bridge.Line
	if cfg.Bridge != "" {
		var err error
		if line, err = bridge.Parse(cfg.Bridge); err != nil {
			return report(fmt.Errorf("bridge line: %w", err))
		}
	}
	boot, err := relay.ParsePeers(cfg.Bootstrap)
	if err != nil {
		return report(err)
	}
	// What `connect --bridge` does: the bridge first, then the list; the
	// line's secret, then the peer cache's.
	oc.Bootstrap = boot
	if line.Peer != "" {
		oc.Bootstrap = append([]peer.AddrInfo{line.AddrInfo()}, boot...)
	}
	if line.Secret != nil {
		oc.Host.BridgeSecrets = [][]byte{line.Secret}
	}
	if cfg.PeerCache != "" {
		cache, err := peercache.Open(cfg.PeerCache)
		if err != nil {
			return report(err)
		}
		defer cache.Close()
		if line.Secret != nil {
			cache.SetBridgeSecret(line.AddrInfo(), line.Secret, time.Now())
		}
		oc.Host.BridgeSecrets = cache.WithBridgeSecrets(oc.Host.BridgeSecrets, gate.MaxSecrets)
		oc.PeerCache = cache
	}
	oc.Host.Reachability = overlay.ReachabilityPrivate
	start := time.Now()
	r.Stage = "join"
	jctx, cancel := context.WithTimeout(ctx, censorJoinTimeout)
	node, err := overlay.New(jctx, oc)
	cancel()
	if err != nil {
		return report(err)
	}
	defer node.Close()
	r.JoinMS = ms(time.Since(start))

	r.Stage = "discover"
	dstart := time.Now()
	found := map[peer.ID]*overlay.SignedProposal{}
	for time.Since(dstart) < censorDiscoverTimeout && len(found) < cfg.Offers && ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		ps, _ := node.Discover(dctx, overlay.Query{})
		cancel()
		for _, p := range ps {
			found[p.Proposal.Provider] = p
		}
		if len(found) < cfg.Offers {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
	r.Discovered = len(found)
	r.DiscoverMS = ms(time.Since(dstart))
	sp := found[line.Peer]
	if sp == nil && oc.PeerCache != nil {
		// No line: a bridge the cache remembers, as the peer known to
		// stand up to probing.
		for id, p := range found {
			if e, ok := oc.PeerCache.Get(id); ok && e.BridgeSecret != nil {
				sp = p
				break
			}
		}
	}
	if sp == nil {
		for _, p := range found {
			sp = p
			break
		}
	}
	if sp == nil {
		return report(errors.New("no offer discovered"))
	}
	r.Provider = sp.Proposal.Provider.String()

	r.Stage = "connect"
	sstart := time.Now()
	cctx, cancel := context.WithTimeout(ctx, censorConnectTimeout)
	s, err := client.Connect(cctx, node, client.Config{Proposal: sp})
	cancel()
	if err != nil {
		return report(err)
	}
	defer s.Close()
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		return report(err)
	}
	defer socks.Close()
	r.SessionMS = ms(time.Since(sstart))
	r.ReadyMS = ms(time.Since(start))
	r.Path, r.Transport, r.Obfuscated = string(s.Path()), string(s.Transport()), s.Obfuscated()
	if err := emit(childEvent{Event: "ready", ID: node.ID().String()}); err != nil {
		return err
	}
	r.Stage = "wait"
	goc := make(chan error, 1)
	go func() {
		l, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err == nil && strings.TrimSpace(l) != "go" {
			err = fmt.Errorf("parent said %q, not go", l)
		}
		goc <- err
	}()
	select {
	case err := <-goc:
		if err != nil {
			return report(err)
		}
	case <-ctx.Done():
		return report(ctx.Err())
	}

	r.Stage = "fetch"
	socksFetch := func(url string, w io.Writer) (int64, error) {
		return FetchThroughSOCKS(ctx, socks.Addr().String(), url, w)
	}
	var hello strings.Builder
	if _, err := socksFetch(cfg.Origin, &hello); err != nil {
		return report(err)
	}
	if _, after, ok := strings.Cut(hello.String(), "you came from "); ok {
		if ap, err := netip.ParseAddrPort(strings.TrimSpace(after)); err == nil {
			r.ExitAddr = ap.Addr().String()
		}
	}
	h := sha256.New()
	fstart := time.Now()
	r.Bytes, err = socksFetch(fmt.Sprintf("%sbytes/%d", cfg.Origin, cfg.FetchBytes), h)
	if err != nil {
		return report(err)
	}
	r.DownloadMbps = mbps(r.Bytes, time.Since(fstart))
	// The origin serves zeros.
	want := sha256.New()
	_, _ = io.CopyN(want, zeroReader{}, cfg.FetchBytes)
	r.Intact = r.Bytes == cfg.FetchBytes && hex.EncodeToString(h.Sum(nil)) == hex.EncodeToString(want.Sum(nil))
	r.Stage = "done"
	if !r.Intact {
		return report(fmt.Errorf("fetched %d bytes, want %d intact", r.Bytes, cfg.FetchBytes))
	}
	if cfg.CompareDirect {
		r.DirectPath, r.DirectMbps, err = directDownload(ctx, node, found, sp, cfg)
		if err != nil {
			r.DirectError = err.Error()
		}
	}
	return report(nil)
}

// directDownload measures the same download through another provider
// than the bridge, on the path Connect picks (with no censor, a direct
// UDP one), for the report's side-by-side throughput.
func directDownload(ctx context.Context, node *overlay.Node, found map[peer.ID]*overlay.SignedProposal, bridgeOffer *overlay.SignedProposal,
	cfg CensorChildConfig) (string, float64, error) {
	var other *overlay.SignedProposal
	for id, p := range found {
		if id != bridgeOffer.Proposal.Provider {
			other = p
			break
		}
	}
	if other == nil {
		return "", 0, errors.New("no provider but the bridge to compare with")
	}
	cctx, cancel := context.WithTimeout(ctx, censorConnectTimeout)
	s, err := client.Connect(cctx, node, client.Config{Proposal: other})
	cancel()
	if err != nil {
		return "", 0, err
	}
	defer s.Close()
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		return "", 0, err
	}
	defer socks.Close()
	path := string(s.Path()) + "/" + string(s.Transport())
	start := time.Now()
	n, err := FetchThroughSOCKS(ctx, socks.Addr().String(), fmt.Sprintf("%sbytes/%d", cfg.Origin, cfg.FetchBytes), io.Discard)
	if err != nil {
		return path, 0, err
	}
	if n != cfg.FetchBytes {
		return path, 0, fmt.Errorf("direct download: %d of %d bytes", n, cfg.FetchBytes)
	}
	return path, mbps(n, time.Since(start)), nil
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Prober timing.
const (
	probeInterval = 200 * time.Millisecond
	probeTimeout  = 2 * time.Second
)

// runProber is the censor's active prober, in the censor's namespace: it
// reads the flows the region started (the nft sets seen_tcp and seen_udp),
// probes each new destination the way a censor would, and adds every
// address that answers like a libp2p/mystp2p node to the set blocked.
func runProber(ctx context.Context, cfg CensorChildConfig, emit func(childEvent) error) error {
	var mu sync.Mutex
	var probes []ProbeResult
	record := func(p ProbeResult) {
		mu.Lock()
		defer mu.Unlock()
		probes = append(probes, p)
		b, _ := json.Marshal(probes)
		_ = os.WriteFile(cfg.ResultFile, b, 0o600)
	}
	record(ProbeResult{Target: "-", Probe: "start"})
	if err := emit(childEvent{Event: "ready"}); err != nil {
		return err
	}
	seen := map[string]bool{}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		for _, proto := range []string{"tcp", "udp"} {
			targets, err := nftSetElems(ctx, "seen_"+proto)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			for _, target := range targets {
				key := proto + ":" + target
				if seen[key] {
					continue
				}
				seen[key] = true
				wg.Go(func() {
					for _, p := range probeTarget(ctx, proto, target, cfg.CaptureFile) {
						record(p)
						if p.Answered {
							host, _, _ := net.SplitHostPort(target)
							_ = exec.CommandContext(ctx, "nft", "add", "element", "ip", censorTable, "blocked", "{", host, "}").Run()
						}
					}
				})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// nftSetElems lists a censor set of ipv4_addr . inet_service as host:port.
func nftSetElems(ctx context.Context, set string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "nft", "-j", "list", "set", "ip", censorTable, set).Output()
	if err != nil {
		return nil, fmt.Errorf("nft list set %s: %w", set, err)
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	var targets []string
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		for _, raw := range o.Set.Elem {
			// {"concat": [...]} or, in dynamic sets, {"elem": {"val": {"concat": [...]}}}.
			var e struct {
				Concat []json.RawMessage `json:"concat"`
				Elem   struct {
					Val struct {
						Concat []json.RawMessage `json:"concat"`
					} `json:"val"`
				} `json:"elem"`
			}
			if json.Unmarshal(raw, &e) != nil {
				continue
			}
			c := e.Concat
			if c == nil {
				c = e.Elem.Val.Concat
			}
			if len(c) != 2 {
				continue
			}
			var addr string
			var port int
			if json.Unmarshal(c[0], &addr) != nil || json.Unmarshal(c[1], &port) != nil {
				continue
			}
			targets = append(targets, net.JoinHostPort(addr, fmt.Sprint(port)))
		}
	}
	return targets, nil
}

// probeTarget speaks to one destination as a censor would: libp2p
// multistream over TCP; a WireGuard-shaped handshake initiation and a QUIC
// handshake offering ALPN "libp2p" over UDP.
func probeTarget(ctx context.Context, proto, target, captureFile string) []ProbeResult {
	id := proto + ":" + target
	var out []ProbeResult
	if proto == "tcp" {
		p := ProbeResult{Target: id, Probe: "multistream"}
		p.Answered, p.Detail = probeMultistream(ctx, target)
		w := ProbeResult{Target: id, Probe: "wss-multistream"}
		w.Answered, w.Detail = probeWSS(ctx, target)
		out = append(out, p, w)
	} else {
		wg := ProbeResult{Target: id, Probe: "wireguard"}
		wg.Answered, wg.Detail = probeWireGuard(target)
		q := ProbeResult{Target: id, Probe: "quic-libp2p"}
		q.Answered, q.Detail = probeQUIC(ctx, target)
		out = append(out, wg, q)
	}
	if captureFile != "" {
		r := ProbeResult{Target: id, Probe: "replay"}
		if payload := readCapture(ctx, captureFile, id, probeTimeout); payload != nil {
			r.Answered, r.Detail = probeReplay(ctx, proto, target, payload)
		} else {
			r.Detail = "nothing captured to replay"
		}
		out = append(out, r)
	}
	return out
}

const multistreamHeader = "\x13/multistream/1.0.0\n"

func probeMultistream(ctx context.Context, target string) (bool, string) {
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := io.WriteString(c, multistreamHeader); err != nil {
		return false, err.Error()
	}
	buf := make([]byte, len(multistreamHeader))
	if _, err := io.ReadFull(c, buf); err != nil {
		return false, err.Error()
	}
	if string(buf) == multistreamHeader {
		return true, "answered /multistream/1.0.0"
	}
	return false, fmt.Sprintf("answered %q", buf)
}

// probeWSS speaks TLS to target, asks for a WebSocket upgrade as libp2p's
// WebSocket transport does, and sends multistream's header inside: a
// libp2p WSS listener echoes it, a web server refuses the upgrade.
func probeWSS(ctx context.Context, target string) (bool, string) {
	d := websocket.Dialer{
		TLSClientConfig:  &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}, //nolint:gosec // a probe, it checks no identity
		HandshakeTimeout: probeTimeout,
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, resp, err := d.DialContext(ctx, "wss://"+target+"/", nil)
	if err != nil {
		if resp != nil {
			return false, fmt.Sprintf("no WebSocket: HTTP %s", resp.Status)
		}
		return false, err.Error()
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(probeTimeout))
	if err := c.WriteMessage(websocket.BinaryMessage, []byte(multistreamHeader)); err != nil {
		return false, "WebSocket upgraded, then " + err.Error()
	}
	_, msg, err := c.ReadMessage()
	if err != nil {
		return false, "WebSocket upgraded, then " + err.Error()
	}
	if strings.HasPrefix(string(msg), multistreamHeader) {
		return true, "answered /multistream/1.0.0 inside TLS and WebSocket"
	}
	return false, fmt.Sprintf("WebSocket upgraded, answered %q", msg)
}

// probeWireGuard sends a 148-byte message shaped like a WireGuard handshake
// initiation. Without the responder's public key its MAC1 is wrong, so a
// real WireGuard peer stays silent; the censor has no captured initiation to
// replay (nftables copies no payloads out), so this is the best it can do.
func probeWireGuard(target string) (bool, string) {
	c, err := net.DialTimeout("udp", target, probeTimeout)
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	msg := make([]byte, 148)
	_, _ = rand.Read(msg[4:])
	msg[0] = 1
	if _, err := c.Write(msg); err != nil {
		return false, err.Error()
	}
	_ = c.SetReadDeadline(time.Now().Add(probeTimeout))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return false, "no answer"
	}
	return true, fmt.Sprintf("answered %d bytes", n)
}

// probeQUIC starts a QUIC handshake offering ALPN "libp2p". A server that
// completes it, or that answers with a TLS alert other than
// no_application_protocol (libp2p servers refuse a client without a
// certificate), speaks QUIC for libp2p.
func probeQUIC(ctx context.Context, target string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	conn, err := quic.DialAddr(ctx, target, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"libp2p"}}, //nolint:gosec // a probe, it checks no identity
		&quic.Config{HandshakeIdleTimeout: probeTimeout})
	if err == nil {
		_ = conn.CloseWithError(0, "")
		return true, "QUIC handshake with ALPN libp2p completed"
	}
	var te *quic.TransportError
	if errors.As(err, &te) && te.Remote {
		if te.ErrorCode == quic.TransportErrorCode(0x100+120) {
			return false, "QUIC server without ALPN libp2p"
		}
		return true, "QUIC server accepted ALPN libp2p: " + te.Error()
	}
	return false, err.Error()
}
