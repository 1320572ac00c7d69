// Package dashboard is the local web dashboard of a provider or consumer:
// one static page (HTML, CSS and plain JavaScript, charts drawn on canvas)
// embedded in the binary and served under /ui/ by the local API
// (role.WithDashboard).
//
// The page holds no data of its own. It reads the API token from its URL
// fragment (`mystp2p dashboard` prints http://127.0.0.1:PORT/ui/#token=…;
// a fragment never reaches the server or its logs), keeps it in
// sessionStorage and sends it as Authorization: Bearer on every request to
// /v1/…, so the page itself may be served without the token.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// CSP allows the page its own scripts, styles and API only: no inline
// script, no other origin, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page under /ui/.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard is read with GET", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/ui" {
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
