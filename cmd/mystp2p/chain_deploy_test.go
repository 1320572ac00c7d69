package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes/devchain"
)

// TestChainDeploy deploys the contracts as an operator would, on a chain
// served over JSON-RPC, and points `account` at them with the network
// file, the printed environment lines and flags, in that order of
// precedence.
func TestChainDeploy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	depDir, dep := newDataDir(t, "deployer")
	dev, err := devchain.New(ctx, devchain.Config{Listen: "127.0.0.1:0", MinStake: big.NewInt(1), Prefund: []common.Address{dep.Address()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	t.Setenv("MYSTP2P_PASSPHRASE", "pw")
	t.Setenv("MYSTP2P_CHAIN_RPC", "")
	t.Setenv("MYSTP2P_CONTRACT", "")
	netFile := filepath.Join(t.TempDir(), "net.json")
	deploy := []string{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--min-stake", "2.5",
		"--withdraw-delay", "5", "--leave-delay", "7", "--out", netFile}

	for _, args := range [][]string{
		{"chain"},
		{"chain", "deploy", "--data-dir", depDir, "--test-token", "--min-stake", "1"},              // no RPC
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--min-stake", "1"}, // no token
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--test-token", "--token", dep.Address().Hex(), "--min-stake", "1"},
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--token", "0x12", "--min-stake", "1"},
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--token", dep.Address().Hex(), "--mint", "5", "--min-stake", "1"},
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--test-token"}, // no stake
		{"chain", "deploy", "--data-dir", depDir, "--chain-rpc", dev.RPCURL(), "--test-token", "--min-stake", "1", "--withdraw-delay", "0"},
	} {
		if _, _, err := runCmd(t, ctx, args...); !errors.As(err, new(exitUsage)) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}

	// A token address that is no contract: refused, nothing written.
	_, _, err = runCmd(t, ctx, append(deploy, "--token", dep.Address().Hex())...)
	if err == nil || !strings.Contains(err.Error(), "no contract code") || !strings.Contains(err.Error(), "--token") {
		t.Fatalf("deploy with an account as token: %v", err)
	}
	if _, err := os.Stat(netFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed deploy left a network file: %v", err)
	}

	out, _, err := runCmd(t, ctx, append(deploy, "--test-token", "--mint", "1000")...)
	if err != nil {
		t.Fatalf("chain deploy: %v\n%s", err, out)
	}
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^(MYSTP2P_[A-Z_]+)=(\S+)$`).FindAllStringSubmatch(out, -1) {
		env[m[1]] = m[2]
	}
	if env["MYSTP2P_CHAIN_RPC"] != dev.RPCURL() || !common.IsHexAddress(env["MYSTP2P_CONTRACT"]) || len(env) != 2 {
		t.Fatalf("chain deploy printed %v as environment:\n%s", env, out)
	}
	reg := common.HexToAddress(env["MYSTP2P_CONTRACT"])
	if reg == dev.Deployment.Registry {
		t.Fatal("chain deploy reported the dev chain's own registry")
	}
	var n networkFile
	b, err := os.ReadFile(netFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatal(err)
	}
	if n.ChainID != devchain.ChainID || n.ChainRPC != dev.RPCURL() || common.HexToAddress(n.Contract) != reg ||
		n.MinStake != "2500000000000000000" || n.WithdrawDelay != 5 || n.LeaveDelay != 7 || n.Deployer != dep.Address().Hex() {
		t.Fatalf("network file %s", b)
	}

	// The file alone, and the printed lines alone, reach the new registry
	// with its freshly minted tokens.
	account := func(args ...string) (string, error) {
		out, _, err := runCmd(t, ctx, append([]string{"account", "--data-dir", depDir, "--hermes", dep.Address().Hex()}, args...)...)
		return out, err
	}
	wantRegistry := func(how string, out string, err error, want common.Address) {
		t.Helper()
		if err != nil || !strings.Contains(out, "registry "+want.Hex()) {
			t.Fatalf("account %s: %v\n%s\nwant registry %s", how, err, out, want.Hex())
		}
	}
	out, err = account("--network", netFile)
	wantRegistry("--network", out, err, reg)
	if !regexp.MustCompile(`(?m)^tokens\s+1000$`).MatchString(out) {
		t.Fatalf("account --network: the deployer does not hold the 1000 minted tokens:\n%s", out)
	}
	t.Setenv("MYSTP2P_CHAIN_RPC", env["MYSTP2P_CHAIN_RPC"])
	t.Setenv("MYSTP2P_CONTRACT", env["MYSTP2P_CONTRACT"])
	out, err = account()
	wantRegistry("with the printed environment", out, err, reg)

	// The file wins over the environment, a flag over the file.
	t.Setenv("MYSTP2P_CHAIN_RPC", "http://127.0.0.1:1")
	t.Setenv("MYSTP2P_CONTRACT", dev.Deployment.Registry.Hex())
	out, err = account("--network", netFile)
	wantRegistry("--network over the environment", out, err, reg)
	out, err = account("--network", netFile, "--contract", dev.Deployment.Registry.Hex())
	wantRegistry("--contract over --network", out, err, dev.Deployment.Registry)

	// A second deployment for the first one's token, which the file
	// refuses to overwrite unless told to.
	_, _, err = runCmd(t, ctx, append(deploy, "--token", dev.Deployment.Token.Hex())...)
	if !errors.As(err, new(exitUsage)) || !strings.Contains(err.Error(), netFile) {
		t.Fatalf("deploy over an existing network file: %v", err)
	}
	out, _, err = runCmd(t, ctx, append(deploy, "--token", dev.Deployment.Token.Hex(), "--force")...)
	if err != nil || strings.Contains(out, "minted") {
		t.Fatalf("deploy with --token: %v\n%s", err, out)
	}
	n2, err := readNetwork(netFile)
	if err != nil {
		t.Fatal(err)
	}
	if n2.Token != dev.Deployment.Token.Hex() || common.HexToAddress(n2.Contract) == reg {
		t.Fatalf("network file after deploy --token %s: %+v", dev.Deployment.Token.Hex(), n2)
	}

	// Bad network files: each error names the file and what is wrong.
	dir := t.TempDir()
	write := func(name string, n networkFile) string {
		p := filepath.Join(dir, name)
		b, _ := json.Marshal(n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("chain_rpc = 'toml?'"), 0o644)
	good := *n2
	otherChain, noCode, otherToken, noRPC := good, good, good, good
	otherChain.ChainID = 5
	noCode.Contract = dep.Address().Hex()
	otherToken.Token = reg.Hex()
	noRPC.ChainRPC = ""
	for _, tc := range []struct {
		path, want string
		usage      bool
	}{
		{filepath.Join(dir, "missing.json"), "no such file", true},
		{garbage, "not a network file", true},
		{write("norpc.json", noRPC), `no "chain_rpc"`, true},
		{write("chain5.json", otherChain), "is for chain 5, but " + dev.RPCURL() + " serves chain 1337", false},
		{write("nocode.json", noCode), "no contract at " + dep.Address().Hex(), false},
		{write("token.json", otherToken), "the file is not for this contract", false},
	} {
		_, err := account("--network", tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--network %s: %v, want %q naming the file", filepath.Base(tc.path), err, tc.want)
		} else if errors.As(err, new(exitUsage)) != tc.usage {
			t.Errorf("--network %s: usage error %v, want %v", filepath.Base(tc.path), !tc.usage, tc.usage)
		}
	}
}
