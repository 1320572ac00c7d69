// Package gossip carries live announcements over gossipsub: every message is
// checked by a caller-supplied validator before it is delivered or forwarded,
// peers that send invalid messages lose score, and accepted entries are kept
// in an expiring cache keyed by their author.
//
// Gossipsub's own seen-cache lasts only a couple of minutes, so replay
// protection comes from each entry's sequence number and expiry: the cache
// rejects an entry older than one it already holds for the same key.
package gossip

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxMessageSize bounds every gossipsub message (the library default is 1 MiB).
const MaxMessageSize = 8 << 10

// ErrClosed is returned after Close.
var ErrClosed = errors.New("gossip feed closed")

// ErrStale is returned by Publish for an entry older than the cached one
// with the same key.
var ErrStale = errors.New("entry older than the one already held")

// Entry is a validated message.
type Entry struct {
	Key     string    // one live entry per key (e.g. the provider ID)
	Seq     uint64    // higher replaces lower
	Expires time.Time // dropped from the cache after this
	Value   any       // the decoded message
	Raw     []byte
}

// Validate decodes and checks a message. from is the peer that passed it
// on, not necessarily its author: messages carry no gossipsub author, only
// what the entry itself proves. It must not block.
type Validate func(from peer.ID, data []byte) (Entry, error)

// Config configures a Feed.
type Config struct {
	Topic    string
	Validate Validate
	// Discovery, when set, finds more topic peers (rendezvous on the DHT).
	// Each round dials a random sample of DiscoveryPeers of what it finds.
	Discovery discovery.Discovery
	// DiscoveryPeers is the sample size (0: DefaultDiscoveryPeers).
	DiscoveryPeers int
	// RendezvousTTL is how long the node's rendezvous announcement lives
	// in the DHT, which must keep it that long: the DHT's record TTL.
	// Required with Discovery.
	RendezvousTTL time.Duration
	Logger        *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Feed is one topic: publish, validate, cache, and notify.
type Feed struct {
	ps    *pubsub.PubSub
	self  peer.ID
	topic *pubsub.Topic
	sub   *pubsub.Subscription
	cfg   Config
	log   *slog.Logger

	mu      sync.Mutex
	entries map[string]Entry
	watch   map[chan Entry]struct{}
	scores  map[peer.ID]float64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// NewFeed starts gossipsub on h, joins cfg.Topic and subscribes.
func NewFeed(h host.Host, cfg Config) (*Feed, error) {
	if h == nil {
		return nil, errors.New("gossip: host is required")
	}
	if cfg.Topic == "" {
		return nil, errors.New("gossip: Config.Topic is required")
	}
	if cfg.Validate == nil {
		return nil, errors.New("gossip: Config.Validate is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Feed{self: h.ID(), cfg: cfg, log: cfg.Logger, entries: map[string]Entry{}, watch: map[chan Entry]struct{}{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())

	opts := []pubsub.Option{
		pubsub.WithMaxMessageSize(MaxMessageSize),
		// Entries carry their author's signature (the validator checks
		// it), so gossipsub's own envelope signature would only be paid
		// for twice: in a 100-provider testnet verifying it was a quarter
		// of all CPU. Unsigned messages are named by their content, so a
		// repeat of the same entry is dropped by the seen-cache before
		// anyone validates it again.
		pubsub.WithMessageSignaturePolicy(pubsub.StrictNoSign),
		pubsub.WithMessageIdFn(messageID),
		pubsub.WithPeerScore(scoreParams(cfg.Topic), scoreThresholds()),
		// No peer exchange: with every node offering and accepting it, each
		// prune by a busy node handed out 16 more peers and a 40-provider
		// testnet became a full mesh of 38 connections per provider.
		// Topic peers come from the DHT rendezvous (Discovery) instead.
		pubsub.WithFloodPublish(true),
		pubsub.WithGossipSubParams(gossipParams()),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(f.setScores), time.Second),
	}
	if cfg.Discovery != nil {
		n := cfg.DiscoveryPeers
		if n <= 0 {
			n = DefaultDiscoveryPeers
		}
		rv, err := newRendezvous(cfg.Discovery, n, cfg.RendezvousTTL)
		if err != nil {
			f.cancel()
			return nil, err
		}
		opts = append(opts, pubsub.WithDiscovery(rv))
	}
	ps, err := pubsub.NewGossipSub(f.ctx, h, opts...)
	if err != nil {
		f.cancel()
		return nil, fmt.Errorf("start gossipsub: %w", err)
	}
	f.ps = ps
	if err := ps.RegisterTopicValidator(cfg.Topic, f.validate); err != nil {
		f.cancel()
		return nil, fmt.Errorf("register validator: %w", err)
	}
	if f.topic, err = ps.Join(cfg.Topic); err != nil {
		f.cancel()
		return nil, fmt.Errorf("join %s: %w", cfg.Topic, err)
	}
	if f.sub, err = f.topic.Subscribe(pubsub.WithBufferSize(256)); err != nil {
		f.topic.Close()
		f.cancel()
		return nil, fmt.Errorf("subscribe %s: %w", cfg.Topic, err)
	}
	f.wg.Go(f.readLoop)
	f.wg.Go(f.expireLoop)
	return f, nil
}

// scoreParams penalise invalid messages (P4) hard and nothing else: proposal
// traffic is sparse, so delivery-rate scores would punish honest quiet peers.
// IP colocation is off because testnets put every node on one address.
func scoreParams(topic string) *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		SkipAtomicValidation: true,
		Topics: map[string]*pubsub.TopicScoreParams{
			topic: {
				SkipAtomicValidation:           true,
				TopicWeight:                    1,
				TimeInMeshQuantum:              time.Second, // divides; weight stays 0
				InvalidMessageDeliveriesWeight: -100,
				InvalidMessageDeliveriesDecay:  0.99,
			},
		},
		AppSpecificScore:  func(peer.ID) float64 { return 0 },
		AppSpecificWeight: 1,
		DecayInterval:     time.Second,
		DecayToZero:       0.01,
		RetainScore:       10 * time.Minute,
	}
}

// gossipParams keep the default mesh (D=6, 1 s heartbeat) and gossip
// message IDs to a fixed Dlazy non-mesh peers each heartbeat. Proposals are
// few and small, and a consumer outside every mesh should not wait several
// heartbeats for one, so Dlazy is above the default 6; but the share of
// other peers gossipsub adds on top (GossipFactor) is zero. With a share, a
// node everybody connects to (the relay, a DHT server) sends IHAVEs to that
// share of its hundreds of peers every heartbeat while proposals flow, work
// that grows with the network instead of staying per node.
func gossipParams() pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.Dlazy = 8
	p.GossipFactor = 0
	return p
}

func scoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             -100,
		PublishThreshold:            -200,
		GraylistThreshold:           -400,
		AcceptPXThreshold:           0,
		OpportunisticGraftThreshold: 1,
	}
}

// messageID names an unsigned message by its topic and content.
func messageID(m *pb.Message) string {
	h := sha256.New()
	h.Write([]byte(m.GetTopic()))
	h.Write([]byte{0})
	h.Write(m.Data)
	return string(h.Sum(nil))
}

func (f *Feed) validate(_ context.Context, from peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
	e, err := f.cfg.Validate(from, msg.Data)
	if err != nil {
		// Entries that fail their author's checks (signature, form,
		// expiry) are rejected and cost the sender score.
		f.log.Debug("rejected gossip", "peer", from, "err", err)
		return pubsub.ValidationReject
	}
	switch f.admit(e, false) {
	case admitStale:
		// Dropped, but not held against the sender: gossip reorders (a
		// newer entry on a mesh link overtakes an older one answering an
		// IWANT), so an honest neighbour hands on stale entries too. A
		// reject costs the sender P4 score, squared per message; two
		// overtakes graylisted an honest hub and starved its neighbour.
		// A replay stays harmless: it is not forwarded nor stored.
		f.log.Debug("ignored stale gossip", "peer", from, "key", e.Key, "seq", e.Seq)
		return pubsub.ValidationIgnore
	case admitDuplicate:
		if from == f.self {
			// Our own entry, already cached (Add, or a Publish of
			// what we cached): send it on all the same.
			return pubsub.ValidationAccept
		}
		return pubsub.ValidationIgnore
	}
	msg.ValidatorData = e
	return pubsub.ValidationAccept
}

type admitResult int

const (
	admitNew admitResult = iota
	admitDuplicate
	admitStale
)

// admit checks e against the cache and, when store is set, stores it.
func (f *Feed) admit(e Entry, store bool) admitResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.entries[e.Key]; ok && f.cfg.Now().Before(old.Expires) {
		switch {
		case e.Seq < old.Seq:
			return admitStale
		case e.Seq == old.Seq:
			return admitDuplicate
		}
	}
	if store {
		f.entries[e.Key] = e
		for ch := range f.watch {
			select {
			case ch <- e:
			default: // a slow watcher misses live updates, never the cache
			}
		}
	}
	return admitNew
}

