// Package dht is mystp2p's broker-free discovery: a private Kademlia DHT
// (protocol prefix /mystp2p) where providers announce themselves under
// namespaces such as "mystp2p/1/wireguard/DE" and publish signed records that
// anyone can fetch and verify.
//
// The IPFS defaults (48 h provider records, 22 h reprovide) are far too slow for
// a VPN market where providers come and go. Here a provider record lives for
// Config.RecordTTL and is re-announced every Config.RecordTTL/3, so a provider
// that stops vanishes from lookups within one TTL.
package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	kad "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/multiformats/go-multihash"
)

// ProtocolPrefix makes the DHT private: it speaks /mystp2p/kad/1.0.0 and never
// mixes with the public IPFS DHT.
const ProtocolPrefix = "/mystp2p"

// ProtocolID is the protocol the DHT speaks: a peer that lists it in
// identify answers DHT queries.
const ProtocolID protocol.ID = ProtocolPrefix + "/kad/1.0.0"

// RecordNamespace is the DHT value namespace for signed records ("/mystp2p-rec/<key>").
const RecordNamespace = "mystp2p-rec"

// DefaultRecordTTL is how long provider and value records live by default.
const DefaultRecordTTL = 30 * time.Minute

// ErrClosed is returned after Close.
var ErrClosed = errors.New("dht closed")

// Mode is whether a node answers DHT queries.
type Mode int

// The modes. The zero Mode is ModeClient.
const (
	// ModeClient only asks: for nodes behind NAT, which others cannot dial.
	ModeClient Mode = iota
	// ModeServer answers queries: relays and publicly reachable nodes.
	ModeServer
	// ModeAuto starts as a client and answers queries while the host finds
	// itself publicly reachable (its AutoNAT verdict, or a forced public
	// reachability), switching back when it is not: the right default for
	// a node that may or may not be reachable, such as a provider that is
	// handed out as a bridge.
	ModeAuto
)

// ParseMode reads "client", "server" or "auto".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "client":
		return ModeClient, nil
	case "server":
		return ModeServer, nil
	case "auto":
		return ModeAuto, nil
	}
	return 0, fmt.Errorf("DHT mode %q: want auto, server or client", s)
}

