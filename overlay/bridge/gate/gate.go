// Package gate is a bridge's front door: a TLS listener that passes a
// connection on to the node's libp2p WebSocket listener only when the
// dialer proves it holds the bridge secret, and answers everyone else as
// an ordinary HTTPS server would.
//
// # The proof
//
// A dialer that knows bridge secrets presents a TLS client certificate:
// self-signed, for a fresh Ed25519 key, with one extension (ExtensionOID)
// that holds a tag per secret,
//
//	tag = first TagLen bytes of HMAC-SHA256(secret, tagLabel || SPKI)
//
// where SPKI is the certificate's DER SubjectPublicKeyInfo. The gate
// requests a client certificate but does not require one, as a server with
// optional client authentication does. The TLS handshake itself checks that
// the dialer holds the certificate's private key (CertificateVerify signs
// the transcript, which holds the gate's fresh random), so a recorded
// handshake replayed byte for byte fails, and a tag copied into another
// certificate does not match its key. In TLS 1.3 the client certificate
// travels encrypted; ClientConfig presents it in TLS 1.3 only, so an
// observer on the path never sees it.
//
// # What a prober sees
//
// The TLS handshake of any HTTPS server with optional client
// certificates, then the Decoy handler's answers over HTTP/1.1 or HTTP/2:
// a WebSocket upgrade or libp2p's multistream header gets nothing a web
// server would not give. Bytes that are not TLS at all get the answer Go's
// own HTTPS server gives (a 400 for plain HTTP, else the connection
// closes).
package gate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Limits and constants.
const (
	// TagLen is the length of one secret's tag in a client certificate.
	TagLen = 16
	// MaxSecrets caps the secrets one client certificate carries.
	MaxSecrets = 8
	// MinSecretLen is the shortest secret accepted.
	MinSecretLen = 16
	// DefaultHandshakeTimeout bounds a TLS handshake at the gate.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultMaxHandshakes caps the TLS handshakes in flight; connections
	// beyond it are closed at once.
	DefaultMaxHandshakes = 256
)

// ExtensionOID identifies the tag extension in a client certificate: a
// UUID-based OID (2.25.<uuid>), which needs no registration.
var ExtensionOID = asn1.ObjectIdentifier{2, 25, 1776, 3017, 8391, 4512, 7}

const tagLabel = "mystp2p bridge client v1\x00"

// Tag is the tag of secret for a certificate with the DER
// SubjectPublicKeyInfo spki.
func Tag(secret, spki []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tagLabel))
	m.Write(spki)
	return m.Sum(nil)[:TagLen]
}

