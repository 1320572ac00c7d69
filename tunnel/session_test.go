package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func newOrigin(t *testing.T) (*httptest.Server, netip.AddrPort) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s from %s", r.URL.Path, r.RemoteAddr)
	}))
	t.Cleanup(srv.Close)
	return srv, srv.Listener.Addr().(*net.TCPAddr).AddrPort()
}

func httpGetVia(t *testing.T, dial func(ctx context.Context) (net.Conn, error), path string) string {
	t.Helper()
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	resp, err := cl.Get("http://origin.test" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSessionHTTP(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			_, origin := newOrigin(t)
			cons, prov := newSessionPair(t, tr, pairOptions{policy: []PolicyOption{WithAllowLoopback()}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			body := httpGetVia(t, func(ctx context.Context) (net.Conn, error) { return cons.DialTCP(ctx, origin) }, "/x")
			if !strings.HasPrefix(body, "hello /x from 127.0.0.1:") {
				t.Fatalf("body %q", body)
			}
			addrs, err := cons.LookupHost(ctx, "origin.test")
			if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.1") {
				t.Fatalf("LookupHost = %v, %v", addrs, err)
			}
			if _, err := cons.LookupHost(ctx, "missing.test"); !errors.Is(err, ErrNameNotFound) {
				t.Fatalf("LookupHost(missing) err = %v, want ErrNameNotFound", err)
			}
			cs, ps := cons.Stats(), prov.Stats()
			if cs.TxBytes == 0 || cs.RxBytes == 0 || ps.TxBytes == 0 || ps.RxBytes == 0 {
				t.Fatalf("stats not counted: consumer %+v provider %+v", cs, ps)
			}
			hs, err := cons.LastHandshake()
			if err != nil || hs.IsZero() {
				t.Fatalf("LastHandshake = %v, %v", hs, err)
			}
		})
	}
}
