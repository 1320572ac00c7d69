package testnet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// ScenarioSessions runs consumers' sessions through one provider.
const ScenarioSessions = "sessions"

// SessionResult is one consumer's session in a report.
type SessionResult struct {
	ConsumerNAT    string  `json:"consumer_nat"`
	ProviderNAT    string  `json:"provider_nat"`
	Path           string  `json:"path"`
	Transport      string  `json:"transport"`
	ConnectMS      float64 `json:"connect_ms"`
	Bytes          int64   `json:"bytes"`
	ThroughputMbps float64 `json:"throughput_mbps"`
	// RelayBytes is the WireGuard traffic the relay carried during the
	// measured download.
	RelayBytes int64 `json:"relay_bytes"`
	// DirectMS is when a relayed session was upgraded to direct, if it was.
	DirectMS float64 `json:"direct_ms,omitempty"`
	// ExitAddr is the address the origin saw the consumer come from.
	ExitAddr string `json:"exit_addr,omitempty"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
}

// FetchThroughSOCKS downloads url through a SOCKS5 proxy (names resolved by
// the proxy) into w and returns the bytes read.
func FetchThroughSOCKS(ctx context.Context, socks, target string, w io.Writer) (int64, error) {
	pu, err := url.Parse("socks5h://" + socks)
	if err != nil {
		return 0, err
	}
	return fetch(ctx, &http.Transport{Proxy: http.ProxyURL(pu)}, target, w)
}

// fetch GETs target over tr into w and returns the bytes read.
func fetch(ctx context.Context, tr *http.Transport, target string, w io.Writer) (int64, error) {
	tr.DisableKeepAlives = true
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("origin answered %s", resp.Status)
	}
	return io.Copy(w, resp.Body)
}

// RunSessions starts the network, has cfg.Consumers consumers open sessions
// with the cheapest provider at once, and fetches cfg.FetchBytes from the
// origin through each one's SOCKS5 port.
func RunSessions(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Providers == 0 {
		cfg.Providers = 3
	}
	if cfg.Consumers <= 0 {
		cfg.Consumers = 1
	}
	if cfg.FetchBytes == 0 {
		cfg.FetchBytes = 16 << 20
	}
	begin := time.Now()
	net, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer net.Close()
	rep := &Report{Scenario: ScenarioSessions, Nodes: Nodes{Providers: cfg.Providers, Consumers: cfg.Consumers, Relays: 1}}
	if found := discoverAll(ctx, net.Consumer, overlay.Query{}, cfg.Providers, 30*time.Second); found < cfg.Providers {
		rep.check("consumer sees every provider", false, "%d of %d", found, cfg.Providers)
	}
	ps := net.Consumer.Cached(overlay.Query{})
	if len(ps) == 0 {
		rep.check("a provider to connect to", false, "none found")
		rep.finish(begin)
		return rep, nil
	}
	target := ps[0]

	results := make([]SessionResult, cfg.Consumers)
	var wg sync.WaitGroup
	for i := range cfg.Consumers {
		wg.Go(func() { results[i] = net.runSession(ctx, target, cfg.FetchBytes) })
	}
	wg.Wait()
	rep.Sessions = results
	ok, direct := 0, 0
	for _, r := range results {
		if r.OK {
			ok++
		}
		if r.Path == string(wgpath.Direct) {
			direct++
		}
	}
	rep.check("every session fetched from the origin", ok == len(results), "%d of %d", ok, len(results))
	rep.check("every session direct", direct == len(results), "%d of %d", direct, len(results))
	rep.finish(begin)
	return rep, nil
}

// runSession is one consumer's whole session: its own node, a session with
// target, a SOCKS5 port, and a download.
func (n *Network) runSession(ctx context.Context, target *overlay.SignedProposal, size int64) (r SessionResult) {
	r = SessionResult{ConsumerNAT: "none", ProviderNAT: "none"}
	fail := func(err error) SessionResult {
		r.Error = err.Error()
		return r
	}
	node, err := n.newNode(ctx, "consumer", overlay.Config{Bootstrap: n.Bootstrap()})
	if err != nil {
		return fail(err)
	}
	defer node.Close()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := client.Connect(sctx, node, client.Config{Proposal: target})
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	r.Path, r.Transport, r.ConnectMS = string(s.Path()), string(s.Transport()), float64(s.ConnectTime.Microseconds())/1000
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	defer socks.Close()
	start := time.Now()
	got, err := FetchThroughSOCKS(sctx, socks.Addr().String(), fmt.Sprintf("%sbytes/%d", n.Origin.URL(), size), io.Discard)
	took := time.Since(start)
	r.Bytes = got
	if err != nil {
		return fail(err)
	}
	if got != size {
		return fail(fmt.Errorf("fetched %d bytes, want %d", got, size))
	}
	r.ThroughputMbps = mbps(got, took)
	r.RelayBytes = int64(s.RelayBytes())
	r.OK = true
	return r
}
