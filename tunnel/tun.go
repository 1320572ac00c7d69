package tunnel

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// TUNConfig is what the consumer's TUN mode needs: the session, as for
// NewConsumer, and how to hand the host's traffic to it.
type TUNConfig struct {
	// ConsumerConfig holds the session's keys, addresses, bind and logger;
	// its rules are those of NewConsumer.
	ConsumerConfig
	// Name is the interface to create, such as "mystp2p0" (at most 15
	// bytes, no '/', ':' or white space). It must not exist yet.
	Name string
	// Exclude are destinations that must keep using the host's own routes:
	// the provider's WireGuard endpoint or the relay carrying the session,
	// and the relays and bootstrap peers the node keeps talking to. Each
	// gets a route via the path the host used for it before the tunnel
	// came up. The bind's endpoint, when it is an IP:port (UDPBind), is
	// added by itself; a relayed bind's relay is not, and without it
	// WireGuard's own packets would loop into the tunnel.
	Exclude []netip.Prefix
	// DNS points the host's resolver (/etc/resolv.conf, written in place,
	// through a symbolic link if it is one) at the provider's DNS
	// responder on its tunnel address. Close puts the original bytes back
	// unless someone else rewrote the file meanwhile (then theirs stay).
	// Programs that ask systemd-resolved over nss-resolve or D-Bus rather
	// than reading the file keep resolved's own upstream servers.
	DNS bool
}

// TUNConsumer is the consumer's end of a session as a kernel network
// interface: WireGuard runs on a TUN device that carries every route but
// the excluded ones, so any program on the host uses the tunnel, and with
// TUNConfig.DNS the host resolves names at the provider. It needs Linux
// and CAP_NET_ADMIN (root).
//
// NewTUNConsumer records every change it makes to the host (the interface
// with its addresses, routes, /etc/resolv.conf) and Close undoes them in
// reverse order; a constructor that fails half-way undoes what it did. A
// process killed without Close leaves the excluded host routes and
// /etc/resolv.conf behind (the interface and its routes go with the
// process).
type TUNConsumer struct {
	cfg   TUNConfig
	log   *slog.Logger
	meter *meter
	dev   *device.Device
	bind  *wgpath.SwitchBind
	undo  undoLog

	// hostMu orders AddExclude before Close, so that every route it adds
	// is in undo when Close runs it.
	hostMu sync.Mutex
	// exclude adds host routes for prefixes around the tunnel (set by the
	// platform's start); called with hostMu held.
	exclude func(prefixes []netip.Prefix) error

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// NewTUNConsumer creates the interface cfg.Name, runs the session's
// WireGuard on it and routes the host's traffic (IPv4, and IPv6 when the
// kernel has it) through it. Errors wrap ErrInvalidConfig, ErrTUNNeedsRoot,
// ErrTUNUnsupported or ErrInterfaceExists, or say which host change failed.
// ConsumerOptions work as for NewConsumer.
func NewTUNConsumer(cfg TUNConfig, opts ...ConsumerOption) (*TUNConsumer, error) {
	o, err := newConsumerOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.logger().With("interface", cfg.Name)
	c := &TUNConsumer{cfg: cfg, log: log, meter: newMeter(o.now), closed: make(chan struct{})}
	c.bind = wgpath.NewSwitchBind(cfg.Bind, deviceBatchSize)
	if err := c.start(o); err != nil {
		c.meter.stop()
		close(c.closed)
		if uerr := c.undo.run(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("undoing the changes so far: %w", uerr))
		}
		return nil, err
	}
	log.Info("TUN mode up", "address", cfg.Addresses.Consumer, "peer", cfg.PeerPublicKey.String(), "dns", cfg.DNS)
	return c, nil
}

func (cfg *TUNConfig) validate() error {
	if err := cfg.ConsumerConfig.validate(); err != nil {
		return err
	}
	switch {
	case cfg.Name == "":
		return fmt.Errorf("%w: TUNConfig.Name is missing", ErrInvalidConfig)
	case len(cfg.Name) > 15 || strings.ContainsAny(cfg.Name, "/: \t\n") || cfg.Name == "." || cfg.Name == "..":
		return fmt.Errorf("%w: TUNConfig.Name %q is not a valid interface name (at most 15 bytes, no '/', ':' or spaces)", ErrInvalidConfig, cfg.Name)
	}
	for _, p := range cfg.Exclude {
		if !p.IsValid() {
			return fmt.Errorf("%w: TUNConfig.Exclude holds an invalid prefix", ErrInvalidConfig)
		}
	}
	return nil
}

// startDevice runs WireGuard on the kernel TUN tdev; from then on the
// device owns tdev, and Close stops it.
func (c *TUNConsumer) startDevice(tdev tun.Device, o consumerOptions) error {
	mt := newMeteredTUN(tdev, c.meter)
	dev, err := startWireGuard(mt, c.bind, c.cfg.peerConfig(o.keepalive), c.log)
	if err != nil {
		return err
	}
	c.dev = dev
	c.undo.push("stop WireGuard and remove "+c.cfg.Name, func() error {
		dev.Close() // closes the TUN (the interface goes) and the bind
		return nil
	})
	return nil
}

// Name returns the interface's name.
func (c *TUNConsumer) Name() string { return c.cfg.Name }

// Addresses returns the session's tunnel addresses.
func (c *TUNConsumer) Addresses() AddressPair { return c.cfg.Addresses }

// Stats returns the session's traffic so far, counted as for Consumer.
// Safe to call at any time, also after Close.
func (c *TUNConsumer) Stats() Stats { return c.meter.stats() }

