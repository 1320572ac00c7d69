package tunnel

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Dialer is what the SOCKS server needs from a session. *Consumer
// implements it; tests may pass a double.
type Dialer interface {
	// DialTCP opens a TCP connection to dst through the tunnel.
	DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error)
	// ListenUDP opens an unconnected UDP socket in the tunnel.
	ListenUDP(v6 bool) (net.PacketConn, error)
	// LookupHost resolves a name at the far end of the tunnel.
	LookupHost(ctx context.Context, host string) ([]netip.Addr, error)
}

var _ Dialer = (*Consumer)(nil)

// DefaultSOCKSAddr is where the SOCKS server listens unless told otherwise.
const DefaultSOCKSAddr = "127.0.0.1:1080"

const (
	maxUDPDatagram   = 64 << 10
	maxDialAttempts  = 4
	udpResolveCache  = 64
	idleRefreshShift = 3 // refresh read deadlines after idle/8
)

// SOCKSServer is a SOCKS5 proxy (RFC 1928) whose connections and UDP
// datagrams go through a Dialer, normally the session's Consumer. It
// supports CONNECT and UDP ASSOCIATE, IPv4, IPv6 and domain targets (names
// resolved through the Dialer, so at the provider), and optional
// username/password authentication (RFC 1929).
type SOCKSServer struct {
	dialer Dialer
	opts   socksOptions
	ln     net.Listener
	log    *slog.Logger
	logRL  *rateLimiter

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool                   // guarded by mu
	conns  map[io.Closer]struct{} // guarded by mu; closed by Close
	wg     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

type socksOptions struct {
	user, pass       string
	allowNonLoopback bool
	handshake        time.Duration
	dialTimeout      time.Duration
	idle             time.Duration
	udpIdle          time.Duration
	maxConns         int
	logger           *slog.Logger
}

// SOCKSOption configures a SOCKSServer.
type SOCKSOption func(*socksOptions) error

// WithSOCKSAuth requires RFC 1929 username/password authentication.
func WithSOCKSAuth(user, pass string) SOCKSOption {
	return func(o *socksOptions) error {
		if len(user) == 0 || len(user) > 255 || len(pass) == 0 || len(pass) > 255 {
			return fmt.Errorf("%w: SOCKS username and password must be 1-255 bytes", ErrInvalidConfig)
		}
		o.user, o.pass = user, pass
		return nil
	}
}

// WithAllowNonLoopback lets the server listen on a non-loopback address.
// Anyone who can reach it can then use the tunnel; combine with
// WithSOCKSAuth.
func WithAllowNonLoopback() SOCKSOption {
	return func(o *socksOptions) error { o.allowNonLoopback = true; return nil }
}

// WithSOCKSLogger sets the logger (default: discard).
func WithSOCKSLogger(l *slog.Logger) SOCKSOption {
	return func(o *socksOptions) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidConfig)
		}
		o.logger = l
		return nil
	}
}

// WithSOCKSTimeouts sets the handshake deadline (greeting to request,
// default 10 s), the dial timeout per CONNECT (default 30 s) and the idle
// timeout of relayed connections and UDP associations (default 1 h).
func WithSOCKSTimeouts(handshake, dial, idle time.Duration) SOCKSOption {
	return func(o *socksOptions) error {
		if handshake <= 0 || dial <= 0 || idle <= 0 {
			return fmt.Errorf("%w: SOCKS timeouts must be positive", ErrInvalidConfig)
		}
		o.handshake, o.dialTimeout, o.idle, o.udpIdle = handshake, dial, idle, idle
		return nil
	}
}

// WithMaxSOCKSConns limits concurrent client connections (default 1024);
// further clients are closed at once.
func WithMaxSOCKSConns(n int) SOCKSOption {
	return func(o *socksOptions) error {
		if n < 1 {
			return fmt.Errorf("%w: max SOCKS connections %d < 1", ErrInvalidConfig, n)
		}
		o.maxConns = n
		return nil
	}
}

