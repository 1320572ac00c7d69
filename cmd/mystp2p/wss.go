package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
)

// wssFlag collects --wss addresses and refuses any that is not WebSocket
// over TLS.
type wssFlag []string

func (w *wssFlag) String() string { return strings.Join(*w, ",") }
func (w *wssFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		a, err := ma.NewMultiaddr(v)
		if err != nil {
			return fmt.Errorf("%q: %w", v, err)
		}
		if !overlay.IsWSS(a) {
			return fmt.Errorf("%q is not a WebSocket-over-TLS address; want one like /ip4/0.0.0.0/tcp/443/tls/ws", v)
		}
		*w = append(*w, v)
	}
	return nil
}

func (f *netFlags) registerWSS(fs *flag.FlagSet) {
	fs.Var(&f.wss, "wss", "also listen for libp2p over WebSocket inside TLS, which looks like HTTPS, e.g. /ip4/0.0.0.0/tcp/443/tls/ws (repeatable; ports below 1024 need root or CAP_NET_BIND_SERVICE)")
	fs.StringVar(&f.wssCert, "wss-cert", "", "PEM certificate (chain) for --wss (default: a self-signed certificate made at start)")
	fs.StringVar(&f.wssKey, "wss-key", "", "PEM private key for --wss-cert")
	f.gate.fs = fs
	fs.BoolVar(&f.gate.on, "bridge-gate", false, "run as a bridge: serve --wss only to dialers holding this node's bridge secret (the line \"mystp2p bridge --secret\" prints), show everyone else a web page, and listen on nothing else unless --listen is given")
}

// gateFlag is --bridge-gate. The secret lives in the data directory, which
// another flag of the same set names.
type gateFlag struct {
	on bool
	fs *flag.FlagSet
}

// secret loads (or makes) the bridge secret in --data-dir.
func (g gateFlag) secret() ([]byte, error) {
	f := g.fs.Lookup("data-dir")
	if f == nil {
		return nil, exitUsage{fmt.Errorf("--bridge-gate needs a --data-dir to keep the bridge secret in")}
	}
	return role.BridgeSecret(f.Value.String())
}

// hostConfig is the libp2p host the network flags describe: listen
// addresses, WSS listeners and their certificate, static relays and the
// metrics registry (nil: off).
func (f *netFlags) hostConfig(id *identity.Identity, relays []peer.AddrInfo, reg prometheus.Registerer) (overlay.HostConfig, error) {
	if (f.wssCert == "") != (f.wssKey == "") {
		return overlay.HostConfig{}, exitUsage{fmt.Errorf("--wss-cert and --wss-key go together")}
	}
	if f.wssCert != "" && len(f.wss) == 0 && !f.listensWSS() {
		return overlay.HostConfig{}, exitUsage{fmt.Errorf("--wss-cert and --wss-key need a --wss address")}
	}
	hc := overlay.HostConfig{
		Identity:     id,
		Listen:       f.listen,
		StaticRelays: relays,
		Metrics:      reg,
		WSS:          f.wss,
		WSSCertFile:  f.wssCert,
		WSSKeyFile:   f.wssKey,
	}
	if f.gate.on {
		if len(f.wss) == 0 && !f.listensWSS() {
			return overlay.HostConfig{}, exitUsage{fmt.Errorf("--bridge-gate needs a --wss address to serve, such as /ip4/0.0.0.0/tcp/443/tls/ws")}
		}
		secret, err := f.gate.secret()
		if err != nil {
			return overlay.HostConfig{}, err
		}
		hc.BridgeSecret = secret
		// AutoNAT's probes hold no secret, so they would find a bridge
		// unreachable; it is public by construction, and so answers
		// discovery (a DHT server) for those who join through it.
		hc.Reachability = overlay.ReachabilityPublic
	}
	return hc, nil
}

// listensWSS reports whether a --listen address is WebSocket over TLS.
func (f *netFlags) listensWSS() bool {
	for _, s := range f.listen {
		if a, err := ma.NewMultiaddr(s); err == nil && overlay.IsWSS(a) {
			return true
		}
	}
	return false
}
