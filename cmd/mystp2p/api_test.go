package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mystp2p/mystp2p/overlay/role"
)

// The local API answers only its owner's token, on loopback, and a file
// left behind by a killed node reads as no node.
func TestLocalAPI(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out struct{ N int }
	if err := callLocalAPI(ctx, dir, http.MethodGet, "/v1/x", nil, &out); !errors.Is(err, errNoAPI) {
		t.Fatalf("no node: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/x", func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(struct{ N int }{7}) })
	api, err := role.ServeLocalAPI(dir, mux)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, role.APIFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("api file %v, %v: want mode 0600", st, err)
	}
	if err := callLocalAPI(ctx, dir, http.MethodGet, "/v1/x", nil, &out); err != nil || out.N != 7 {
		t.Fatalf("call: %+v, %v", out, err)
	}
	// A node without /v1/status (a relay or a hermes hub): status says so.
	if _, _, err := runCmd(t, ctx, "status", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "is a relay or a hermes hub") {
		t.Fatalf("status of a node without /v1/status: %v", err)
	}
	// Without the token: refused.
	raw, _ := os.ReadFile(filepath.Join(dir, role.APIFile))
	var info role.APIInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	addr := info.Addr
	resp, err := http.Get("http://" + addr + "/v1/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s", resp.Status)
	}
	if ip, _, _ := net.SplitHostPort(addr); ip != "127.0.0.1" {
		t.Fatalf("API listens on %s, want loopback", addr)
	}
	// A stale file (the node was killed) reads as no node.
	stale, _ := os.ReadFile(filepath.Join(dir, role.APIFile))
	if err := api.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, role.APIFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("api file left after Close: %v", err)
	}
	os.WriteFile(filepath.Join(dir, role.APIFile), stale, 0o600)
	if err := callLocalAPI(ctx, dir, http.MethodGet, "/v1/x", nil, &out); !errors.Is(err, errNoAPI) {
		t.Fatalf("stale file: %v", err)
	}
}
