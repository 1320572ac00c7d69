package gate

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

const decoyPage = "<h1>It works!</h1>\n"

func decoy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, decoyPage)
	})
}

func serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example.com"},
		DNSNames: []string{"www.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// echo is the upstream: it answers every connection with "up:" and echoes.
type echo struct {
	ln    net.Listener
	mu    sync.Mutex
	conns int
	wg    sync.WaitGroup
}

func newEcho(t *testing.T) *echo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{ln: ln}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns++
			e.mu.Unlock()
			e.wg.Go(func() {
				defer c.Close()
				_, _ = io.WriteString(c, "up:")
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		e.wg.Wait()
	})
	return e
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns
}

// startGate serves a gate for secret(1) in front of a new echo upstream.
func startGate(t *testing.T) (*Gate, *echo) {
	t.Helper()
	tstest.CheckGoroutines(t)
	up := newEcho(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(ln, Config{Secret: secret(1), Certificate: serverCert(t), Upstream: up.ln.Addr().String(), Decoy: decoy(),
		HandshakeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve() }()
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return g, up
}

func clientConf(t *testing.T, secrets ...[]byte) *tls.Config {
	t.Helper()
	base := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}} //nolint:gosec // test against a self-signed gate
	if len(secrets) == 0 {
		return base
	}
	cert, err := ClientCertificate(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return ClientConfig(base, cert)
}

// fetch sends one HTTP/1.1 request over conf and returns status and body.
func fetch(t *testing.T, addr string, conf *tls.Config, req string) (string, string) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Status, string(b)
}

const getRoot = "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"

func TestSecretPassesUpstream(t *testing.T) {
	g, up := startGate(t)
	c, err := tls.Dial("tcp", g.Addr().String(), clientConf(t, secret(9), secret(1)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("up:hello"))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "up:hello" {
		t.Fatalf("got %q through the gate, want the upstream's echo", buf)
	}
	if s := g.Stats(); s.Passed != 1 || s.Decoyed != 0 || up.count() != 1 {
		t.Fatalf("stats %+v, upstream conns %d: want one passed", s, up.count())
	}
}

func TestWithoutSecretOnlyTheDecoy(t *testing.T) {
	g, up := startGate(t)
	wrong := clientConf(t, secret(2))
	tls12 := clientConf(t, secret(1))
	tls12.MaxVersion = tls.VersionTLS12
	for name, conf := range map[string]*tls.Config{"no certificate": clientConf(t), "another secret": wrong, "TLS 1.2": tls12} {
		status, body := fetch(t, g.Addr().String(), conf, getRoot)
		if status != "200 OK" || body != decoyPage {
			t.Errorf("%s: got %q %q, want the decoy page", name, status, body)
		}
		// What a prober that guesses libp2p sends after TLS.
		status, _ = fetch(t, g.Addr().String(), conf, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
		if status == "101 Switching Protocols" {
			t.Errorf("%s: a WebSocket upgrade was accepted", name)
		}
	}
	if up.count() != 0 {
		t.Fatalf("%d connections reached the upstream without the secret", up.count())
	}
	if s := g.Stats(); s.Passed != 0 || s.Decoyed != 6 {
		t.Fatalf("stats %+v: want 6 decoyed", s)
	}
}

func TestWebSocketDialWithoutSecretFails(t *testing.T) {
	g, _ := startGate(t)
	d := websocket.Dialer{TLSClientConfig: clientConf(t), HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("wss://"+g.Addr().String()+"/", nil)
	if err == nil {
		c.Close()
		t.Fatal("a WebSocket dial without the secret succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("got %v, %v: want the decoy's ordinary 200", resp, err)
	}
}

func TestHTTP2Decoy(t *testing.T) {
	g, _ := startGate(t)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true} //nolint:gosec // test
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + g.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(b) != decoyPage {
		t.Fatalf("got %s %q, want the decoy over HTTP/2", resp.Proto, b)
	}
}

// TestNotTLS: libp2p's multistream header and plain HTTP get what any Go
// HTTPS server gives them, and never the header back.
func TestNotTLS(t *testing.T) {
	g, up := startGate(t)
	for _, probe := range []string{"\x13/multistream/1.0.0\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\x01\x00\x00\x00garbage"} {
		c, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, probe)
		b, _ := io.ReadAll(c)
		c.Close()
		if bytes.Contains(b, []byte("multistream")) {
			t.Errorf("probe %q: answered %q", probe, b)
		}
		if strings.HasPrefix(probe, "GET") && !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") {
			t.Errorf("plain HTTP: got %q, want Go's 400 for HTTP to an HTTPS port", b)
		}
	}
	if up.count() != 0 {
		t.Fatal("a probe reached the upstream")
	}
}

// TestReplayedHandshakeGetsNothing records an authorised dialer's bytes on
// the wire and replays them on a new connection, as an active prober that
// captured them would: the gate passes nothing upstream.
func TestReplayedHandshakeGetsNothing(t *testing.T) {
	g, up := startGate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	rec := &tstest.Buffer{} // what the client sent, through a TCP proxy
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", g.Addr().String())
		if err != nil {
			return
		}
		defer s.Close()
		go func() { _, _ = io.Copy(c, s); c.Close() }()
		_, _ = io.Copy(io.MultiWriter(s, rec), c)
	})
	c, err := tls.Dial("tcp", ln.Addr().String(), clientConf(t, secret(1)))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "hello")
	buf := make([]byte, len("up:hello"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "up:hello" {
		t.Fatalf("authorised dial through the recorder: %q, %v", buf, err)
	}
	c.Close()
	captured := []byte(rec.String())

	r, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_ = r.SetDeadline(time.Now().Add(3 * time.Second))
	_, _ = r.Write(captured)
	answer, _ := io.ReadAll(r)
	if bytes.Contains(answer, []byte("up:")) {
		t.Fatal("the replay reached the upstream")
	}
	tstest.WaitFor(t, 5*time.Second, "the replay to end", func() bool { return g.Stats().Failed+g.Stats().Decoyed >= 1 })
	if up.count() != 1 || g.Stats().Passed != 1 {
		t.Fatalf("upstream conns %d, stats %+v: the replay must not pass", up.count(), g.Stats())
	}
}

// TestCopiedTagFails: a prober that saw a client certificate (say, as a
// bridge of its own) copies its tags into a certificate for its own key.
func TestCopiedTagFails(t *testing.T) {
	g, up := startGate(t)
	real, err := ClientCertificate([][]byte{secret(1)})
	if err != nil {
		t.Fatal(err)
	}
	var tags []byte
	for _, e := range real.Leaf.Extensions {
		if e.Id.Equal(ExtensionOID) {
			tags = e.Value
		}
	}
	forged, err := ClientCertificate([][]byte{secret(3)})
	if err != nil {
		t.Fatal(err)
	}
	// Re-sign a certificate for the forger's key with the copied tags.
	tmpl := *forged.Leaf
	tmpl.ExtraExtensions = []pkix.Extension{{Id: ExtensionOID, Value: tags}}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, forged.Leaf.PublicKey, forged.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	conf := ClientConfig(clientConf(t), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: forged.PrivateKey})
	status, body := fetch(t, g.Addr().String(), conf, getRoot)
	if status != "200 OK" || body != decoyPage || up.count() != 0 {
		t.Fatalf("forged certificate: %q %q, upstream conns %d: want the decoy", status, body, up.count())
	}
}

