package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/common"
)

// Network files.
//
// `mystp2p chain deploy` writes one; every command that talks to the chain
// reads it with --network FILE, in place of --chain-rpc and --contract. It
// is JSON:
//
//	{
//	  "chain_id": 1337,
//	  "chain_rpc": "http://127.0.0.1:8545",
//	  "contract": "0x…",        // the Registry
//	  "token": "0x…",           // the ERC-20 it holds
//	  "min_stake": "1000000000000000000",
//	  "withdraw_delay": 7200,
//	  "leave_delay": 50400,
//	  "deployer": "0x…",
//	  "block": 42
//	}
//
// chain_rpc and contract are required. chain_id and token, when set, are
// checked against the chain and the Registry when a command connects, so
// that a file for another chain or contract fails before any transaction.
// The rest records the deployment for people. A flag on the command line
// (or in a config file) wins over the file, and the file over
// $MYSTP2P_CHAIN_RPC and $MYSTP2P_CONTRACT.

// networkFile is a network file's content.
type networkFile struct {
	ChainID       uint64 `json:"chain_id,omitempty"`
	ChainRPC      string `json:"chain_rpc"`
	Contract      string `json:"contract"`
	Token         string `json:"token,omitempty"`
	MinStake      string `json:"min_stake,omitempty"`
	WithdrawDelay uint64 `json:"withdraw_delay,omitempty"`
	LeaveDelay    uint64 `json:"leave_delay,omitempty"`
	Deployer      string `json:"deployer,omitempty"`
	Block         uint64 `json:"block,omitempty"`
}

// readNetwork reads and checks the network file at path. Its errors name
// the file and are usage errors: the fix is on the command line or in the
// file.
func readNetwork(path string) (*networkFile, error) {
	bad := func(format string, args ...any) error {
		return exitUsage{fmt.Errorf("--network %s: %s", path, fmt.Sprintf(format, args...))}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, bad("no such file (`mystp2p chain deploy --out FILE` writes one)")
	}
	if err != nil {
		return nil, bad("%v", err)
	}
	var n networkFile
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, bad("not a network file (JSON written by `mystp2p chain deploy`): %v", err)
	}
	switch {
	case n.ChainRPC == "":
		return nil, bad(`no "chain_rpc": add the chain's JSON-RPC URL`)
	case !common.IsHexAddress(n.Contract):
		return nil, bad(`"contract" %q is not an address (0x + 40 hex digits)`, n.Contract)
	case n.Token != "" && !common.IsHexAddress(n.Token):
		return nil, bad(`"token" %q is not an address (0x + 40 hex digits)`, n.Token)
	}
	return &n, nil
}

// writeNetwork writes n to path, replacing a file there only if replace;
// a crash leaves the old file or the new one, not half of one.
func writeNetwork(path string, n *networkFile, replace bool) error {
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("network file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("network file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("network file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("network file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("network file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("network file: %w", err)
	}
	if !replace {
		// A hard link fails if path exists, where a rename would replace it.
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("network file: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("network file: %w", err)
	}
	return nil
}
