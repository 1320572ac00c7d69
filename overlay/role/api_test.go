package role_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/overlay/session/server"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
)

// rawGet sends a GET to dir's API with the headers given (no token unless
// one is among them) and returns the status and body.
func rawGet(t *testing.T, dir, path string, hdr map[string]string) (int, string) {
	t.Helper()
	info := apiInfo(t, dir)
	req, err := http.NewRequest(http.MethodGet, "http://"+info.Addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The provider's and consumer's local APIs over a live free session:
// status, sessions, history, settings (a bad one changes nothing), the
// consumer's status, proposals, disconnect and connect; and every way a
// request is refused — no token, a wrong one, a foreign Host or Origin, a
// wrong method, an unknown path, bad JSON, an oversized body — with a 4xx
// and a JSON message, never a 500.
func TestLocalAPIEndpoints(t *testing.T) {
	tstest.CheckGoroutines(t, tstest.LeakTimeout(20*time.Second))
	n := startAPINet(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	provID, consID := n.prov.Node.ID().String(), n.cons.Node.ID().String()

	var st role.NodeStatus
	if code := n.call(t, n.provDir, http.MethodGet, "/v1/status", nil, &st); code != http.StatusOK {
		t.Fatalf("status: %d", code)
	}
	if st.PeerID != provID || len(st.Roles) != 1 || st.Roles[0] != "provider" || st.Proposal == nil || st.Peers == 0 || len(st.Transports) == 0 {
		t.Fatalf("provider status: %+v", st)
	}

	// A download through the session shows in both APIs.
	if got, err := n.download(ctx, 4<<20); err != nil || got != 4<<20 {
		t.Fatalf("download: %d bytes, %v", got, err)
	}
	var rows []role.SessionRow
	if code := n.call(t, n.provDir, http.MethodGet, "/v1/sessions", nil, &rows); code != http.StatusOK || len(rows) != 1 {
		t.Fatalf("sessions: %d %+v", code, rows)
	}
	if r := rows[0]; r.Consumer != consID || r.BytesDown < 4<<20 || r.Earned != "0" || r.Path == "" || r.Transport == "" {
		t.Fatalf("session row: %+v", r)
	}
	var cs role.ConsumerStatus
	if code := n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &cs); code != http.StatusOK {
		t.Fatalf("consumer status: %d", code)
	}
	if cs.State != client.ConsumerConnected || cs.Provider != provID || cs.BytesDown < 4<<20 || cs.ConnectedSince == nil || cs.Spent != "0" {
		t.Fatalf("consumer status: %+v", cs)
	}
	// The traffic history has the download (the recorder samples every 200 ms).
	tstest.WaitFor(t, 10*time.Second, "the download in the traffic history", func() bool {
		var h role.HistoryAnswer
		if n.call(t, n.provDir, http.MethodGet, "/v1/history?series=traffic&since=0", nil, &h) != http.StatusOK {
			return false
		}
		var down uint64
		for _, s := range h.Samples {
			down += s.Down
		}
		return down >= 4<<20
	})

	// Refusals.
	for _, c := range []struct {
		name, path string
		hdr        map[string]string
		want       int
		msg        string
	}{
		{"no token", "/v1/status", nil, http.StatusUnauthorized, "missing token"},
		{"wrong token", "/v1/status", map[string]string{"Authorization": "Bearer 00"}, http.StatusUnauthorized, "wrong token"},
		{"token as a query", "/v1/sessions?token=" + apiInfo(t, n.provDir).Token, nil, http.StatusUnauthorized, "missing token"},
		{"foreign host", "/v1/status", map[string]string{"Host": "evil.example:80", "Authorization": "Bearer " + apiInfo(t, n.provDir).Token},
			http.StatusForbidden, "is not this node's API address"},
		{"foreign host for the page", "/ui/", map[string]string{"Host": "evil.example:80"}, http.StatusForbidden, "is not this node's API address"},
		{"foreign origin", "/v1/status", map[string]string{"Origin": "http://evil.example", "Authorization": "Bearer " + apiInfo(t, n.provDir).Token},
			http.StatusForbidden, "are refused"},
		{"unknown path", "/v1/nothing", map[string]string{"Authorization": "Bearer " + apiInfo(t, n.provDir).Token}, http.StatusNotFound, "no endpoint"},
	} {
		code, body := rawGet(t, n.provDir, c.path, c.hdr)
		if code != c.want || !strings.Contains(body, c.msg) || !strings.HasPrefix(body, `{"error":`) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.want, c.msg)
		}
		if strings.Contains(body, provID) {
			t.Errorf("%s: the refusal gave away the peer ID", c.name)
		}
	}
	// The page is served without the token, and holds no data.
	code, page := rawGet(t, n.provDir, "/ui/", nil)
	if code != http.StatusOK || !strings.Contains(page, `id="peer-id"`) || strings.Contains(page, provID) {
		t.Fatalf("page: %d (%d bytes)", code, len(page))
	}
	var e role.APIErrorBody
	for _, c := range []struct {
		name, method, path string
		body               any
		want               int
		msg                string
	}{
		{"wrong method", http.MethodPost, "/v1/status", nil, http.StatusMethodNotAllowed, "does not take POST"},
		{"bad JSON", http.MethodPut, "/v1/settings", []byte(`{"max_sessions":`), http.StatusBadRequest, "bad JSON"},
		{"unknown field", http.MethodPut, "/v1/settings", []byte(`{"max_session":3}`), http.StatusBadRequest, `unknown field "max_session"`},
		{"two objects", http.MethodPut, "/v1/settings", []byte(`{} {}`), http.StatusBadRequest, "one object"},
		{"empty body", http.MethodPut, "/v1/settings", []byte(``), http.StatusBadRequest, "empty body"},
		{"wrong type", http.MethodPut, "/v1/settings", []byte(`{"max_sessions":"3"}`), http.StatusBadRequest, "max_sessions"},
		{"oversized", http.MethodPut, "/v1/settings", []byte(`{"exit_policy":["` + strings.Repeat("a", role.APIMaxBody) + `"]}`),
			http.StatusRequestEntityTooLarge, "body over"},
		{"bad series", http.MethodGet, "/v1/history?series=bytes", nil, http.StatusBadRequest, `series "bytes"`},
		{"bad since", http.MethodGet, "/v1/history?series=traffic&since=yesterday", nil, http.StatusBadRequest, `since "yesterday"`},
		{"settle free", http.MethodPost, "/v1/settle", []byte(`{}`), http.StatusConflict, "no chain"},
		{"settle bad hermes", http.MethodPost, "/v1/settle", []byte(`{"hermes":"nope"}`), http.StatusBadRequest, `hermes "nope"`},
	} {
		e = role.APIErrorBody{}
		if code := n.call(t, n.provDir, c.method, c.path, c.body, &e); code != c.want || !strings.Contains(e.Error, c.msg) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, e.Error, c.want, c.msg)
		}
	}

	// Settings: a bad field refuses the whole update.
	var set role.Settings
	if code := n.call(t, n.provDir, http.MethodGet, "/v1/settings", nil, &set); code != http.StatusOK {
		t.Fatalf("settings: %d", code)
	}
	if set.MaxSessions != 2 || set.Limits != (role.LimitSettings{}) || len(set.ExitPolicy) != 1 || set.PriceHour != "0" {
		t.Fatalf("settings at start: %+v", set)
	}
	for _, c := range []struct{ body, field string }{
		{`{"max_sessions": 5, "limits": {"session_rate": 1000}, "exit_policy": ["deny:nonsense"]}`, "exit_policy"},
		{`{"max_sessions": 0, "limits": {"session_rate": 1000}}`, "max_sessions"},
		{`{"limits": {"total_rate": 10, "monthly_cap": -1}}`, "limits.monthly_cap"},
		{`{"price_hour": "-5"}`, "price_hour"},
		{`{"price_gib": "1.5"}`, "price_gib"},
	} {
		e = role.APIErrorBody{}
		if code := n.call(t, n.provDir, http.MethodPut, "/v1/settings", []byte(c.body), &e); code != http.StatusBadRequest || !strings.HasPrefix(e.Error, c.field) {
			t.Errorf("PUT %s: %d %q, want 400 naming %s", c.body, code, e.Error, c.field)
		}
	}
	if l, m := n.prov.Sessions.Limits(), n.prov.Sessions.MaxSessions(); l != (server.Limits{}) || m != 2 {
		t.Fatalf("refused updates changed the server: limits %+v, max sessions %d", l, m)
	}
	good := `{"max_sessions": 7, "limits": {"session_rate": 50000000, "monthly_cap": 1099511627776}, "exit_policy": ["allow-loopback", "deny-port:6667"], "price_hour": "0"}`
	if code := n.call(t, n.provDir, http.MethodPut, "/v1/settings", []byte(good), &set); code != http.StatusOK {
		t.Fatalf("good settings: %d", code)
	}
	if l := n.prov.Sessions.Limits(); l.SessionRate != 50000000 || l.MonthlyCap != 1<<40 || l.TotalRate != 0 || n.prov.Sessions.MaxSessions() != 7 {
		t.Fatalf("settings did not apply: %+v", l)
	}
	// Prices change at run time: the proposal is re-signed at once.
	seq := n.prov.Node.CurrentProposal().Proposal.Seq
	if code := n.call(t, n.provDir, http.MethodPut, "/v1/settings", []byte(`{"price_hour": "5", "price_gib": "7"}`), &set); code != http.StatusOK {
		t.Fatalf("new prices: %d", code)
	}
	if sp := n.prov.Node.CurrentProposal().Proposal; sp.PriceHour != "5" || sp.PriceGiB != "7" || sp.Seq <= seq || set.PriceHour != "5" {
		t.Fatalf("after new prices: proposal %s/%s seq %d (was %d), settings %+v", sp.PriceHour, sp.PriceGiB, sp.Seq, seq, set)
	}
	if set.MaxSessions != 7 || len(set.ExitPolicy) != 2 {
		t.Fatalf("settings answer: %+v", set)
	}
	// The month's usage is accounted once a second, not on every read.
	tstest.WaitFor(t, 10*time.Second, "the month's usage to count the download", func() bool {
		return n.call(t, n.provDir, http.MethodGet, "/v1/settings", nil, &set) == http.StatusOK && set.Usage.Used > 0
	})
	// The session still carries traffic under the new policy.
	if got, err := n.download(ctx, 1<<20); err != nil || got != 1<<20 {
		t.Fatalf("download after the settings: %d bytes, %v", got, err)
	}

	// The consumer: proposals, then disconnect and connect again.
	var props []role.ProposalRow
	if code := n.call(t, n.consDir, http.MethodGet, "/v1/proposals", nil, &props); code != http.StatusOK || len(props) != 1 ||
		props[0].Provider != provID || !props[0].Payable {
		t.Fatalf("proposals: %d %+v", code, props)
	}
	for _, c := range []struct{ body, msg string }{
		{`{"provider": "nope"}`, "not a peer ID"},
		{`{"provider": "` + consID + `"}`, "this consumer itself"},
		{`{"peer": "x"}`, "unknown field"},
	} {
		e = role.APIErrorBody{}
		if code := n.call(t, n.consDir, http.MethodPost, "/v1/consumer/connect", []byte(c.body), &e); code != http.StatusBadRequest || !strings.Contains(e.Error, c.msg) {
			t.Errorf("connect %s: %d %q", c.body, code, e.Error)
		}
	}
	var ans role.ControlAnswer
	if code := n.call(t, n.consDir, http.MethodPost, "/v1/consumer/disconnect", nil, &ans); code != http.StatusAccepted || ans.Requested != "disconnect" {
		t.Fatalf("disconnect: %d %+v", code, ans)
	}
	tstest.WaitFor(t, 30*time.Second, "the consumer to disconnect", func() bool {
		var rows []role.SessionRow
		return n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &cs) == http.StatusOK && cs.State == client.ConsumerDisconnected &&
			n.call(t, n.provDir, http.MethodGet, "/v1/sessions", nil, &rows) == http.StatusOK && len(rows) == 0
	})
	if _, err := n.download(ctx, 1024); err == nil {
		t.Fatal("a download went through while disconnected")
	}
	if code := n.call(t, n.consDir, http.MethodPost, "/v1/consumer/connect", []byte(`{"provider":"`+provID+`"}`), &ans); code != http.StatusAccepted {
		t.Fatalf("connect: %d", code)
	}
	tstest.WaitFor(t, 30*time.Second, "the consumer to connect again", func() bool {
		return n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &cs) == http.StatusOK && cs.State == client.ConsumerConnected
	})
	if got, err := n.download(ctx, 1<<20); err != nil || got != 1<<20 || cs.Provider != provID {
		t.Fatalf("download after connecting again: %d bytes, %v (provider %s)", got, err, cs.Provider)
	}
}