// ClientCertificate makes the certificate that proves secrets to their
// bridges: a fresh Ed25519 key, self-signed, with one tag per secret.
func ClientCertificate(secrets [][]byte) (tls.Certificate, error) {
	if len(secrets) == 0 || len(secrets) > MaxSecrets {
		return tls.Certificate{}, fmt.Errorf("gate: %d bridge secrets, want 1 to %d", len(secrets), MaxSecrets)
	}
	for _, s := range secrets {
		if len(s) < MinSecretLen {
			return tls.Certificate{}, fmt.Errorf("gate: a bridge secret of %d bytes is too short (want at least %d)", len(s), MinSecretLen)
		}
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return tls.Certificate{}, err
	}
	var tags []byte
	for _, s := range secrets {
		tags = append(tags, Tag(s, spki)...)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: "client"},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(30 * 24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		ExtraExtensions: []pkix.Extension{{Id: ExtensionOID, Value: tags}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("gate: client certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ClientConfig returns a copy of base that presents cert (from
// ClientCertificate) to servers that ask for a client certificate, in TLS
// 1.3 only, where the certificate is encrypted. Over TLS 1.2 it presents
// none.
func ClientConfig(base *tls.Config, cert tls.Certificate) *tls.Config {
	c := base.Clone()
	c.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cri.Version != tls.VersionTLS13 {
			return &tls.Certificate{}, nil
		}
		return &cert, nil
	}
	return c
}

// Authorized reports whether the TLS 1.3 connection state cs carries a
// client certificate with secret's tag. The TLS stack has already checked
// that the peer holds the certificate's key.
func Authorized(cs tls.ConnectionState, secret []byte) bool {
	if cs.Version != tls.VersionTLS13 || len(cs.PeerCertificates) == 0 {
		return false
	}
	leaf := cs.PeerCertificates[0]
	want := Tag(secret, leaf.RawSubjectPublicKeyInfo)
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(ExtensionOID) || len(ext.Value)%TagLen != 0 || len(ext.Value) > MaxSecrets*TagLen {
			continue
		}
		ok := 0
		for v := ext.Value; len(v) >= TagLen; v = v[TagLen:] {
			if hmac.Equal(v[:TagLen], want) {
				ok = 1
			}
		}
		return ok == 1
	}
	return false
}

// Config is a gate.
type Config struct {
	// Secret is the bridge secret dialers must prove (MinSecretLen bytes
	// or more).
	Secret []byte
	// Certificate is the gate's TLS server certificate.
	Certificate tls.Certificate
	// Upstream is the plain TCP address authorised connections are passed
	// to, the node's loopback WebSocket listener.
	Upstream string
	// Decoy answers everyone else's HTTP requests. Required.
	Decoy http.Handler
	// HandshakeTimeout bounds each TLS handshake (default
	// DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxHandshakes caps the handshakes in flight (default
	// DefaultMaxHandshakes).
	MaxHandshakes int
	// Logger gets debug lines for refused and failed connections; nil
	// discards them.
	Logger *slog.Logger
}

// Stats count what the gate did with the connections it accepted.
type Stats struct {
	// Passed connections proved the secret and went upstream.
	Passed uint64
	// Decoyed connections completed TLS without the proof and got the
	// decoy.
	Decoyed uint64
	// Failed connections did not complete a TLS handshake.
	Failed uint64
	// Shed connections were closed because MaxHandshakes were in flight.
	Shed uint64
}

// Gate serves one listener. It is safe for concurrent use.
type Gate struct {
	cfg   Config
	ln    net.Listener
	tls   *tls.Config
	decoy *http.Server
	conns *connQueue
	sem   chan struct{}

	passed, decoyed, failed, shed atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New checks cfg and returns a gate that will serve ln once Serve is
// called. The gate owns ln from then on.
func New(ln net.Listener, cfg Config) (*Gate, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("gate: a bridge secret of %d bytes is too short (want at least %d)", len(cfg.Secret), MinSecretLen)
	}
	if len(cfg.Certificate.Certificate) == 0 {
		return nil, errors.New("gate: a TLS certificate is required")
	}
	if cfg.Upstream == "" {
		return nil, errors.New("gate: the upstream address is required")
	}
	if cfg.Decoy == nil {
		return nil, errors.New("gate: a decoy handler is required")
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxHandshakes <= 0 {
		cfg.MaxHandshakes = DefaultMaxHandshakes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gate{
		cfg: cfg,
		ln:  ln,
		tls: &tls.Config{
			Certificates: []tls.Certificate{cfg.Certificate},
			ClientAuth:   tls.RequestClientCert,
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
		conns: newConnQueue(ln.Addr()),
		sem:   make(chan struct{}, cfg.MaxHandshakes),
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.decoy = &http.Server{
		Handler:           cfg.Decoy,
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	return g, nil
}

// Addr is the listener's address.
func (g *Gate) Addr() net.Addr { return g.ln.Addr() }

// Stats is a snapshot of the gate's counters.
func (g *Gate) Stats() Stats {
	return Stats{Passed: g.passed.Load(), Decoyed: g.decoyed.Load(), Failed: g.failed.Load(), Shed: g.shed.Load()}
}

// Serve accepts connections until Close. It returns nil after Close, else
// the accept error.
func (g *Gate) Serve() error {
	g.wg.Go(func() { _ = g.decoy.Serve(g.conns) })
	for {
		c, err := g.ln.Accept()
		if err != nil {
			if g.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		select {
		case g.sem <- struct{}{}:
		default:
			g.shed.Add(1)
			c.Close()
			continue
		}
		g.wg.Go(func() {
			defer func() { <-g.sem }()
			g.handle(c)
		})
	}
}

// Close stops the listener, the decoy server and every connection the gate
// passed upstream, and waits for them.
func (g *Gate) Close() error {
	var err error
	g.once.Do(func() {
		g.cancel()
		err = g.ln.Close()
		g.conns.Close()
		_ = g.decoy.Close()
	})
	g.wg.Wait()
	return err
}

// handle completes the TLS handshake of c and passes it upstream or to the
// decoy.
func (g *Gate) handle(c net.Conn) {
	tc := tls.Server(c, g.tls)
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		g.failed.Add(1)
		g.cfg.Logger.Debug("gate: TLS handshake failed", "remote", c.RemoteAddr(), "err", err)
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) && rhe.Conn != nil && looksLikeHTTP(rhe.RecordHeader[:]) {
			// What Go's own HTTPS server answers to plain HTTP.
			_ = rhe.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(rhe.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		c.Close()
		return
	}
	if !Authorized(tc.ConnectionState(), g.cfg.Secret) {
		g.decoyed.Add(1)
		if !g.conns.push(tc) {
			tc.Close()
		}
		return
	}
	g.passed.Add(1)
	g.pass(tc)
}

func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE", "PRI *"} {
		if bytes.HasPrefix(hdr, []byte(m)) {
			return true
		}
	}
	return false
}

// pass splices tc and a new upstream connection until either side ends.
func (g *Gate) pass(tc *tls.Conn) {
	defer tc.Close()
	d := net.Dialer{Timeout: g.cfg.HandshakeTimeout}
	up, err := d.DialContext(g.ctx, "tcp", g.cfg.Upstream)
	if err != nil {
		g.cfg.Logger.Debug("gate: upstream dial failed", "upstream", g.cfg.Upstream, "err", err)
		return
	}
	defer up.Close()
	stop := context.AfterFunc(g.ctx, func() {
		tc.Close()
		up.Close()
	})
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(up, tc)
		if cw, ok := up.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	_, _ = io.Copy(tc, up)
	_ = tc.CloseWrite()
	// The upstream finished sending; the dialer may still be sending, but
	// libp2p closed its side, so nothing more will be read from it.
	up.Close()
	tc.Close()
	<-done
}

// connQueue is a net.Listener fed by the gate: the decoy server accepts the
// connections that did not prove the secret from it.
type connQueue struct {
	addr   net.Addr
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c to the decoy server; false if the queue is closed.
func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.closed:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
