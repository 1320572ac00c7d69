package role

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
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
	file string
	done chan struct{}
}

// ServeLocalAPI serves h on a free loopback port for the owner of dataDir.
// Requests without the bearer token get 401; bodies are capped at
// APIMaxBody.
func ServeLocalAPI(dataDir string, h http.Handler) (*LocalAPI, error) {
	var tok [32]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(tok[:])
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	info, _ := json.Marshal(APIInfo{Addr: ln.Addr().String(), Token: token})
	file := filepath.Join(dataDir, APIFile)
	if err := writeFileAtomic(file, info, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("local API: %w", err)
	}
	auth := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			http.Error(w, "missing or wrong token", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, APIMaxBody)
		h.ServeHTTP(w, r)
	})
	a := &LocalAPI{
		srv:  &http.Server{Handler: auth, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: APIRequestTimeout + 10*time.Second},
		file: file,
		done: make(chan struct{}),
	}
	go func() {
		defer close(a.done)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

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

// writeJSON answers with v, or with err as a 500 carrying its message.
func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
