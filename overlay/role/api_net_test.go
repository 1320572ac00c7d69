package role_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/hermes/devchain"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/testnet"
	"github.com/mystp2p/mystp2p/testnet/tstest"
	"github.com/mystp2p/mystp2p/tunnel"
)

// apiNet is a relay, a provider and a consumer on loopback, each with its
// local API, the consumer's session up and serving SOCKS5, and an origin
// to download from; with paid, a dev chain and a hermes the session pays
// through.
type apiNet struct {
	prov     *role.Provider
	provDir  string
	cons     *role.Consumer
	consDir  string
	socks    string
	origin   *testnet.Origin
	hubAddr  string
	consumed chan error // Run's result
}

var oneToken = new(big.Int).Exp(big.NewInt(10), big.NewInt(18), nil)

func startAPINet(t *testing.T, paid bool) *apiNet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := &apiNet{provDir: t.TempDir(), consDir: t.TempDir(), consumed: make(chan error, 1)}
	boot := startRelay(t)
	origin, err := testnet.StartOrigin("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { origin.Close() })
	n.origin = origin

	cfg := providerConfig(t, boot)
	if cfg.Policy, err = tunnel.NewExitPolicy(tunnel.WithAllowLoopback()); err != nil {
		t.Fatal(err)
	}
	cfg.ExitRules = []string{"allow-loopback"}
	cfg.LocalAPI, cfg.DataDir, cfg.HistoryInterval = true, n.provDir, 200*time.Millisecond
	ccfg := role.ConsumerConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: mustID(t), Listen: loopback},
		Bootstrap: []peer.AddrInfo{boot}}, LocalAPI: true, DataDir: n.consDir}
	// The nodes' logs are shown only when the test fails.
	logs := &tstest.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the nodes' logs:\n%s", logs.String())
		}
	})
	lg := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Node.Logger, ccfg.Node.Logger = lg.With("node", "provider"), lg.With("node", "consumer")
	progress := func(m string) { lg.Info(m, "node", "consumer", "progress", true) }
	if paid {
		chain, err := devchain.New(ctx, devchain.Config{MinStake: big.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { chain.Close() })
		hubID := mustID(t)
		// The hub's stake is its pool: what providers settle is paid from it.
		if err := chain.Fund(ctx, hubID.Address(), oneToken, oneToken); err != nil {
			t.Fatal(err)
		}
		if err := chain.Chain.RegisterHermes(ctx, hubID, oneToken); err != nil {
			t.Fatal(err)
		}
		hub, err := role.StartHermes(ctx, role.HermesConfig{Node: overlay.Config{Host: overlay.HostConfig{Identity: hubID, Listen: loopback},
			Bootstrap: []peer.AddrInfo{boot}, DHTServer: true, ProposalTTL: time.Minute}, Chain: chain.Chain, DataDir: t.TempDir(), FeeBp: 250})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { hub.Close() })
		n.hubAddr = hubID.Address().Hex()
		cfg.Offer.Hermes = []string{n.hubAddr}
		cfg.Offer.PriceHour, cfg.Offer.PriceGiB = "10000000000000000", "100000000000000000" // 0.01 per hour, 0.1 per GiB
		cfg.Chain, cfg.InvoiceInterval, cfg.InvoiceTick = chain.Chain, 250*time.Millisecond, 50*time.Millisecond
		if err := chain.SendEther(ctx, cfg.Node.Host.Identity.Address(), oneToken); err != nil {
			t.Fatal(err)
		}
		cid := ccfg.Node.Host.Identity
		deposit := new(big.Int).Mul(oneToken, big.NewInt(10))
		if err := chain.Fund(ctx, cid.Address(), oneToken, deposit); err != nil {
			t.Fatal(err)
		}
		if err := chain.Chain.TopUp(ctx, cid, cid.Address(), hubID.Address(), deposit); err != nil {
			t.Fatal(err)
		}
		ccfg.Hermes, ccfg.MaxHermesFeeBp = hubID.PeerID().String(), 500
	}
	if n.prov, err = role.StartProvider(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.prov.Close() })
	if n.cons, err = role.StartConsumer(ctx, ccfg); err != nil {
		t.Fatal(err)
	}
	n.socks = freeAddr(t)
	rctx, stop := context.WithCancel(context.Background())
	go func() {
		n.consumed <- n.cons.Run(rctx, client.ConsumeConfig{Query: overlay.Query{Provider: n.prov.Node.ID()}, SOCKSAddr: n.socks, Progress: progress})
	}()
	// Cleanups run last first: the consumer stops before the provider.
	t.Cleanup(func() {
		stop()
		if err := <-n.consumed; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("consumer run: %v", err)
		}
		n.cons.Close()
	})
	tstest.WaitFor(t, time.Minute, "the consumer's session", func() bool {
		var st role.ConsumerStatus
		return n.call(t, n.consDir, http.MethodGet, "/v1/consumer/status", nil, &st) == http.StatusOK && st.State == client.ConsumerConnected
	})
	return n
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// apiInfo reads the API file of dir.
func apiInfo(t *testing.T, dir string) role.APIInfo {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, role.APIFile))
	if err != nil {
		t.Fatal(err)
	}
	var info role.APIInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

// call sends a request with the token of dir's API, decodes a 2xx answer
// into out (an error's into an APIErrorBody if out is one) and returns the
// status.
func (n *apiNet) call(t *testing.T, dir, method, path string, in, out any) int {
	t.Helper()
	info := apiInfo(t, dir)
	var body io.Reader
	if b, ok := in.([]byte); ok {
		body = bytes.NewReader(b)
	} else if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+info.Addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if _, isErr := out.(*role.APIErrorBody); isErr || resp.StatusCode/100 == 2 {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %s: %q: %v", method, path, resp.Status, raw, err)
			}
		}
	}
	return resp.StatusCode
}

// download fetches n bytes from the origin through the consumer's SOCKS5
// port.
func (n *apiNet) download(ctx context.Context, size int64) (int64, error) {
	return testnet.FetchThroughSOCKS(ctx, n.socks, fmt.Sprintf("%sbytes/%d", n.origin.URL(), size), io.Discard)
}
