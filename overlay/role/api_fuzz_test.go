package role

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mystp2p/mystp2p/overlay/session/client"
)

// fuzzAPI is the part of the local API that needs no network: the guard,
// the router, strict JSON decoding, the settings check, history queries
// (a real bbolt file), settle and connect requests.
func fuzzAPI(t testing.TB) (http.Handler, string) {
	h, err := OpenHistory(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	rs := routes{}
	registerHistory(rs, h, DefaultHistoryInterval)
	rs.handle(http.MethodPut, "/v1/settings", func(w http.ResponseWriter, r *http.Request) {
		var u SettingsUpdate
		if err := decodeJSON(r, &u, false); err != nil {
			writeJSON(w, nil, err)
			return
		}
		_, err := checkUpdate(u, settingsNow{PriceHour: "1", PriceGiB: "2"})
		writeJSON(w, struct{}{}, err)
	})
	rs.handle(http.MethodPost, "/v1/settle", func(w http.ResponseWriter, r *http.Request) {
		var req SettleRequest
		err := decodeJSON(r, &req, true)
		if err == nil {
			err = req.check()
		}
		writeJSON(w, struct{}{}, err)
	})
	c := &Consumer{Control: client.NewControl()}
	rs.handle(http.MethodPost, "/v1/consumer/connect", func(w http.ResponseWriter, r *http.Request) {
		var req ConnectRequest
		if err := decodeJSON(r, &req, true); err != nil {
			writeJSON(w, nil, err)
			return
		}
		c.control(w, nil, ControlAnswer{Requested: "connect", Provider: req.Provider})
	})
	const addr, token = "127.0.0.1:4000", "abc"
	return guard(addr, token, rs, nil), addr
}

// No request, however malformed, gets a 500 or a panic, and every refusal
// is JSON.
func FuzzLocalAPI(f *testing.F) {
	f.Add("PUT", "/v1/settings", "127.0.0.1:4000", "Bearer abc", `{"max_sessions": 3, "limits": {"session_rate": 1}, "exit_policy": ["deny:10.0.0.0/8"]}`)
	f.Add("PUT", "/v1/settings", "127.0.0.1:4000", "Bearer abc", `{"exit_policy": ["deny-port:0", "allow-private"]}`)
	f.Add("PUT", "/v1/settings", "127.0.0.1:4000", "Bearer abc", `{"price_hour": "1", "limits": {"monthly_cap": -5}}`)
	f.Add("GET", "/v1/history?series=traffic&since=2026-01-02T15:04:05Z&limit=3", "localhost:4000", "Bearer abc", "")
	f.Add("POST", "/v1/settle", "127.0.0.1:4000", "Bearer abc", `{"hermes": "0x0000000000000000000000000000000000000001"}`)
	f.Add("POST", "/v1/consumer/connect", "127.0.0.1:4000", "Bearer abc", `{"provider": ""}`)
	f.Add("DELETE", "/v1/history", "127.0.0.1:4000", "Bearer abc", "")
	f.Add("GET", "/v1/history", "evil:4000", "Bearer abc", "")
	f.Add("GET", "/v1/history", "127.0.0.1:4000", "Bearer abd", "")
	h, _ := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, method, target, host, auth, body string) {
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req, err := http.NewRequest(method, "http://x"+target, bytes.NewReader([]byte(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.Host = host
		req.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
		if w.Code >= 400 && !strings.HasPrefix(w.Body.String(), `{"error":`) {
			t.Fatalf("%s %s: %d with a non-JSON body %q", method, target, w.Code, w.Body)
		}
	})
}
