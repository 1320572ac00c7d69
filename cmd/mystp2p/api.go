package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/mystp2p/mystp2p/overlay/role"
)

// The local API of a running node (role.ServeLocalAPI, docs/API.md) is how
// `earnings`, `settle`, `status` and `dashboard` reach a node that holds
// its stores open.

// errNoAPI means no process serves the local API for the data directory.
var errNoAPI = errors.New("no running node serves this data directory")

// callLocalAPI sends a request to the node running on dataDir and decodes
// its JSON answer into out. It returns errNoAPI when none runs.
func callLocalAPI(ctx context.Context, dataDir, method, path string, in, out any) error {
	info, err := readAPIInfo(dataDir)
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, role.APIRequestTimeout)
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
	b, err := io.ReadAll(io.LimitReader(resp.Body, role.APIMaxBody))
	if err != nil {
		return fmt.Errorf("local API: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e role.APIErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return &apiStatusError{code: resp.StatusCode, msg: e.Error}
		}
		return &apiStatusError{code: resp.StatusCode, msg: resp.Status + ": " + string(bytes.TrimSpace(b))}
	}
	return json.Unmarshal(b, out)
}

// apiStatusError is a running node's refusal, with its HTTP status.
type apiStatusError struct {
	code int
	msg  string
}

func (e *apiStatusError) Error() string { return "running node: " + e.msg }
