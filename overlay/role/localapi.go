package role

import (
	"crypto/rand"
	"io"
	"log"
	"slices"
	"strings"

	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/mystp2p/mystp2p/overlay/role/dashboard"
)

// The local API lets other processes of the node's owner (`mystp2p
// earnings`, `mystp2p settle`) reach a running node, which holds its stores
// open. It listens on loopback only; its address and a random bearer token
// go in APIFile in the data directory, readable by the owner only, and
// removed on Close.
const (
	// APIFile is the name of the local API's address file in the data directory.
	APIFile = "api.json"
	// APIMaxBody bounds request and response bodies.
	APIMaxBody = 64 << 10
	// APIRequestTimeout bounds one request (a settlement waits for its transaction).
	APIRequestTimeout = 2 * time.Minute
)

// APIInfo is what APIFile holds.
type APIInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// LocalAPI is a running local API server.
type LocalAPI struct {
	srv  *http.Server
	addr string
	file string
	done chan struct{}
}

// APIOption configures ServeLocalAPI.
type APIOption func(*apiOptions)

type apiOptions struct {
	ui   http.Handler
	addr string
}

// WithListenAddr listens on addr, a loopback IP and port, instead of a
// free port: a fixed port lets `ssh -L PORT:127.0.0.1:PORT` reach the
// dashboard of a headless node across its restarts. Empty: a free port.
func WithListenAddr(addr string) APIOption {
	return func(o *apiOptions) { o.addr = addr }
}

// CheckAPIAddr refuses an API listen address that is not a loopback IP and
// a port.
func CheckAPIAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("local API address %q: %v (want 127.0.0.1:PORT)", addr, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("local API address %q: the API listens on loopback only (want 127.0.0.1:PORT)", addr)
	}
	return nil
}

// WithDashboard serves the web dashboard's static page under /ui/ (and
// redirects / there). The page holds no data: it asks the API for
// everything with the token the user gives it.
func WithDashboard() APIOption {
	return func(o *apiOptions) { o.ui = dashboard.Handler() }
}

// ServeLocalAPI serves h on a free loopback port for the owner of dataDir.
// Every request must name the listener in its Host header (a page on a
// rebound DNS name cannot reach it) and carry no foreign Origin; requests
// to h without the bearer token get 401; bodies are capped at APIMaxBody.
func ServeLocalAPI(dataDir string, h http.Handler, opts ...APIOption) (*LocalAPI, error) {
	var o apiOptions
	for _, opt := range opts {
		opt(&o)
	}
	file := filepath.Join(dataDir, APIFile)
	if inUse(file) {
		return nil, fmt.Errorf("%w: %s", ErrAPIInUse, dataDir)
	}
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tok[:])
	listen := "127.0.0.1:0"
	if o.addr != "" {
		if err := CheckAPIAddr(o.addr); err != nil {
			return nil, err
		}
		listen = o.addr
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	addr := ln.Addr().String()
	info, _ := json.Marshal(APIInfo{Addr: addr, Token: token})
	if err := writeFileAtomic(file, info, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local API: %w", err)
	}
	a := &LocalAPI{
		srv: &http.Server{Handler: guard(addr, token, h, o.ui), ReadHeaderTimeout: 10 * time.Second,
			WriteTimeout: APIRequestTimeout + 10*time.Second, ErrorLog: log.New(io.Discard, "", 0)},
		addr: addr,
		file: file,
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

// guard checks what every request to the listener at addr must satisfy,
// serves ui (if set) without the token under /ui/, and h with it.
func guard(addr, token string, h, ui http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(addr)
	hosts := []string{addr, "localhost:" + port}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(hosts, r.Host) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("Host %q is not this node's API address %s: open the dashboard at http://%s/ui/", r.Host, addr, addr))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(hosts, strings.TrimPrefix(origin, "http://")) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("requests from pages of %s are refused: only the dashboard at http://%s/ui/ may call this API", origin, addr))
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if ui != nil {
			switch {
			case r.URL.Path == "/":
				http.Redirect(w, r, "/ui/", http.StatusFound)
				return
			case r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/"):
				ui.ServeHTTP(w, r)
				return
			}
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mystp2p"`)
			msg := "missing token: send Authorization: Bearer <token from api.json in the data directory>"
			if r.Header.Get("Authorization") != "" {
				msg = "wrong token: use the one in api.json in the node's data directory (it changes at every start)"
			}
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, APIMaxBody)
		h.ServeHTTP(w, r)
	})
}

// ErrAPIInUse means another running node serves the local API of the data
// directory.
var ErrAPIInUse = errors.New("another running node serves the local API in this data directory (give this one its own --data-dir)")

// inUse reports whether the API file at path names a listener that
// answers (a file left by a killed node does not).
func inUse(path string) bool {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var info APIInfo
	if json.Unmarshal(raw, &info) != nil || info.Addr == "" {
		return false
	}
	c, err := net.DialTimeout("tcp", info.Addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Addr is the API's loopback address.
func (a *LocalAPI) Addr() string { return a.addr }

// Close stops the server, waits for it and removes its file.
func (a *LocalAPI) Close() error {
	err := a.srv.Close()
	<-a.done
	return errors.Join(err, os.Remove(a.file))
}

// writeFileAtomic writes path through a temporary file and a rename, so a
// reader never sees half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