// LastHandshake returns when the last WireGuard handshake with the provider
// completed, or the zero time if none has.
func (c *TUNConsumer) LastHandshake() (time.Time, error) {
	if c.isClosed() {
		return time.Time{}, ErrClosed
	}
	return lastHandshake(c.dev)
}

// SwitchBind moves the session to another transport, as
// Consumer.SwitchBind does. When the new endpoint is an IP:port (a punched
// UDPBind), it is excluded from the tunnel first; any other new path (a
// relay) must be excluded with AddExclude before the switch.
func (c *TUNConsumer) SwitchBind(b conn.Bind, endpoint string) error {
	if c.isClosed() {
		return ErrClosed
	}
	if b == nil {
		return fmt.Errorf("%w: nil bind", ErrInvalidConfig)
	}
	if p, ok := endpointPrefix(endpoint, b); ok {
		if err := c.AddExclude(p); err != nil {
			return err
		}
	}
	return c.bind.SwitchTo(c.dev, c.cfg.PeerPublicKey, b, endpoint)
}

// AddExclude keeps more destinations out of the tunnel while it is up (a
// relay or bootstrap peer learnt later), as TUNConfig.Exclude does at
// start: each gets a route via the path the host used before the tunnel,
// removed again on Close.
func (c *TUNConsumer) AddExclude(prefixes ...netip.Prefix) error {
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("%w: invalid prefix to exclude", ErrInvalidConfig)
		}
	}
	c.hostMu.Lock()
	defer c.hostMu.Unlock()
	if c.isClosed() {
		return ErrClosed
	}
	return c.exclude(prefixes)
}

// endpointPrefix is the host prefix of a bind's endpoint when it is an
// IP:port.
func endpointPrefix(endpoint string, b conn.Bind) (netip.Prefix, bool) {
	if endpoint == "" {
		endpoint = bindEndpoint(b)
	}
	ap, err := netip.ParseAddrPort(endpoint)
	if err != nil {
		return netip.Prefix{}, false
	}
	a := ap.Addr().Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func (c *TUNConsumer) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close restores /etc/resolv.conf, removes the routes, stops WireGuard
// (closing the bind) and removes the interface, and waits for every
// goroutine. It returns what could not be undone. Idempotent.
func (c *TUNConsumer) Close() error {
	c.closeOnce.Do(func() {
		c.meter.stop()
		c.hostMu.Lock()
		close(c.closed)
		c.hostMu.Unlock()
		c.closeErr = c.undo.run()
		c.log.Info("TUN mode down")
	})
	return c.closeErr
}

// undoLog records host changes so they can be undone in reverse order.
type undoLog struct {
	mu    sync.Mutex
	steps []undoStep // guarded by mu
}

type undoStep struct {
	what string
	undo func() error
}

func (u *undoLog) push(what string, undo func() error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.steps = append(u.steps, undoStep{what, undo})
}

// run undoes every step, latest first, also after a failed one, and
// forgets them.
func (u *undoLog) run() error {
	u.mu.Lock()
	steps := u.steps
	u.steps = nil
	u.mu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].undo(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", steps[i].what, err))
		}
	}
	return errors.Join(errs...)
}

// meteredTUN counts the inner packets between a kernel TUN and WireGuard,
// as netDevice does for the gVisor stack. It also hides the TUN's up/down
// events from WireGuard: the session brings its device up once, and a
// down event would close the bind, which a PipeBind cannot survive.
type meteredTUN struct {
	tun.Device
	meter  *meter
	events chan tun.Event
	done   chan struct{} // closed when the event goroutine has stopped
}

func newMeteredTUN(d tun.Device, m *meter) *meteredTUN {
	t := &meteredTUN{Device: d, meter: m, events: make(chan tun.Event, 1), done: make(chan struct{})}
	go t.forwardEvents()
	return t
}

// forwardEvents passes MTU updates on and drops the rest; it stops when
// the TUN closes its channel (on Close).
func (t *meteredTUN) forwardEvents() {
	defer close(t.done)
	defer close(t.events)
	for ev := range t.Device.Events() {
		if ev&tun.EventMTUUpdate == 0 {
			continue
		}
		select {
		case t.events <- tun.EventMTUUpdate:
		default: // one pending update says it all
		}
	}
}

func (t *meteredTUN) Events() <-chan tun.Event { return t.events }

func (t *meteredTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n, err := t.Device.Read(bufs, sizes, offset)
	for i := range n {
		t.meter.addTx(sizes[i])
	}
	return n, err
}

func (t *meteredTUN) Write(bufs [][]byte, offset int) (int, error) {
	n, err := t.Device.Write(bufs, offset)
	if err == nil {
		for _, b := range bufs {
			if len(b) > offset {
				t.meter.addRx(len(b) - offset)
			}
		}
	}
	return n, err
}

// Close closes the TUN and waits for the event goroutine.
func (t *meteredTUN) Close() error {
	err := t.Device.Close()
	<-t.done
	return err
}

// resolvConf is the host resolver's configuration file.
const resolvConf = "/etc/resolv.conf"

// replaceFile writes content over path in place (following a symbolic
// link, and through a bind mount, where a rename would fail) and returns
// a function that puts the original bytes back, unless someone else has
// rewritten the file meanwhile.
func replaceFile(path string, content []byte, log *slog.Logger) (restore func() error, err error) {
	orig, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := writeInPlace(path, content); err != nil {
		return nil, err
	}
	return func() error {
		cur, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(cur) != string(content) {
			log.Warn("file changed by someone else while the tunnel was up; leaving their version", "file", path)
			return nil
		}
		return writeInPlace(path, orig)
	}, nil
}

func writeInPlace(path string, content []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
