package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTopUpFlags(t *testing.T) {
	for _, c := range []struct {
		amount, below, max string
		every              time.Duration
		hermes             bool
		want               string // part of the error; "" for none
	}{
		{"", "", "", time.Minute, false, ""},
		{"", "1", "", time.Minute, true, "go with --auto-topup"},
		{"5", "1", "", time.Minute, false, "give --hermes"},
		{"5", "", "", time.Minute, true, "needs --topup-below"},
		{"0", "1", "", time.Minute, true, "must be above 0"},
		{"5", "x", "", time.Minute, true, "--topup-below"},
		{"5", "1", "", 0, true, "--topup-every"},
		{"5", "1", "4", time.Minute, true, "below one top-up"},
		{"5", "1", "50", time.Minute, true, ""},
	} {
		cfg, err := topUpConfig(c.amount, c.below, c.max, c.every, c.hermes)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one saying %q", c, err, c.want)
		case c.want != "" && !errors.As(err, new(exitUsage)):
			t.Errorf("%+v: %v is not a usage error", c, err)
		case c.want == "" && c.amount != "" && (cfg == nil || cfg.Amount.Sign() <= 0 || cfg.Below.Sign() <= 0 || cfg.MinGap != c.every):
			t.Errorf("%+v: config %+v", c, cfg)
		}
	}
}
