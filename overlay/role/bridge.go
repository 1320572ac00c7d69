package role

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/bridge"
)

// BridgeSecretFile is the name of the bridge secret in a data directory.
const BridgeSecretFile = "bridge.secret"

// BridgeInfo is what GET /v1/bridge answers: the node's bridge line and
// whether the node answers DHT queries right now (a consumer that joins
// through a bridge that does not can reach it but discovers nothing
// through it).
type BridgeInfo struct {
	Line       string `json:"line"`
	DHTServing bool   `json:"dht_serving"`
}

// BridgeSecret returns the bridge secret kept in dataDir, generating it
// (mode 0600) the first time.
func BridgeSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, BridgeSecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != bridge.SecretLen {
			return nil, fmt.Errorf("bridge secret %s: %d bytes, want %d: remove it to make a new one", path, len(b), bridge.SecretLen)
		}
		return b, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("bridge secret: %w", err)
	}
	secret := make([]byte, bridge.SecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("bridge secret: %w", err)
	}
	if err := writeFileAtomic(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("bridge secret: %w", err)
	}
	return secret, nil
}

// handleBridge serves GET /v1/bridge on mux (see bridgeHandler).
func handleBridge(mux *http.ServeMux, node *overlay.Node, dataDir string) {
	mux.HandleFunc("GET /v1/bridge", bridgeHandler(node, dataDir))
}

// bridgeHandler serves GET /v1/bridge[?secret=1] for node: its bridge line
// from its current addresses, with the secret in dataDir when asked.
func bridgeHandler(node *overlay.Node, dataDir string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var secret []byte
		if r.URL.Query().Get("secret") == "1" {
			var err error
			if secret, err = BridgeSecret(dataDir); err != nil {
				writeJSON(w, nil, err)
				return
			}
		}
		l, err := bridge.FromAddrInfo(node.AddrInfo(), secret)
		if err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		writeJSON(w, BridgeInfo{Line: l.String(), DHTServing: node.DHT().Serving()}, nil)
	}
}