// NewSOCKSServer listens on addr ("" means DefaultSOCKSAddr; port 0 picks
// a free port) and serves SOCKS5 through d until Close. A non-loopback addr
// is refused with ErrNonLoopbackListen unless WithAllowNonLoopback is given.
func NewSOCKSServer(d Dialer, addr string, opts ...SOCKSOption) (*SOCKSServer, error) {
	o := socksOptions{
		handshake:   10 * time.Second,
		dialTimeout: 30 * time.Second,
		idle:        time.Hour,
		udpIdle:     time.Hour,
		maxConns:    1024,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if d == nil {
		return nil, fmt.Errorf("%w: SOCKS server needs a Dialer", ErrInvalidConfig)
	}
	if addr == "" {
		addr = DefaultSOCKSAddr
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: SOCKS listen address %q: %v (want ip:port)", ErrInvalidConfig, addr, err)
	}
	if !ap.Addr().IsLoopback() && !o.allowNonLoopback {
		return nil, fmt.Errorf("%w: %s", ErrNonLoopbackListen, ap)
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("SOCKS listen on %s: %w", ap, err)
	}
	log := o.logger
	if log == nil {
		log = discardLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &SOCKSServer{
		dialer: d,
		opts:   o,
		ln:     ln,
		log:    log.With("component", "socks"),
		logRL:  &rateLimiter{every: time.Second, burst: 10},
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[io.Closer]struct{}),
	}
	s.wg.Go(s.acceptLoop)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *SOCKSServer) Addr() netip.AddrPort {
	return s.ln.Addr().(*net.TCPAddr).AddrPort()
}

// Close stops accepting, closes every client connection and UDP relay and
// waits for all goroutines. Idempotent.
func (s *SOCKSServer) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.cancel()
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// track registers c to be closed by Close; false if already closing.
func (s *SOCKSServer) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *SOCKSServer) untrack(c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// goTracked runs fn in a goroutine owned by s, unless s is closing.
func (s *SOCKSServer) goTracked(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Go(fn)
	return true
}

func (s *SOCKSServer) logDebug(msg string, args ...any) {
	if s.logRL.allow(time.Now()) {
		s.log.Debug(msg, args...)
	}
}

func (s *SOCKSServer) acceptLoop() {
	slots := make(chan struct{}, s.opts.maxConns)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logDebug("accept failed", "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond): // back off on EMFILE and the like
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			s.logDebug("too many SOCKS clients, closing one", "client", c.RemoteAddr())
			c.Close()
			continue
		}
		if !s.track(c) || !s.goTracked(func() {
			defer func() { <-slots }()
			defer s.untrack(c)
			defer c.Close()
			s.serveConn(c.(*net.TCPConn))
		}) {
			c.Close()
			return
		}
	}
}

// serveConn runs one client connection from greeting to the end of its
// CONNECT relay or UDP association.
func (s *SOCKSServer) serveConn(c *net.TCPConn) {
	c.SetDeadline(time.Now().Add(s.opts.handshake))
	cmd, dst, err := s.handshake(c)
	// The request is in; what follows has deadlines of its own.
	c.SetDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(s.opts.handshake + s.opts.dialTimeout))
	if err != nil {
		var se *socksError
		if errors.As(err, &se) && se != errSOCKSVersion {
			c.Write(appendReply(nil, se.reply, socksAddr{}))
		}
		s.logDebug("SOCKS handshake failed", "client", c.RemoteAddr(), "err", err)
		return
	}
	switch cmd {
	case cmdConnect:
		s.serveConnect(c, dst)
	case cmdUDPAssociate:
		s.serveUDPAssociate(c, dst)
	default:
		c.Write(appendReply(nil, repCommandNotSupported, socksAddr{}))
	}
}

// handshake negotiates authentication and reads the request.
func (s *SOCKSServer) handshake(c net.Conn) (byte, socksAddr, error) {
	methods, err := readGreeting(c)
	if err != nil {
		return 0, socksAddr{}, err
	}
	want := byte(methodNoAuth)
	if s.opts.user != "" {
		want = methodUserPass
	}
	offered := false
	for _, m := range methods {
		if m == want {
			offered = true
		}
	}
	if !offered {
		c.Write([]byte{socksVersion, methodNoAccept})
		return 0, socksAddr{}, errors.New("socks: client offered no acceptable authentication method")
	}
	if _, err := c.Write([]byte{socksVersion, want}); err != nil {
		return 0, socksAddr{}, err
	}
	if want == methodUserPass {
		user, pass, err := readUserPass(c)
		if err != nil {
			return 0, socksAddr{}, err
		}
		okUser := subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.user))
		okPass := subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.pass))
		if okUser&okPass != 1 {
			c.Write([]byte{socksAuthVer, 1})
			return 0, socksAddr{}, errors.New("socks: wrong username or password")
		}
		if _, err := c.Write([]byte{socksAuthVer, 0}); err != nil {
			return 0, socksAddr{}, err
		}
	}
	return readRequest(c)
}

