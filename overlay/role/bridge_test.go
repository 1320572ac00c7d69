package role_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/bridge"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/relay"
)

// A relay with a local API serves its bridge line, with the secret kept in
// its data directory when asked, and says it answers DHT queries.
func TestRelayBridgeLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	limits := relay.DefaultLimits()
	rel, err := role.StartRelay(ctx, role.RelayConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback,
		Reachability: overlay.ReachabilityPublic}}, Limits: &limits, LocalAPI: true, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rel.Close()
	raw, err := os.ReadFile(filepath.Join(dir, role.APIFile))
	if err != nil {
		t.Fatal(err)
	}
	var api role.APIInfo
	if err := json.Unmarshal(raw, &api); err != nil {
		t.Fatal(err)
	}
	get := func(path string) role.BridgeInfo {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api.Addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+api.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info role.BridgeInfo
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&info) != nil {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return info
	}
	info := get("/v1/bridge")
	l, err := bridge.Parse(info.Line)
	if err != nil || l.Peer != rel.Node.ID() || l.Secret != nil || !info.DHTServing {
		t.Fatalf("bridge %+v: %+v, %v", info, l, err)
	}
	l, err = bridge.Parse(get("/v1/bridge?secret=1").Line)
	secret, serr := role.BridgeSecret(dir)
	if err != nil || serr != nil || string(l.Secret) != string(secret) {
		t.Fatalf("bridge with secret: %+v, %v, %v", l, err, serr)
	}
	if err := rel.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, role.APIFile)); !os.IsNotExist(err) {
		t.Fatalf("api file after Close: %v", err)
	}
}
