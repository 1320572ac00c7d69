package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mystp2p/mystp2p/overlay/role"
)

func cmdDashboard(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "dashboard", "dashboard [--data-dir DIR] [--open]")
	var idf idFlags
	idf.register(fs)
	open := fs.Bool("open", false, "open the dashboard in the desktop's browser (xdg-open)")
	if err := parse(fs, args); err != nil {
		return err
	}
	info, err := readAPIInfo(idf.dataDir)
	if err == nil {
		// The file may be left by a node that was killed: ask.
		var st role.NodeStatus
		err = callLocalAPI(ctx, idf.dataDir, "GET", "/v1/status", nil, &st)
	}
	if err != nil {
		return noNodeHint(err, idf.dataDir)
	}
	// The token goes in the fragment, which the browser never sends: it
	// stays out of the server's and any proxy's logs.
	url := fmt.Sprintf("http://%s/ui/#token=%s", info.Addr, info.Token)
	fmt.Fprintln(e.stdout, url)
	fmt.Fprintln(e.stderr, "the link holds this node's API token: anyone with it controls the node until it restarts")
	if *open {
		cmd := exec.CommandContext(ctx, "xdg-open", url)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("open a browser with xdg-open: %w (open the link above by hand)", err)
		}
		go cmd.Wait() //nolint:errcheck // xdg-open hands the URL on and exits
	}
	return nil
}

// readAPIInfo reads the local API file of dataDir; errNoAPI when there is
// none.
func readAPIInfo(dataDir string) (role.APIInfo, error) {
	path := filepath.Join(dataDir, role.APIFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return role.APIInfo{}, errNoAPI
	}
	if err != nil {
		return role.APIInfo{}, err
	}
	var info role.APIInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return role.APIInfo{}, fmt.Errorf("local API file %s: %w (remove it if no node runs)", path, err)
	}
	return info, nil
}
