package main

import (
	"errors"
	"flag"
	"io"
	"slices"
	"testing"
)

func parseNetFlags(t *testing.T, args ...string) (*netFlags, error) {
	t.Helper()
	var nf netFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	nf.register(fs)
	return &nf, fs.Parse(args)
}

func TestWSSFlags(t *testing.T) {
	nf, err := parseNetFlags(t, "--wss", "/ip4/0.0.0.0/tcp/443/tls/ws", "--wss", "/ip6/::/tcp/443/wss", "--wss-cert", "c.pem", "--wss-key", "k.pem")
	if err != nil {
		t.Fatal(err)
	}
	hc, err := nf.hostConfig(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hc.WSS, []string{"/ip4/0.0.0.0/tcp/443/tls/ws", "/ip6/::/tcp/443/wss"}) || hc.WSSCertFile != "c.pem" || hc.WSSKeyFile != "k.pem" || len(hc.Listen) != 0 {
		t.Fatalf("host config %+v", hc)
	}

	for _, bad := range []string{"/ip4/0.0.0.0/tcp/443", "/ip4/0.0.0.0/tcp/443/ws", "not-an-addr"} {
		if _, err := parseNetFlags(t, "--wss", bad); err == nil {
			t.Errorf("--wss %s accepted", bad)
		}
	}

	for _, args := range [][]string{
		{"--wss", "/ip4/0.0.0.0/tcp/443/tls/ws", "--wss-cert", "c.pem"},
		{"--wss-cert", "c.pem", "--wss-key", "k.pem"},
	} {
		nf, err := parseNetFlags(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		var u exitUsage
		if _, err := nf.hostConfig(nil, nil, nil); !errors.As(err, &u) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}

	// A WSS address in --listen takes the certificate as well.
	nf, _ = parseNetFlags(t, "--listen", "/ip4/0.0.0.0/tcp/8443/tls/ws", "--wss-cert", "c.pem", "--wss-key", "k.pem")
	if _, err := nf.hostConfig(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}
