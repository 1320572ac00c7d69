package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/term"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/relay"
)

// listFlag collects a flag given several times or comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// idFlags are the flags of every command that needs this node's identity.
type idFlags struct {
	dataDir        string
	passphraseFile string
	address        string
}

// defaultDataDir is ~/.mystp2p.
func defaultDataDir() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".mystp2p")
}

func (f *idFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), "directory for the keystore and node state (the peer cache "+PeerCacheFile+" too)")
	fs.StringVar(&f.passphraseFile, "passphrase-file", "", "file holding the keystore passphrase (else $MYSTP2P_PASSPHRASE, else a prompt)")
	fs.StringVar(&f.address, "identity", "", "address (0x…) of the identity to use when the keystore holds several")
}

func (f *idFlags) keystore() (*identity.Keystore, error) {
	return identity.OpenKeystore(filepath.Join(f.dataDir, "keystore"))
}

// passphrase reads the passphrase from the file, the environment or a prompt.
func (f *idFlags) passphrase(e env, confirm bool) (string, error) {
	if f.passphraseFile != "" {
		b, err := os.ReadFile(f.passphraseFile)
		if err != nil {
			return "", fmt.Errorf("read --passphrase-file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if p := e.getenv("MYSTP2P_PASSPHRASE"); p != "" {
		return p, nil
	}
	in, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("no passphrase: give --passphrase-file, set MYSTP2P_PASSPHRASE, or run in a terminal to be asked")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(e.stderr)
		return string(b), err
	}
	p, err := read("Passphrase: ")
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	if confirm {
		again, err := read("Repeat passphrase: ")
		if err != nil {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		if again != p {
			return "", errors.New("passphrases do not match")
		}
	}
	return p, nil
}

// unlock opens the keystore and decrypts this node's identity.
func (f *idFlags) unlock(e env) (*identity.Identity, error) {
	ks, err := f.keystore()
	if err != nil {
		return nil, err
	}
	if len(ks.Addresses()) == 0 {
		return nil, fmt.Errorf("%w: %s", identity.ErrNoIdentity, ks.Dir())
	}
	var addr common.Address
	if f.address != "" {
		if !common.IsHexAddress(f.address) {
			return nil, exitUsage{fmt.Errorf("--identity %q is not an address (0x + 40 hex digits)", f.address)}
		}
		addr = common.HexToAddress(f.address)
	}
	pass, err := f.passphrase(e, false)
	if err != nil {
		return nil, err
	}
	return ks.Unlock(addr, pass)
}

// netFlags are the flags of every command that joins the network.
type netFlags struct {
	listen    listFlag
	bootstrap listFlag
	relays    listFlag
	logLevel  string
	metrics   string
	// wss, wssCert and wssKey are the WebSocket-over-TLS flags (wss.go).
	wss             wssFlag
	wssCert, wssKey string
	gate            gateFlag
}

func (f *netFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.listen, "listen", "multiaddr to listen on (repeatable; default all IPv4 and IPv6 interfaces, TCP and QUIC, random ports)")
	f.registerWSS(fs)
	fs.Var(&f.bootstrap, "bootstrap", "multiaddr of a peer to join through, ending in /p2p/<peer ID> (repeatable)")
	fs.Var(&f.relays, "relay", "static relay multiaddr for when this node is behind NAT (repeatable; default: the bootstrap peers)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics on this loopback address, e.g. 127.0.0.1:9464")
}

// serveMetrics starts the metrics endpoint when --metrics is set and returns
// the registry to give the node (nil when off) and a stop function.
func (f *netFlags) serveMetrics(e env) (prometheus.Registerer, func(), error) {
	if f.metrics == "" {
		return nil, func() {}, nil
	}
	ap, err := netip.ParseAddrPort(f.metrics)
	if err != nil {
		return nil, nil, exitUsage{fmt.Errorf("--metrics %q: want a loopback IP:port such as 127.0.0.1:9464", f.metrics)}
	}
	if !ap.Addr().IsLoopback() {
		return nil, nil, exitUsage{fmt.Errorf("--metrics %s: metrics are served on loopback only", f.metrics)}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return nil, nil, fmt.Errorf("metrics listener: %w", err)
	}
	srv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	fmt.Fprintf(e.stderr, "metrics on http://%s/metrics\n", ln.Addr())
	return reg, func() { srv.Close(); <-done }, nil
}

func (f *netFlags) peers() (bootstrap, relays []peer.AddrInfo, err error) {
	if bootstrap, err = relay.ParsePeers(f.bootstrap); err != nil {
		return nil, nil, exitUsage{fmt.Errorf("--bootstrap: %w", err)}
	}
	if len(f.relays) == 0 {
		return bootstrap, bootstrap, nil
	}
	if relays, err = relay.ParsePeers(f.relays); err != nil {
		return nil, nil, exitUsage{fmt.Errorf("--relay: %w", err)}
	}
	return bootstrap, relays, nil
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, exitUsage{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// parse parses flags and rejects stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return exitUsage{err}
	}
	if fs.NArg() > 0 {
		return exitUsage{fmt.Errorf("unexpected argument %q (flags go before nothing else; see -h)", fs.Arg(0))}
	}
	return nil
}

func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: mystp2p %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// printAddrs prints a node's dialable addresses, one per line.
func printAddrs(w io.Writer, ai peer.AddrInfo) {
	infos, _ := peer.AddrInfoToP2pAddrs(&ai)
	bw := bufio.NewWriter(w)
	for _, a := range infos {
		fmt.Fprintf(bw, "  %s\n", a)
	}
	bw.Flush()
}
