// Command mystp2p runs a node of the mystp2p decentralised VPN overlay:
// provider, consumer, relay/bootstrap, hermes hub, or a whole local testnet.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/role"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/tunnel"
)

const usage = `mystp2p — a decentralised VPN overlay node

Usage:
  mystp2p identity new|show [flags]   create or show this node's identity
  mystp2p provide [flags]             offer VPN service
  mystp2p proposals [flags]           list providers on offer
  mystp2p connect [flags]             open a session and serve SOCKS5 through it
  mystp2p relay [flags]               run a public bootstrap/relay node
  mystp2p bridge [flags]              print the bridge line of the node running here
  mystp2p hermes [withdraw|leave] [flags] run a hermes payment hub, or take its fees or stake out
  mystp2p account [topup|withdraw] [flags] show balances, or top up or withdraw a channel with a hermes
  mystp2p earnings [flags]            show what this provider earned, per hermes
  mystp2p settle [flags]              settle earnings on chain to the beneficiary
  mystp2p status [flags]              show the node running here and its live sessions
  mystp2p dashboard [--open] [flags]  print (or open) the link to the running node's web dashboard
  mystp2p chain deploy [flags]        deploy the payment contracts on a chain and write its network file
  mystp2p testnet up|run|chain [flags] run a whole network, or a dev chain, on this machine
  mystp2p config init --role ROLE     write a commented config file for provider, consumer, relay or hermes
  mystp2p version                     print the version, the commit and the Go version

Run "mystp2p <command> -h" for a command's flags. provide, connect, relay and
hermes also read them from <data-dir>/config.toml (or --config FILE); a flag
on the command line wins, then an environment variable, then the file.
`

// exitUsage marks errors caused by how the command was called (exit code 2).
type exitUsage struct{ error }

func (u exitUsage) Unwrap() error { return u.error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintln(os.Stderr, "mystp2p:", err)
	var u exitUsage
	if errors.As(err, &u) {
		os.Exit(2)
	}
	os.Exit(1)
}

// env is what every command gets from the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// cfg, when set, receives what a node command took from its config
	// file (config.go).
	cfg **configUse
	// flagsOnly, when set, makes a node command hand it its flag set, with
	// every flag registered and nothing parsed, and return errFlagsOnly.
	flagsOnly func(*flag.FlagSet)
}

// run runs one command. Library errors do not know the command line, so
// the flag that fixes one is named here.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return withFlagHint(runCommand(ctx, args, stdin, stdout, stderr))
}

// flagHints name the flag that fixes a library error.
var flagHints = []struct {
	err  error
	hint string
}{
	{overlay.ErrNoBootstrap, "check --bootstrap, or join through a --bridge"},
	{role.ErrHermesNotRegistered, "check --hermes and --contract"},
	{role.ErrNoChain, "start the provider with --hermes, --chain-rpc and --contract"},
	{identity.ErrAmbiguousIdentity, "choose one with --identity 0x…"},
	{identity.ErrNoKeystoreDir, "set --keystore or --data-dir"},
	{tunnel.ErrInterfaceExists, "choose another --tun name or remove it"},
	// Before client.ErrDiscovery, which wraps it.
	{client.ErrNeedsPayment, "with --hermes ID; top it up first with `mystp2p account topup`"},
	{client.ErrDiscovery, "check --bootstrap and widen the filters"},
	{client.ErrSessionEnded, "use --auto-reconnect to move on by itself"},
}

// hintedError is an error with the flag that fixes it.
type hintedError struct {
	error
	hint string
}

func (h hintedError) Error() string { return h.error.Error() + " (" + h.hint + ")" }
func (h hintedError) Unwrap() error { return h.error }

func withFlagHint(err error) error {
	if err == nil {
		return nil
	}
	for _, fh := range flagHints {
		if errors.Is(err, fh.err) {
			return hintedError{err, fh.hint}
		}
	}
	return err
}

func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var cfg *configUse
	e := env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, cfg: &cfg}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage{errors.New("no command given")}
	}
	cmd, rest := args[0], args[1:]
	// node runs a command that reads the config file, and says so in an
	// error about a flag whose value came from it.
	node := func(run func(context.Context, env, []string) error) error {
		err := run(ctx, e, rest)
		return cfg.annotate(err)
	}
	switch cmd {
	case "identity":
		return cmdIdentity(ctx, e, rest)
	case "provide":
		return node(cmdProvide)
	case "proposals":
		return cmdProposals(ctx, e, rest)
	case "connect":
		return node(cmdConnect)
	case "relay":
		return node(cmdRelay)
	case "bridge":
		return cmdBridge(ctx, e, rest)
	case "hermes":
		return node(cmdHermes)
	case "account":
		return cmdAccount(ctx, e, rest)
	case "earnings":
		return cmdEarnings(ctx, e, rest)
	case "settle":
		return cmdSettle(ctx, e, rest)
	case "status":
		return cmdStatus(ctx, e, rest)
	case "dashboard":
		return cmdDashboard(ctx, e, rest)
	case "chain":
		return cmdChain(ctx, e, rest)
	case "testnet":
		return cmdTestnet(ctx, e, rest)
	case "config":
		return cmdConfig(ctx, e, rest)
	case "version", "--version":
		return cmdVersion(e, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return exitUsage{fmt.Errorf("unknown command %q", cmd)}
	}
}
