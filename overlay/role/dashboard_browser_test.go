package role_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mystp2p/mystp2p/overlay/role"
)

// chromiumPath finds Debian's chromium; without it the browser test fails
// (it is not optional).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run .ci/run (as root) or `apt-get install -y chromium`")
	return ""
}

// browser starts headless chromium and returns a context for a new tab in
// it; every tab has its own sessionStorage.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", "new"), chromedp.UserDataDir(t.TempDir()))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // chromium's sandbox refuses to run as root
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	return ctx
}

// poll waits for the JavaScript expression to be truthy.
func poll(t *testing.T, ctx context.Context, within time.Duration, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(within),
		chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		t.Fatalf("waiting for %s (%s): %v\npage:\n%s", what, expr, err, body)
	}
}

func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// The dashboard in a real browser (headless chromium) against a paid
// provider with a live session through SOCKS5: the page shows the
// provider's peer ID; the session's byte count rises while a download
// runs; the traffic chart has samples; a bad setting shows its error and a
// good one applies; clicking Settle settles on the dev chain; and a wrong
// or missing token gets no data (401) and an auth error on the page. The
// consumer's dashboard shows its session.
func TestDashboardInBrowser(t *testing.T) {
	chromiumPath(t)
	n := startAPINet(t, true)
	b := browser(t)
	provID := n.prov.Node.ID().String()
	info := apiInfo(t, n.provDir)
	url := fmt.Sprintf("http://%s/ui/#token=%s", info.Addr, info.Token)

	page := tab(t, b)
	if err := chromedp.Do(page, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	poll(t, page, 20*time.Second, "the peer ID", fmt.Sprintf("document.getElementById('peer-id').textContent === %q", provID))
	if h := eval[string](t, page, "location.href"); strings.Contains(h, info.Token) {
		t.Fatalf("the token stayed in the address bar: %s", h)
	}

	// Slow the session down so that a download takes a while, then watch
	// its byte count rise on the page.
	var set role.Settings
	if code := n.call(t, n.provDir, http.MethodPut, "/v1/settings", []byte(`{"limits":{"session_rate":2000000}}`), &set); code != http.StatusOK {
		t.Fatalf("rate limit: %d", code)
	}
	poll(t, page, 20*time.Second, "the live session", "document.querySelector('#sessions tbody tr td.bytes-down')")
	downNow := func() int64 {
		return int64(eval[float64](t, page, "Number(document.querySelector('#sessions tbody tr td.bytes-down').dataset.bytes)"))
	}
	before := downNow()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size = 16 << 20
	var wg sync.WaitGroup
	var got int64
	var derr error
	wg.Go(func() { got, derr = n.download(ctx, size) })
	sel := "Number(document.querySelector('#sessions tbody tr td.bytes-down').dataset.bytes)"
	poll(t, page, 30*time.Second, "the byte count to rise", sel+" > "+strconv.FormatInt(before+1<<20, 10))
	mid := downNow()
	poll(t, page, 30*time.Second, "the byte count to rise again", sel+" > "+strconv.FormatInt(mid+1<<20, 10))
	wg.Wait()
	if derr != nil || got != size {
		t.Fatalf("download: %d bytes, %v", got, derr)
	}
	poll(t, page, 30*time.Second, "samples in the traffic chart", "Number(document.getElementById('traffic-chart').dataset.points) > 0")

	// Settings through the form: a bad rule shows its error and changes
	// nothing; a good value applies.
	if err := chromedp.Do(page, chromedp.SetValue("#set-exit-policy", "deny:not-a-prefix"), chromedp.Click("#settings-save")); err != nil {
		t.Fatal(err)
	}
	poll(t, page, 10*time.Second, "the settings error", "document.getElementById('settings-result').textContent.startsWith('exit_policy')")
	if err := chromedp.Do(page, chromedp.SetValue("#set-exit-policy", "allow-loopback"), chromedp.SetValue("#set-max-sessions", "9"),
		chromedp.Click("#settings-save")); err != nil {
		t.Fatal(err)
	}
	poll(t, page, 10*time.Second, "the settings saved", "document.getElementById('settings-result').textContent === 'saved'")
	if m := n.prov.Sessions.MaxSessions(); m != 9 {
		t.Fatalf("max sessions after the form: %d, want 9", m)
	}

	// Settle: the button appears once the hermes has promised something.
	btn := fmt.Sprintf("document.querySelector('button.settle[data-hermes=%q]')", n.hubAddr)
	poll(t, page, 60*time.Second, "something to settle", btn+" && !"+btn+".disabled")
	if err := chromedp.Do(page, chromedp.Click(fmt.Sprintf("button.settle[data-hermes=%q]", n.hubAddr))); err != nil {
		t.Fatal(err)
	}
	poll(t, page, 60*time.Second, "the settlement", "document.getElementById('settle-result').dataset.done === '1'")
	res := eval[string](t, page, "document.getElementById('settle-result').textContent")
	if !strings.HasPrefix(res, "settled ") || strings.HasPrefix(res, "settled 0 ") {
		t.Fatalf("settle result on the page: %q", res)
	}
	var rows []role.EarningRow
	if code := n.call(t, n.provDir, http.MethodGet, "/v1/earnings", nil, &rows); code != http.StatusOK || len(rows) != 1 || rows[0].Settled == "0" {
		t.Fatalf("earnings after the click: %d %+v", code, rows)
	}
	var cs role.ConsumerStatus
	if code := n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &cs); code != http.StatusOK || cs.Spent == "0" || cs.Spent != cs.SpentTotal {
		t.Fatalf("the paying consumer's status: %d %+v", code, cs)
	}

	// A wrong token: no data, and the page says why.
	bad := tab(t, b)
	if err := chromedp.Do(bad, chromedp.Navigate(fmt.Sprintf("http://%s/ui/#token=%s", info.Addr, strings.Repeat("0", 64)))); err != nil {
		t.Fatal(err)
	}
	poll(t, bad, 20*time.Second, "the auth error", "!document.getElementById('auth-error').hidden")
	if txt := eval[string](t, bad, "document.body.innerText"); strings.Contains(txt, provID) || !strings.Contains(txt, "wrong token") {
		t.Fatalf("page with a wrong token: %q", txt)
	}
	if code := eval[int](t, bad, "fetch('/v1/status', {headers: {Authorization: 'Bearer 00'}}).then(r => r.status)"); code != http.StatusUnauthorized {
		t.Fatalf("data with a wrong token from the page: %d", code)
	}
	// No token at all.
	none := tab(t, b)
	if err := chromedp.Do(none, chromedp.Navigate(fmt.Sprintf("http://%s/ui/", info.Addr))); err != nil {
		t.Fatal(err)
	}
	poll(t, none, 20*time.Second, "the auth error", "!document.getElementById('auth-error').hidden")
	if txt := eval[string](t, none, "document.body.innerText"); strings.Contains(txt, provID) || !strings.Contains(txt, "no token") {
		t.Fatalf("page without a token: %q", txt)
	}
	for _, path := range []string{"/v1/status", "/v1/sessions", "/v1/earnings", "/v1/history?series=traffic", "/v1/settings"} {
		if code := eval[int](t, none, fmt.Sprintf("fetch(%q).then(r => r.status)", path)); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token from the page: %d", path, code)
		}
	}
	if code := eval[int](t, none, "fetch('/v1/settle', {method: 'POST', body: '{}'}).then(r => r.status)"); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/settle without a token from the page: %d", code)
	}

	// The consumer's dashboard.
	cinfo := apiInfo(t, n.consDir)
	cons := tab(t, b)
	if err := chromedp.Do(cons, chromedp.Navigate(fmt.Sprintf("http://%s/ui/#token=%s", cinfo.Addr, cinfo.Token))); err != nil {
		t.Fatal(err)
	}
	poll(t, cons, 20*time.Second, "the consumer's session", fmt.Sprintf(
		"document.getElementById('c-state').textContent === 'connected' && document.getElementById('c-provider').textContent === %q", provID))
	poll(t, cons, 20*time.Second, "the consumer's bytes", fmt.Sprintf("Number(document.getElementById('c-bytes').dataset.bytes) >= %d", size))
}