// String is the name ParseMode reads.
func (m Mode) String() string {
	switch m {
	case ModeClient:
		return "client"
	case ModeServer:
		return "server"
	case ModeAuto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Config configures a DHT.
type Config struct {
	// Mode is whether the node answers DHT queries (zero: ModeClient).
	Mode Mode
	// Bootstrap peers to join through. Required unless this node is the first.
	Bootstrap []peer.AddrInfo
	// BootstrapFunc, if set, is asked for the bootstrap peers instead,
	// each time the routing table runs low: a node that joined through
	// peers it found later (its peer cache) refills from those.
	BootstrapFunc func() []peer.AddrInfo
	// RecordTTL is the lifetime of provider and value records that this node
	// stores for others and publishes itself; 0 means DefaultRecordTTL.
	RecordTTL time.Duration
	// Validator checks values under RecordNamespace. Required.
	Validator record.Validator
	Logger    *slog.Logger
}

// DHT wraps a kad-dht instance with namespace announcements.
type DHT struct {
	kad    *kad.IpfsDHT
	host   host.Host
	ttl    time.Duration
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New starts a DHT on h.
func New(h host.Host, cfg Config) (*DHT, error) {
	if h == nil {
		return nil, errors.New("dht: host is required")
	}
	if cfg.Validator == nil {
		return nil, errors.New("dht: Config.Validator is required")
	}
	if cfg.RecordTTL < 0 {
		return nil, fmt.Errorf("dht: Config.RecordTTL %s is negative", cfg.RecordTTL)
	}
	if cfg.RecordTTL == 0 {
		cfg.RecordTTL = DefaultRecordTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var mode kad.ModeOpt
	switch cfg.Mode {
	case ModeClient:
		mode = kad.ModeClient
	case ModeServer:
		mode = kad.ModeServer
	case ModeAuto:
		mode = kad.ModeAuto
	default:
		return nil, fmt.Errorf("dht: unknown %v", cfg.Mode)
	}
	gc := min(cfg.RecordTTL/4, time.Minute)
	boot := kad.BootstrapPeers(cfg.Bootstrap...)
	if cfg.BootstrapFunc != nil {
		boot = kad.BootstrapPeersFunc(cfg.BootstrapFunc)
	}
	k, err := kad.New(h,
		kad.ProtocolPrefix(ProtocolPrefix),
		kad.Mode(mode),
		boot,
		kad.NamespacedValidator(RecordNamespace, cfg.Validator),
		kad.MaxRecordAge(cfg.RecordTTL),
		kad.ValueGCInterval(gc),
		kad.ProviderManagerOpts(records.ProvideValidity(cfg.RecordTTL), records.CleanupInterval(gc), records.ProviderAddrTTL(cfg.RecordTTL)),
	)
	if err != nil {
		return nil, fmt.Errorf("start kademlia: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &DHT{kad: k, host: h, ttl: cfg.RecordTTL, log: cfg.Logger, ctx: ctx, cancel: cancel}, nil
}

// Serving reports whether the node answers DHT queries right now (in
// ModeAuto, whether the host currently finds itself publicly reachable).
// kad-dht's Mode reports the configured option, not the mode it is in: a
// server is one that handles the protocol.
func (d *DHT) Serving() bool { return slices.Contains(d.host.Mux().Protocols(), ProtocolID) }

// Kad is the underlying kad-dht (for routing discovery).
func (d *DHT) Kad() *kad.IpfsDHT { return d.kad }

// RecordTTL is the configured record lifetime.
func (d *DHT) RecordTTL() time.Duration { return d.ttl }

// NamespaceCID is the content ID under which providers of a namespace announce.
func NamespaceCID(ns string) cid.Cid {
	h, _ := multihash.Sum([]byte(ns), multihash.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// RecordKey is the DHT key of a record named name.
func RecordKey(name string) string { return "/" + RecordNamespace + "/" + name }

// Bootstrap connects to the bootstrap peers and fills the routing table.
func (d *DHT) Bootstrap(ctx context.Context) error { return d.kad.Bootstrap(ctx) }

// Advertise announces this node under every namespace now and again every
// RecordTTL/3 until ctx ends or the DHT closes. It returns after the first
// round, with the error of that round if every namespace failed.
func (d *DHT) Advertise(ctx context.Context, namespaces ...string) error {
	if d.ctx.Err() != nil {
		return ErrClosed
	}
	first := d.firstAnnounce(ctx, namespaces)
	d.wg.Go(func() {
		t := time.NewTicker(d.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.ctx.Done():
				return
			case <-t.C:
				if err := d.announce(ctx, namespaces); err != nil && ctx.Err() == nil && d.ctx.Err() == nil {
					d.log.Warn("re-announce failed", "err", err)
				}
			}
		}
	})
	return first
}

// firstAnnounce waits for the routing table to hold a peer (identify fills
// it moments after the first connection) and retries quickly, so a new
// provider is findable in about a second rather than after the first
// re-announce.
func (d *DHT) firstAnnounce(ctx context.Context, namespaces []string) error {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if d.kad.RoutingTable().Size() > 0 {
			if err = d.announce(ctx, namespaces); err == nil {
				return nil
			}
		} else {
			err = errors.New("no DHT peers yet")
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.ctx.Done():
			return ErrClosed
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (d *DHT) announce(ctx context.Context, namespaces []string) error {
	var errs []error
	for _, ns := range namespaces {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := d.kad.Provide(actx, NamespaceCID(ns), true)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("announce %s: %w", ns, err))
		}
	}
	if len(errs) == len(namespaces) && len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// FindProviders streams peers that announced ns, at most limit (0: no limit).
// The channel closes when the lookup ends or ctx is done.
func (d *DHT) FindProviders(ctx context.Context, ns string, limit int) <-chan peer.AddrInfo {
	return d.kad.FindProvidersAsync(ctx, NamespaceCID(ns), limit)
}

// PutRecord stores a signed record under name on the closest peers.
func (d *DHT) PutRecord(ctx context.Context, name string, value []byte) error {
	if err := d.kad.PutValue(ctx, RecordKey(name), value); err != nil {
		return fmt.Errorf("put record %s: %w", name, err)
	}
	return nil
}

// GetRecord fetches the best record stored under name.
func (d *DHT) GetRecord(ctx context.Context, name string) ([]byte, error) {
	// The first valid record is enough: records are signed and expire, so
	// waiting for more would only wait for the peers that do not answer
	// (a blocked DHT server times out rather than refusing).
	v, err := d.kad.GetValue(ctx, RecordKey(name), kad.Quorum(1))
	if err != nil {
		return nil, fmt.Errorf("get record %s: %w", name, err)
	}
	return v, nil
}

// Close stops re-announcing and shuts the DHT down. It is idempotent.
func (d *DHT) Close() error {
	var err error
	d.once.Do(func() {
		d.cancel()
		d.wg.Wait()
		err = d.kad.Close()
	})
	return err
}