// replyCode maps a dial or resolution error to a SOCKS reply code.
func replyCode(err error) byte {
	switch {
	case errors.Is(err, ErrPolicyDenied):
		return repNotAllowed
	case errors.Is(err, ErrNetworkUnreachable):
		return repNetworkUnreachable
	case errors.Is(err, ErrHostUnreachable), errors.Is(err, ErrNameNotFound), errors.Is(err, ErrDNS):
		return repHostUnreachable
	case errors.Is(err, ErrConnectionRefused):
		return repConnectionRefused
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return repTTLExpired
	}
	return repGeneralFailure
}

// resolve turns a SOCKS destination into candidate addresses.
func (s *SOCKSServer) resolve(ctx context.Context, dst socksAddr) ([]netip.AddrPort, error) {
	if dst.Host == "" {
		return []netip.AddrPort{netip.AddrPortFrom(dst.IP, dst.Port)}, nil
	}
	addrs, err := s.dialer.LookupHost(ctx, dst.Host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, min(len(addrs), maxDialAttempts))
	for _, a := range addrs {
		if len(out) == maxDialAttempts {
			break
		}
		out = append(out, netip.AddrPortFrom(a, dst.Port))
	}
	return out, nil
}

func (s *SOCKSServer) serveConnect(c *net.TCPConn, dst socksAddr) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.dialTimeout)
	defer cancel()
	var out net.Conn
	targets, err := s.resolve(ctx, dst)
	for _, t := range targets {
		if out, err = s.dialer.DialTCP(ctx, t); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		c.Write(appendReply(nil, replyCode(err), socksAddr{}))
		s.logDebug("SOCKS connect failed", "dst", dst, "err", err)
		return
	}
	if !s.track(out) {
		out.Close()
		return
	}
	defer s.untrack(out)
	var bound socksAddr
	if la, ok := out.LocalAddr().(*net.TCPAddr); ok {
		ap := la.AddrPort()
		bound = socksAddr{IP: ap.Addr().Unmap(), Port: ap.Port()}
	}
	if _, err := c.Write(appendReply(nil, repSucceeded, bound)); err != nil {
		out.Close()
		return
	}
	c.SetWriteDeadline(time.Time{})
	ic, oc := newIdlePair(c, out, s.opts.idle)
	done := make(chan struct{})
	go func() { // owned: waited for below
		defer close(done)
		relayHalf(ic, oc)
	}()
	relayHalf(oc, ic)
	<-done
	out.Close()
}

// relayHalf copies src to dst and then half-closes dst's write side, or
// closes both on error so that the other direction ends too.
func relayHalf(dst, src *idleConn) {
	buf := make([]byte, copyBufSize)
	_, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
	if cw, ok := dst.Conn.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
		return
	}
	dst.Close()
	src.Close()
}

// idleConn puts a deadline of idle on every Read, refreshing it only
// every idle/8 so the hot path stays cheap. The two halves of a relayed
// connection share last, so a long download does not time out the quiet
// upload direction: the pair ends only when neither side moved data for
// idle.
type idleConn struct {
	net.Conn
	idle time.Duration
	last *atomic.Int64 // unix nanos of the last data either way, shared
	set  atomic.Int64  // unix nanos of the last SetReadDeadline
}

// newIdlePair wraps the two ends of a relay.
func newIdlePair(a, b net.Conn, idle time.Duration) (*idleConn, *idleConn) {
	last := new(atomic.Int64)
	last.Store(time.Now().UnixNano())
	return &idleConn{Conn: a, idle: idle, last: last}, &idleConn{Conn: b, idle: idle, last: last}
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		now := time.Now().UnixNano()
		if now-c.set.Load() > int64(c.idle>>idleRefreshShift) {
			c.set.Store(now)
			c.Conn.SetReadDeadline(time.Unix(0, now).Add(c.idle))
		}
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.last.Store(time.Now().UnixNano())
		}
		if n == 0 && err != nil && isTimeout(err) && time.Now().UnixNano()-c.last.Load() < int64(c.idle) {
			c.set.Store(0) // the other direction is busy: wait again
			continue
		}
		return n, err
	}
}
