package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/dht"
	"github.com/mystp2p/mystp2p/overlay/bridge"
	"github.com/mystp2p/mystp2p/overlay/bridge/gate"
	"github.com/mystp2p/mystp2p/overlay/peercache"
	"github.com/mystp2p/mystp2p/overlay/role"
)

// PeerCacheFile is the peer cache's file name in the data directory.
const PeerCacheFile = "peers.json"

// bridgeFlag collects --bridge lines. Unlike listFlag it does not split on
// commas: a bridge line has them.
type bridgeFlag []string

func (b *bridgeFlag) String() string { return strings.Join(*b, " ") }
func (b *bridgeFlag) Set(s string) error {
	*b = append(*b, s)
	return nil
}

func (b *bridgeFlag) register(fs *flag.FlagSet) {
	fs.Var(b, "bridge", "a bridge line (mystp2p-bridge:1:…) from someone who runs a node, to join through when the bootstrap peers are blocked; tried first (repeatable; quote it)")
}

// peers parses the bridge lines, as usage errors shown as they are.
func (b bridgeFlag) peers() ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range b {
		l, err := bridge.Parse(s)
		if err != nil {
			return nil, exitUsage{fmt.Errorf("--bridge: %w", err)}
		}
		out = append(out, l.AddrInfo())
	}
	return out, nil
}

// secrets are the bridge lines' secrets, for the WSS dials to prove (see
// overlay.HostConfig.BridgeSecrets). Parse errors are peers' to report.
func (b bridgeFlag) secrets() [][]byte {
	var out [][]byte
	for _, s := range b {
		if l, err := bridge.Parse(s); err == nil && l.Secret != nil && len(out) < gate.MaxSecrets {
			out = append(out, l.Secret)
		}
	}
	return out
}

// remember records the bridge lines' secrets in cache (nil: none), so a
// later run reaches those bridges without the lines, and returns the
// secrets for this run's WSS dials: the lines' first, then the cache's.
func (b bridgeFlag) remember(cache *peercache.Cache) [][]byte {
	out := b.secrets()
	if cache == nil {
		return out
	}
	now := time.Now()
	for _, s := range b {
		if l, err := bridge.Parse(s); err == nil && l.Secret != nil {
			cache.SetBridgeSecret(l.AddrInfo(), l.Secret, now)
		}
	}
	return cache.WithBridgeSecrets(out, gate.MaxSecrets)
}

// withBridges puts the bridges first in the bootstrap list, each peer once.
func withBridges(bridges, bootstrap []peer.AddrInfo) []peer.AddrInfo {
	out := slices.Clone(bridges)
	for _, ai := range bootstrap {
		if !slices.ContainsFunc(out, func(b peer.AddrInfo) bool { return b.ID == ai.ID }) {
			out = append(out, ai)
		}
	}
	return out
}

// dataDirSet reports whether --data-dir was given on the command line.
func dataDirSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "data-dir" })
	return set
}

// openPeerCache opens dir's peer cache. A file that could not be read is
// a warning, printed once; a cache that cannot be opened at all is one
// too, and the node runs without. The returned function closes it.
func openPeerCache(e env, dir string) (*peercache.Cache, func()) {
	c, err := peercache.Open(filepath.Join(dir, PeerCacheFile))
	if err != nil {
		fmt.Fprintln(e.stderr, "warning:", err, "(running without a peer cache)")
		return nil, func() {}
	}
	if err := c.LoadErr(); err != nil {
		fmt.Fprintln(e.stderr, "warning:", err)
	}
	return c, func() {
		if err := c.Close(); err != nil {
			fmt.Fprintln(e.stderr, "warning:", err)
		}
	}
}

const bridgeHelp = `bridge [--data-dir DIR] [--secret]

Prints the bridge line of the node running on this machine with DIR as
its data directory (mystp2p provide, relay or hermes): one line naming
the node and its public addresses, to hand out of band to someone whose
network blocks the bootstrap peers. They join with
  mystp2p connect --bridge 'LINE'
A node behind NAT without a public or forwarded address cannot be a
bridge. With --secret the line also carries a secret, generated once and
kept in DIR/` + role.BridgeSecretFile + `, for bridges that answer only those who
know it (this version carries the secret but does not yet require it).
Whoever has the line can use the bridge: share it with care.`

func cmdBridge(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "bridge", bridgeHelp)
	dataDir := fs.String("data-dir", defaultDataDir(), "data directory of the running node")
	withSecret := fs.Bool("secret", false, "include the bridge secret (generated once, kept in the data directory)")
	if err := parse(fs, args); err != nil {
		return err
	}
	path := "/v1/bridge"
	if *withSecret {
		path += "?secret=1"
	}
	var info role.BridgeInfo
	err := callLocalAPI(ctx, *dataDir, http.MethodGet, path, nil, &info)
	if errors.Is(err, errNoAPI) {
		return fmt.Errorf("%w (%s): run `mystp2p bridge` on the machine where `mystp2p provide`, `mystp2p relay` or `mystp2p hermes` runs with that --data-dir", err, *dataDir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, info.Line)
	if !info.DHTServing {
		fmt.Fprintln(e.stderr, "warning: this node does not answer DHT queries yet, so a consumer that joins through it finds no providers; "+
			"it does once it finds itself publicly reachable, or start it with --dht-mode server")
	}
	return nil
}

const dhtModeHelp = "whether to answer DHT queries: auto (while this node finds itself publicly reachable, as a bridge must be), server, or client"

// parseDHTMode reads --dht-mode, and the deprecated --dht-server.
func parseDHTMode(s string, server bool) (dht.Mode, error) {
	m, err := dht.ParseMode(s)
	if err != nil {
		return 0, exitUsage{fmt.Errorf("--dht-mode: %w", err)}
	}
	if server {
		m = dht.ModeServer
	}
	return m, nil
}