// Add puts an entry that arrived by another path (DHT, direct fetch) into the
// cache, so every view agrees. It reports whether the entry was new.
func (f *Feed) Add(e Entry) bool {
	return f.admit(e, true) == admitNew
}

func (f *Feed) readLoop() {
	for {
		msg, err := f.sub.Next(f.ctx)
		if err != nil {
			return
		}
		e, ok := msg.ValidatorData.(Entry)
		if !ok {
			continue
		}
		f.admit(e, true)
	}
}

func (f *Feed) expireLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-t.C:
			now := f.cfg.Now()
			f.mu.Lock()
			for k, e := range f.entries {
				if !now.Before(e.Expires) {
					delete(f.entries, k)
				}
			}
			f.mu.Unlock()
		}
	}
}

// Publish sends data to the topic once at least one topic peer is known or
// ctx ends. Our own message goes through the validator like any other.
//
// It watches the topic's peer list itself rather than using gossipsub's
// readiness option, which, with discovery on, re-checks only after a whole
// DHT rendezvous round (seconds) even when a peer joined moments later.
//
// A peer appears on the topic when its subscription arrives, which can be
// before our own stream to it is open; gossipsub queues what it sends to
// such a peer until the stream is up. Messages are named by their content,
// so publishing the same bytes twice sends them once.
func (f *Feed) Publish(ctx context.Context, data []byte) error {
	if f.ctx.Err() != nil {
		return ErrClosed
	}
	// An entry older than the cached one would be dropped by everyone; a
	// byte-identical replay would not even reach a validator (the
	// seen-cache knows its name), so refuse it here, where it is said.
	e, err := f.cfg.Validate(f.self, data)
	if err != nil {
		return fmt.Errorf("publish on %s: %w", f.cfg.Topic, err)
	}
	if f.admit(e, false) == admitStale {
		return fmt.Errorf("publish on %s: %w: key %q seq %d", f.cfg.Topic, ErrStale, e.Key, e.Seq)
	}
	// The topic says when a peer joins it; subscribe before the first look
	// so that no join falls between the two.
	ev, err := f.topic.EventHandler()
	if err != nil {
		return fmt.Errorf("publish on %s: %w", f.cfg.Topic, err)
	}
	defer ev.Cancel()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(f.ctx, cancel)
	defer stop()
	for len(f.topic.ListPeers()) == 0 {
		if _, err := ev.NextPeerEvent(wctx); err != nil {
			if f.ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("publish on %s: no topic peers: %w", f.cfg.Topic, ctx.Err())
		}
	}
	if err := f.topic.Publish(ctx, data); err != nil {
		return fmt.Errorf("publish on %s: %w", f.cfg.Topic, err)
	}
	return nil
}

// Entries returns the live entries.
func (f *Feed) Entries() []Entry {
	now := f.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Entry, 0, len(f.entries))
	for _, e := range f.entries {
		if now.Before(e.Expires) {
			out = append(out, e)
		}
	}
	return out
}

// Get returns the live entry for key.
func (f *Feed) Get(key string) (Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[key]
	if !ok || !f.cfg.Now().Before(e.Expires) {
		return Entry{}, false
	}
	return e, true
}

// Watch delivers every new entry until ctx ends. A watcher that does not keep
// up misses live updates (Entries still has them).
func (f *Feed) Watch(ctx context.Context) <-chan Entry {
	ch := make(chan Entry, 64)
	f.mu.Lock()
	f.watch[ch] = struct{}{}
	f.mu.Unlock()
	f.wg.Go(func() {
		select {
		case <-ctx.Done():
		case <-f.ctx.Done():
		}
		f.mu.Lock()
		delete(f.watch, ch)
		f.mu.Unlock()
		close(ch)
	})
	return ch
}

func (f *Feed) setScores(s map[peer.ID]float64) {
	f.mu.Lock()
	f.scores = s
	f.mu.Unlock()
}

// Score is a peer's gossipsub score as of the last second; peers that sent
// invalid messages go negative and, below -400, are ignored entirely.
func (f *Feed) Score(p peer.ID) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scores[p]
}

// TopicPeers lists peers known to be on the topic.
func (f *Feed) TopicPeers() []peer.ID { return f.topic.ListPeers() }

// Close leaves the topic and stops gossipsub. It is idempotent.
func (f *Feed) Close() error {
	var err error
	f.once.Do(func() {
		f.sub.Cancel()
		// Closing the topic fails while gossipsub still holds the cancelled
		// subscription; stopping gossipsub below releases it either way.
		_ = f.topic.Close()
		f.cancel()
		f.wg.Wait()
	})
	return err
}
