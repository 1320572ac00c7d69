package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// The local API lets `mystp2p earnings` and `mystp2p settle` reach a
// running provider, which holds its payment store open. It listens on
// loopback only; its address and a random bearer token go in a file only
// the data directory's owner can read, removed on exit.
const (
	apiFile       = "api.json"
	apiMaxBody    = 64 << 10
	apiReqTimeout = 2 * time.Minute // a settlement waits for its transaction
)

type apiInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
}

// localAPI is a running local API server.
type localAPI struct {
	srv  *http.Server
	file string
	done chan struct{}
}

// serveLocalAPI serves mux on a free loopback port for the owner of dataDir.
func serveLocalAPI(dataDir string, mux *http.ServeMux) (*localAPI, error) {
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tok[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	info, _ := json.Marshal(apiInfo{Addr: ln.Addr().String(), Token: token})
	file := filepath.Join(dataDir, apiFile)
	if err := writeFileAtomic(file, info, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local API: %w", err)
	}
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			http.Error(w, "missing or wrong token", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, apiMaxBody)
		mux.ServeHTTP(w, r)
	})
	a := &localAPI{
		srv:  &http.Server{Handler: auth, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: apiReqTimeout + 10*time.Second},
		file: file,
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

// Close stops the server and removes its file.
func (a *localAPI) Close() error {
	err := a.srv.Close()
	<-a.done
	return errors.Join(err, os.Remove(a.file))
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// errNoAPI means no process serves the local API for the data directory.
var errNoAPI = errors.New("no running node serves this data directory")

// callLocalAPI sends a request to the node running on dataDir and decodes
// its JSON answer into out. It returns errNoAPI when none runs.
func callLocalAPI(ctx context.Context, dataDir, method, path string, in, out any) error {
	raw, err := os.ReadFile(filepath.Join(dataDir, apiFile))
	if errors.Is(err, fs.ErrNotExist) {
		return errNoAPI
	}
	if err != nil {
		return err
	}
	var info apiInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return fmt.Errorf("local API file %s: %w", filepath.Join(dataDir, apiFile), err)
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, apiReqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+info.Addr+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return errNoAPI // a file left by a node that was killed
		}
		return fmt.Errorf("local API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, apiMaxBody))
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("running node: %s", bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// writeJSON answers with v, or with err as a 500 carrying its message.
func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
