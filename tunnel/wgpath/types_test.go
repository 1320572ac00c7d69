package wgpath

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTransport(t *testing.T) {
	for s, want := range map[string]Transport{"udp": UDP, "stream": Stream, "udp-mux": UDPMux} {
		got, err := Parse(s)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	for _, s := range []string{"", "UDP", "mux", "udp-mux "} {
		got, err := Parse(s)
		if !errors.Is(err, ErrUnknownTransport) || got != "" {
			t.Errorf("Parse(%q) = %q, %v; want ErrUnknownTransport", s, got, err)
			continue
		}
		for _, name := range []string{`"udp"`, `"stream"`, `"udp-mux"`} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Parse(%q) error %q does not list %s", s, err, name)
			}
		}
	}
}