// POST /v1/consumer/connect with another provider switches the live
// session to it.
func TestConsumerSwitchProvider(t *testing.T) {
	n := startAPINet(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := providerConfig(t, n.prov.Node.Bootstrap()[0])
	var err error
	if cfg.Policy, err = tunnel.NewExitPolicy(tunnel.WithAllowLoopback()); err != nil {
		t.Fatal(err)
	}
	second, err := role.StartProvider(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })
	id := second.Node.ID().String()
	tstest.WaitFor(t, 30*time.Second, "the consumer to discover the second provider", func() bool {
		var props []role.ProposalRow
		n.call(t, n.consDir, http.MethodGet, "/v1/proposals?discover=1", nil, &props)
		for _, p := range props {
			if p.Provider == id {
				return true
			}
		}
		return false
	})
	var ans role.ControlAnswer
	if code := n.call(t, n.consDir, http.MethodPost, "/v1/consumer/connect", []byte(`{"provider":"`+id+`"}`), &ans); code != http.StatusAccepted {
		t.Fatalf("switch: %d", code)
	}
	var cs role.ConsumerStatus
	tstest.WaitFor(t, 30*time.Second, "the session with the second provider", func() bool {
		return n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &cs) == http.StatusOK &&
			cs.State == client.ConsumerConnected && cs.Provider == id
	})
	if got, err := n.download(ctx, 1<<20); err != nil || got != 1<<20 {
		t.Fatalf("download through the second provider: %d bytes, %v", got, err)
	}
	if rows := second.Sessions.Sessions(); len(rows) != 1 || rows[0].BytesDown < 1<<20 {
		t.Fatalf("the second provider's sessions: %+v", rows)
	}
	tstest.WaitFor(t, 20*time.Second, "the first provider to drop its session", func() bool { return n.prov.Sessions.Active() == 0 })
}

// The local API listens where it is told, on loopback only; a second node
// on the same data directory is refused while the first runs.
func TestLocalAPIListenAddr(t *testing.T) {
	dir := t.TempDir()
	for _, bad := range []string{"0.0.0.0:4000", "192.0.2.1:4000", "localhost:4000", "127.0.0.1"} {
		if _, err := role.ServeLocalAPI(dir, http.NotFoundHandler(), role.WithListenAddr(bad)); err == nil || !strings.Contains(err.Error(), "127.0.0.1:PORT") {
			t.Errorf("listen %q: %v", bad, err)
		}
	}
	addr := freeAddr(t)
	api, err := role.ServeLocalAPI(dir, http.NotFoundHandler(), role.WithListenAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	if api.Addr() != addr || apiInfo(t, dir).Addr != addr {
		t.Fatalf("listening on %s (file says %s), want %s", api.Addr(), apiInfo(t, dir).Addr, addr)
	}
	if _, err := role.ServeLocalAPI(dir, http.NotFoundHandler()); !errors.Is(err, role.ErrAPIInUse) {
		t.Fatalf("a second API on the same data directory: %v", err)
	}
}