func TestSlowHandshakesAreBounded(t *testing.T) {
	g, _ := startGate(t)
	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("the gate sent something to a silent client")
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("a silent client was held %s, past the handshake timeout", d)
	}
	tstest.WaitFor(t, 5*time.Second, "the failed handshake counted", func() bool { return g.Stats().Failed == 1 })
}

func TestConfigErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	good := Config{Secret: secret(1), Certificate: serverCert(t), Upstream: "127.0.0.1:1", Decoy: decoy()}
	for name, mod := range map[string]func(*Config){
		"short secret": func(c *Config) { c.Secret = c.Secret[:8] },
		"no cert":      func(c *Config) { c.Certificate = tls.Certificate{} },
		"no upstream":  func(c *Config) { c.Upstream = "" },
		"no decoy":     func(c *Config) { c.Decoy = nil },
	} {
		c := good
		mod(&c)
		if _, err := New(ln, c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ClientCertificate(nil); err == nil {
		t.Error("ClientCertificate(nil): no error")
	}
	if _, err := ClientCertificate([][]byte{[]byte("short")}); err == nil {
		t.Error("short secret: no error")
	}
}

// FuzzAuthorized feeds arbitrary tag extensions to the check: it never
// panics, and accepts only a value holding the right tag.
func FuzzAuthorized(f *testing.F) {
	real, err := ClientCertificate([][]byte{secret(1), secret(2)})
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range real.Leaf.Extensions {
		if e.Id.Equal(ExtensionOID) {
			f.Add(e.Value)
		}
	}
	f.Add([]byte{})
	f.Add(make([]byte, TagLen*MaxSecrets+1))
	want := Tag(secret(1), real.Leaf.RawSubjectPublicKeyInfo)
	f.Fuzz(func(t *testing.T, v []byte) {
		leaf := *real.Leaf
		leaf.Extensions = []pkix.Extension{{Id: ExtensionOID, Value: v}}
		ok := Authorized(tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{&leaf}}, secret(1))
		has := false
		if len(v)%TagLen == 0 && len(v) <= MaxSecrets*TagLen {
			for i := 0; i < len(v); i += TagLen {
				has = has || bytes.Equal(v[i:i+TagLen], want)
			}
		}
		if ok != has {
			t.Fatalf("Authorized = %v for %x, want %v", ok, v, has)
		}
	})
}
