package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// sizedOrigin serves ?n=BYTES of zeros.
func sizedOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = w.Write(make([]byte, n))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// download fetches n bytes from origin through the SOCKS5 proxy and says
// how many came and how long it took.
func download(t *testing.T, proxy netAddr, origin *httptest.Server, n int) (int64, time.Duration, error) {
	t.Helper()
	pu, _ := url.Parse("socks5h://" + proxy.String())
	tr := &http.Transport{Proxy: http.ProxyURL(pu)}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	start := time.Now()
	resp, err := c.Get(origin.URL + "/?n=" + strconv.Itoa(n))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	return got, time.Since(start), err
}

func serverOf(t *testing.T, n *overlay.Node) *server.Server {
	t.Helper()
	s, ok := servers.Load(n)
	if !ok {
		t.Fatal("no session server on the node")
	}
	return s.(*server.Server)
}

// connectSOCKS opens a session to sp and serves SOCKS5 over it.
func connectSOCKS(t *testing.T, cons *overlay.Node, sp *overlay.SignedProposal) (*client.Session, *tunnel.SOCKSServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := client.Connect(ctx, cons, client.Config{Proposal: sp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	socks, err := tunnel.NewSOCKSServer(s.Tunnel, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { socks.Close() })
	return s, socks
}

// A real download through a real session keeps to the session rate, and a
// total rate set while the session is live applies to it at once.
func TestLimitsRateInRealSession(t *testing.T) {
	origin := sizedOrigin(t)
	sn := newSessionNet(t, loopbackPolicy(t), 4)
	srv := serverOf(t, sn.prov)
	const sessionRate, totalRate = 256 << 10, 128 << 10
	if err := srv.SetLimits(server.Limits{SessionRate: sessionRate}); err != nil {
		t.Fatal(err)
	}
	s, socks := connectSOCKS(t, sn.cons, sn.proposal)

	check := func(size int, limit float64) {
		t.Helper()
		n, took, err := download(t, socks.Addr(), origin, size)
		if err != nil || n != int64(size) {
			t.Fatalf("downloaded %d of %d bytes: %v", n, size, err)
		}
		rate := float64(n) / took.Seconds()
		t.Logf("%d bytes in %v: %.0f B/s (limit %.0f B/s)", n, took, rate, limit)
		if rate > 2*limit {
			t.Fatalf("%d bytes in %v: %.0f B/s, over twice the limit %.0f B/s", n, took, rate, limit)
		}
	}
	check(3*sessionRate, sessionRate)
	if err := srv.SetLimits(server.Limits{TotalRate: totalRate}); err != nil {
		t.Fatal(err)
	}
	check(3*totalRate, totalRate)

	infos := srv.Sessions()
	if len(infos) != 1 {
		t.Fatalf("Sessions() = %+v, want the one session", infos)
	}
	in := infos[0]
	if in.ID != s.ID || in.Consumer != sn.cons.ID() || in.Path != string(wgpath.Direct) || in.Transport != string(s.Transport()) ||
		in.Earned != nil || in.Hermes != "" || in.Started.IsZero() {
		t.Fatalf("session info %+v (session %s over %s)", in, s.ID, s.Transport())
	}
	if in.BytesDown < 3*(sessionRate+totalRate) || in.BytesUp == 0 || in.BytesUp > in.BytesDown {
		t.Fatalf("session moved %d up, %d down; downloaded %d", in.BytesUp, in.BytesDown, 3*(sessionRate+totalRate))
	}
	tstest.WaitFor(t, 10*time.Second, "the month's usage to count the downloads", func() bool {
		used, month := srv.MonthUsage()
		return used >= int64(in.BytesDown) && month.Equal(monthStart(time.Now()))
	})
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Run-time settings are validated; a refused one changes nothing. A lower
// session bound refuses new sessions without dropping live ones, and a new
// exit policy applies to the new flows of a live session.
func TestRunTimeSettings(t *testing.T) {
	origin := sizedOrigin(t)
	sn := newSessionNet(t, loopbackPolicy(t), 4)
	srv := serverOf(t, sn.prov)
	want := server.Limits{SessionRate: 1 << 20, TotalRate: 4 << 20, MonthlyCap: 1 << 40}
	if err := srv.SetLimits(want); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []server.Limits{{SessionRate: -1}, {TotalRate: -1}, {MonthlyCap: -1}} {
		if err := srv.SetLimits(bad); err == nil {
			t.Fatalf("SetLimits(%+v) accepted", bad)
		}
	}
	if got := srv.Limits(); got != want {
		t.Fatalf("limits after refused changes: %+v, want %+v", got, want)
	}
	for _, n := range []int{0, -3} {
		if err := srv.SetMaxSessions(n); err == nil {
			t.Fatalf("SetMaxSessions(%d) accepted", n)
		}
	}
	if err := srv.SetPolicy(nil); err == nil {
		t.Fatal("SetPolicy(nil) accepted")
	}

	s, socks := connectSOCKS(t, sn.cons, sn.proposal)
	if err := srv.SetMaxSessions(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	other := newTestNode(t, overlay.Config{Bootstrap: []peer.AddrInfo{sn.relay.AddrInfo()}})
	if _, err := client.Connect(ctx, other, client.Config{Proposal: sn.proposal}); !isCode(err, session.RejectFull) {
		t.Fatalf("a second session with max sessions 1: %v, want %s", err, session.RejectFull)
	}
	if n, _, err := download(t, socks.Addr(), origin, 1000); err != nil || n != 1000 {
		t.Fatalf("the live session stopped working: %d bytes, %v", n, err)
	}

	def, err := tunnel.NewExitPolicy() // denies loopback
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPolicy(def); err != nil {
		t.Fatal(err)
	}
	if _, _, err := download(t, socks.Addr(), origin, 1000); err == nil {
		t.Fatal("a new flow to loopback passed after the policy changed to deny it")
	}
	if srv.Policy() != def {
		t.Fatal("Policy() is not the policy set")
	}
	if st := s.State(); st != session.Attached {
		t.Fatalf("session is %s after the policy change", st)
	}
}

func isCode(err error, code session.RejectCode) bool {
	var rej *session.RejectedError
	return errors.As(err, &rej) && rej.Code == code || err != nil && strings.Contains(err.Error(), "("+string(code)+")")
}

// At the monthly cap the live session ends and its consumer hears why, new
// sessions are refused, and the count survives a restart of the provider.
func TestMonthlyCap(t *testing.T) {
	origin := sizedOrigin(t)
	r := newRelay(t)
	boot := []peer.AddrInfo{r.AddrInfo()}
	usageFile := filepath.Join(t.TempDir(), server.UsageFileName)
	const limit = 256 << 10
	startProvider := func() (*overlay.Node, *overlay.SignedProposal, *server.Server, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		prov := newTestNode(t, overlay.Config{Host: overlay.HostConfig{Metrics: reg}, Bootstrap: boot})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		sp, err := prov.Advertise(ctx, testOffer)
		if err != nil {
			t.Fatal(err)
		}
		if err := serve(t, prov, server.Config{MaxSessions: 4, Policy: loopbackPolicy(t), PingTimeout: 3 * time.Second,
			Limits: server.Limits{MonthlyCap: limit}, UsageFile: usageFile}); err != nil {
			t.Fatal(err)
		}
		return prov, sp, serverOf(t, prov), reg
	}
	prov, sp, srv, reg := startProvider()
	cons := newTestNode(t, overlay.Config{Bootstrap: boot})
	s, socks := connectSOCKS(t, cons, sp)
	// The cap is checked once a second: the download may finish first, or
	// be cut off; either way the session ends.
	_, _, _ = download(t, socks.Addr(), origin, 4*limit)
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the session outlived the monthly cap")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), string(session.RejectMonthlyCap)) {
		t.Fatalf("the consumer was told %v, want the monthly cap", err)
	}
	used, _ := srv.MonthUsage()
	if used < limit {
		t.Fatalf("month's usage %d, below the cap %d that ended the session", used, limit)
	}
	if got := metricValue(t, reg, "mystp2p_sessions_ended_total", map[string]string{"outcome": overlay.OutcomeMonthlyCap}); got != 1 {
		t.Fatalf("sessions ended at the cap: %v, want 1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := client.Connect(ctx, cons, client.Config{Proposal: sp}); !isCode(err, session.RejectMonthlyCap) {
		t.Fatalf("a new session at the cap: %v, want %s", err, session.RejectMonthlyCap)
	}

	// Restart: the month's count comes back from the usage file.
	if err := prov.Close(); err != nil {
		t.Fatal(err)
	}
	prov2, sp2, srv2, reg2 := startProvider()
	if used2, _ := srv2.MonthUsage(); used2 != used {
		t.Fatalf("after a restart the month's usage is %d, was %d", used2, used)
	}
	if got := metricValue(t, reg2, "mystp2p_provider_month_usage_bytes", nil); got != float64(used) {
		t.Fatalf("month usage gauge %v after the restart, want %d", got, used)
	}
	if _, err := client.Connect(ctx, cons, client.Config{Proposal: sp2}); !isCode(err, session.RejectMonthlyCap) {
		t.Fatalf("a new session at the cap after a restart: %v, want %s", err, session.RejectMonthlyCap)
	}
	// Raising the cap at run time lets sessions in again.
	if err := srv2.SetLimits(server.Limits{MonthlyCap: 100 * limit}); err != nil {
		t.Fatal(err)
	}
	s2, err := client.Connect(ctx, cons, client.Config{Proposal: sp2})
	if err != nil {
		t.Fatalf("a session under the raised cap: %v", err)
	}
	s2.Close()
	_ = prov2
}
