package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeConfig writes a config file into a fresh directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadFlags parses args for a role's command as it would, config file
// included, with vars as the environment.
func loadFlags(t *testing.T, r nodeRole, vars map[string]string, args ...string) (*flag.FlagSet, error) {
	t.Helper()
	fs := r.flagsOf()
	e := env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return vars[k] }}
	return fs, loadConfig(e, fs, r, args)
}

func flagValue(fs *flag.FlagSet, name string) string { return fs.Lookup(name).Value.String() }

func TestConfigFileValuesApplied(t *testing.T) {
	path := writeConfig(t, `
log-level = "debug"
listen = ["/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"]

[relay]
reachability = "private"
max-reservations = 7
circuit-duration = "5m"
carry-data = true
log-level = "warn"

[provider]
country = "DE"
`)
	fs, err := loadFlags(t, relayRole, nil, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"reachability":     "private",
		"max-reservations": "7",
		"circuit-duration": "5m0s",
		"carry-data":       "true",
		"log-level":        "warn", // the [relay] table wins over the top level
		"listen":           "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
	} {
		if got := flagValue(fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The [provider] table is for provide: connect reads the top level only.
	fs, err = loadFlags(t, consumerRole, nil, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(fs, "country"); got != "" {
		t.Errorf("connect took [provider] country %q", got)
	}
	if got := flagValue(fs, "log-level"); got != "debug" {
		t.Errorf("connect log-level = %q, want the top level's debug", got)
	}

	// Without --config the file is <data-dir>/config.toml.
	fs, err = loadFlags(t, relayRole, nil, "--data-dir", filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(fs, "reachability"); got != "private" {
		t.Errorf("default file: reachability = %q, want private", got)
	}
	// A missing default file is no error, a missing --config file is.
	if _, err := loadFlags(t, relayRole, nil, "--data-dir", t.TempDir()); err != nil {
		t.Errorf("missing default file: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "nope.toml")
	_, err = loadFlags(t, relayRole, nil, "--config", missing)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "config init") {
		t.Errorf("missing --config file: %v", err)
	}
}

// A value from the file that the command then rejects: the error names the
// flag, the key and the file, through the real command.
func TestConfigFileValueCheckedByCommand(t *testing.T) {
	path := writeConfig(t, "[relay]\nreachability = \"sometimes\"\n")
	_, _, err := runCmd(t, context.Background(), "relay", "--ephemeral", "--config", path)
	var u exitUsage
	if !errors.As(err, &u) {
		t.Fatalf("err = %v, want a usage error", err)
	}
	for _, want := range []string{`--reachability "sometimes"`, `key "reachability"`, path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The same value on the command line is not blamed on the file.
	path = writeConfig(t, "[relay]\nmax-circuits = 4\n")
	_, _, err = runCmd(t, context.Background(), "relay", "--ephemeral", "--config", path, "--reachability", "sometimes")
	if err == nil || strings.Contains(err.Error(), "config file") {
		t.Errorf("command-line value: err = %v", err)
	}
}

func TestConfigFlagOverridesFile(t *testing.T) {
	path := writeConfig(t, `
[relay]
max-reservations = 7
listen = ["/ip4/127.0.0.1/tcp/0"]
ephemeral = true
`)
	fs, err := loadFlags(t, relayRole, nil, "--config", path, "--max-reservations", "3", "--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--ephemeral=false")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"max-reservations": "3",
		"listen":           "/ip4/127.0.0.1/udp/0/quic-v1", // replaced, not added to
		"ephemeral":        "false",
	} {
		if got := flagValue(fs, name); got != want {
			t.Errorf("%s = %q, want the flag's %q", name, got, want)
		}
	}
}

func TestConfigEnvWinsOverFile(t *testing.T) {
	path := writeConfig(t, `
passphrase-file = "/etc/mystp2p/pass"
[hermes]
chain-rpc = "http://127.0.0.1:8545"
contract = "0x00000000000000000000000000000000000000cc"
`)
	vars := map[string]string{"MYSTP2P_CONTRACT": "0x00000000000000000000000000000000000000dd", "MYSTP2P_PASSPHRASE": "s3cret"}
	fs, err := loadFlags(t, hermesRole, vars, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	// Left empty, the commands take the environment variable (chainFlags.fill,
	// idFlags.passphrase); the file fills what no variable stands for.
	for name, want := range map[string]string{"contract": "", "passphrase-file": "", "chain-rpc": "http://127.0.0.1:8545"} {
		if got := flagValue(fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var cf chainFlags
	cf.rpc, cf.contract = flagValue(fs, "chain-rpc"), flagValue(fs, "contract")
	cf.fill(env{getenv: func(k string) string { return vars[k] }})
	if cf.contract != vars["MYSTP2P_CONTRACT"] || cf.rpc != "http://127.0.0.1:8545" {
		t.Errorf("after fill: %+v", cf)
	}
	// Without the variables the file counts.
	fs, err = loadFlags(t, hermesRole, nil, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(fs, "contract"); got != "0x00000000000000000000000000000000000000cc" {
		t.Errorf("contract = %q, want the file's", got)
	}
	// And a flag wins over both.
	fs, err = loadFlags(t, hermesRole, vars, "--config", path, "--contract", "0x00000000000000000000000000000000000000ee")
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValue(fs, "contract"); got != "0x00000000000000000000000000000000000000ee" {
		t.Errorf("contract = %q, want the flag's", got)
	}
}

// Every environment variable a node flag's help names stands for that
// flag in envOverrides, so the file never wins over it.
func TestConfigEnvOverridesMatchFlagHelp(t *testing.T) {
	re := regexp.MustCompile(`\$(MYSTP2P_[A-Z_]+)`)
	for _, r := range nodeRoles {
		r.flagsOf().VisitAll(func(f *flag.Flag) {
			for _, m := range re.FindAllStringSubmatch(f.Usage, -1) {
				if envOverrides[f.Name] != m[1] {
					t.Errorf("%s --%s names $%s, envOverrides has %q", r.command(), f.Name, m[1], envOverrides[f.Name])
				}
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		role       nodeRole
		want       []string
	}{
		{"unknown key", "[provider]\ncontry = \"DE\"\n", providerRole, []string{`unknown key "contry" in [provider]`, "mystp2p provide -h"}},
		{"unknown top-level key", "country = \"DE\"\n", relayRole, []string{`unknown key "country"`, "[relay]"}},
		{"unknown key in another role's table", "[provider]\nsocks = \"127.0.0.1:1080\"\n", relayRole, []string{`unknown key "socks" in [provider]`}},
		{"unknown table", "[providers]\ncountry = \"DE\"\n", providerRole, []string{"unknown table [providers]"}},
		{"data-dir", "data-dir = \"/var/lib/mystp2p\"\n", providerRole, []string{`key "data-dir" cannot be set`, "--data-dir"}},
		{"bad number", "[relay]\nmax-reservations = \"many\"\n", relayRole, []string{`key "max-reservations"`, `"many"`, "whole number", "default 128"}},
		{"bad duration", "[relay]\ncircuit-duration = 90\n", relayRole, []string{`key "circuit-duration"`, "duration"}},
		{"bad bool", "[relay]\nephemeral = \"maybe\"\n", relayRole, []string{`key "ephemeral"`, "true or false"}},
		{"bad list element", "[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\", 3.5, {a = 1}]\n", relayRole, []string{`key "listen"`, "in the list", "table"}},
		{"list for a single value", "[relay]\nreachability = [\"public\", \"private\"]\n", relayRole, []string{`key "reachability" takes one value`}},
		{"bad wss address", "[relay]\nwss = [\"/ip4/0.0.0.0/tcp/443\"]\n", relayRole, []string{`key "wss"`, "WebSocket-over-TLS"}},
		{"date", "[relay]\nmax-circuits = 1979-05-27\n", relayRole, []string{`key "max-circuits"`, "date or time is not a value"}},
		{"syntax", "[relay]\nmax-circuits = = 4\n", relayRole, []string{"line 2", "config init --role relay --force"}},
		{"duplicate key", "[relay]\nmax-circuits = 4\nmax-circuits = 5\n", relayRole, []string{"max-circuits"}},
		{"bad rate", "[provider]\nsession-rate = \"fast\"\n", providerRole, []string{`key "session-rate"`, `"fast"`, "10MiB/s"}},
		{"rate in bits", "[provider]\ntotal-rate = \"100Mbit/s\"\n", providerRole, []string{`key "total-rate"`, "not bits"}},
		{"bad cap unit", "[provider]\nmonthly-cap = \"500GB/month\"\n", providerRole, []string{`key "monthly-cap"`, "unknown unit", "500GiB"}},
		{"negative cap", "[provider]\nmonthly-cap = -5\n", providerRole, []string{`key "monthly-cap"`, "500GiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.text)
			_, err := loadFlags(t, tc.role, nil, "--config", path)
			var u exitUsage
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			for _, want := range append(tc.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
	// Through the command: nothing starts.
	path := writeConfig(t, "[relay]\nmax-circuit = 4\n")
	_, _, err := runCmd(t, context.Background(), "relay", "--ephemeral", "--config", path)
	if err == nil || !strings.Contains(err.Error(), `unknown key "max-circuit"`) || !strings.Contains(err.Error(), path) {
		t.Fatalf("relay with an unknown key: %v", err)
	}
}

// config init writes, for every role, a file that loads back, whose every
// commented-out key is valid and holds the flag's default.
func TestConfigInitRoundTrips(t *testing.T) {
	for _, r := range nodeRoles {
		t.Run(string(r), func(t *testing.T) {
			dir := t.TempDir()
			out, _, err := runCmd(t, context.Background(), "config", "init", "--role", string(r), "--data-dir", dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, ConfigFile)
			if !strings.Contains(out, path) {
				t.Errorf("config init printed %q", out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
			if _, err := loadFlags(t, r, nil, "--data-dir", dir); err != nil {
				t.Fatalf("the written file does not load: %v\n%s", err, b)
			}
			// Uncommented, every key loads and holds the default.
			keyLine := regexp.MustCompile(`(?m)^#([a-z0-9-]+ = )`)
			if n := len(keyLine.FindAllIndex(b, -1)); n < 10 {
				t.Fatalf("only %d keys in\n%s", n, b)
			}
			uncommented := writeConfig(t, keyLine.ReplaceAllString(string(b), "$1"))
			fs, err := loadFlags(t, r, nil, "--config", uncommented)
			if err != nil {
				t.Fatalf("uncommented file does not load: %v", err)
			}
			fs.VisitAll(func(f *flag.Flag) {
				_, excluded := notInFile[f.Name]
				deprecated := strings.HasPrefix(f.Usage, "deprecated")
				inFile := strings.Contains(string(b), "\n#"+f.Name+" = ")
				if inFile == (excluded || deprecated) {
					t.Errorf("--%s: in the file %v, excluded %v, deprecated %v", f.Name, inFile, excluded, deprecated)
				}
				if f.Name != "config" && f.Value.String() != f.DefValue {
					t.Errorf("--%s = %q from the file, default %q", f.Name, f.Value.String(), f.DefValue)
				}
			})

			// It refuses to overwrite without --force, and leaves the file.
			if err := os.WriteFile(path, []byte("# mine\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err = runCmd(t, context.Background(), "config", "init", "--role", string(r), "--data-dir", dir)
			if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "--force") {
				t.Fatalf("second init: %v", err)
			}
			if got, _ := os.ReadFile(path); string(got) != "# mine\n" {
				t.Fatalf("second init changed the file to %q", got)
			}
			if _, _, err := runCmd(t, context.Background(), "config", "init", "--role", string(r), "--data-dir", dir, "--force"); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(b) {
				t.Fatalf("--force wrote\n%s", got)
			}
		})
	}
	for _, args := range [][]string{
		{"config"},
		{"config", "show"},
		{"config", "init"},
		{"config", "init", "--role", "bouncer"},
		{"config", "init", "--role", "relay", "stray"},
	} {
		var u exitUsage
		if _, _, err := runCmd(t, context.Background(), args...); !errors.As(err, &u) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// The config decoder takes any bytes without panicking, and a file it
// accepts for a role sets only flags of that role.
func FuzzConfigFile(f *testing.F) {
	for _, r := range nodeRoles {
		f.Add(defaultConfig(r))
	}
	f.Add([]byte("log-level = \"debug\"\n[relay]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmax-circuits = 4\n"))
	f.Add([]byte("[relay]\nmax-circuits = = 4\n"))
	f.Add([]byte("a.b.c = 1\n[[relay]]\nx = 1979-05-27T07:32:00Z\n"))
	fs := relayRole.flagsOf()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeConfig(ConfigFile, b, relayRole)
		if err != nil {
			return
		}
		fresh := relayRole.flagsOf()
		use, err := c.apply(fresh, relayRole, func(string) string { return "" })
		if err != nil {
			return
		}
		for _, k := range use.keys {
			if fs.Lookup(k) == nil {
				t.Fatalf("set %q, which relay does not take", k)
			}
		}
	})
}

// Help texts give every flag that takes a value a one-word value name
// (flag.UnquoteUsage takes the first `quoted` words of the help), and
// proposals takes --ephemeral like connect.
func TestFlagHelpConsistent(t *testing.T) {
	for _, r := range nodeRoles {
		r.flagsOf().VisitAll(func(f *flag.Flag) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				return
			}
			if name, _ := flag.UnquoteUsage(f); strings.Contains(name, " ") {
				t.Errorf("%s --%s shows the value name %q", r.command(), f.Name, name)
			}
		})
	}
	for cmd, want := range map[string]string{"connect": "  -hermes ID\n", "provide": "  -settle-threshold tokens\n", "proposals": "  -ephemeral\n"} {
		_, help, err := runCmd(t, context.Background(), cmd, "-h")
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%s -h: %v", cmd, err)
		}
		if !strings.Contains(help, want) {
			t.Errorf("%s -h lacks %q:\n%s", cmd, want, help)
		}
	}
	// proposals --ephemeral is accepted (and is the default).
	_, _, err := runCmd(t, context.Background(), "proposals", "--ephemeral", "--bootstrap", "/ip4/127.0.0.1/tcp/1")
	if err == nil || !strings.Contains(err.Error(), "--bootstrap") {
		t.Fatalf("proposals --ephemeral: %v", err)
	}
}

// Sizes and rates read as people write them; anything else is refused.
func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in        string
		perSecond bool
		want      int64
	}{
		{"0", false, 0}, {"1048576", false, 1 << 20}, {"500GiB", false, 500 << 30}, {"750GB", false, 750e9},
		{"1.5 TiB", false, 3 << 39}, {"64kib", false, 64 << 10}, {"2k", false, 2000},
		{"10MiB/s", true, 10 << 20}, {"2.5MB/s", true, 2_500_000}, {"256KiB", true, 256 << 10}, {"0/s", true, 0},
	} {
		got, err := parseSize(tc.in, tc.perSecond)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q, %v) = %d, %v; want %d", tc.in, tc.perSecond, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		in        string
		perSecond bool
	}{
		{"", false}, {"fast", true}, {"-1GiB", false}, {"10MiB/s", false}, {"GiB", false}, {"1e30", false},
		{"100Mbit/s", true}, {"100Mbps", true}, {"5 parsecs", false}, {"1.2.3MB", false},
	} {
		if got, err := parseSize(tc.in, tc.perSecond); err == nil {
			t.Errorf("parseSize(%q, %v) = %d, want an error", tc.in, tc.perSecond, got)
		}
	}
	for n, want := range map[int64]string{0: "0", 1 << 20: "1MiB", 500 << 30: "500GiB", 1000: "1000B"} {
		if got := formatSize(n, false); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
	if got := formatSize(1536, true); got != "1536B/s" {
		t.Errorf("formatSize(1536, rate) = %q", got)
	}
}

// What formatSize writes, parseSize reads back.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "500GiB", "10MiB/s", "2.5MB", "1e3", " 7 kB ", "1.5TiB"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, perSecond bool) {
		n, err := parseSize(in, perSecond)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d, negative", in, n)
		}
		back, err := parseSize(formatSize(n, perSecond), perSecond)
		if err != nil || back != n {
			t.Fatalf("%q → %d → %q → %d, %v", in, n, formatSize(n, perSecond), back, err)
		}
	})
}

// The bandwidth flags reach the command as bytes, from the file or the
// command line, and a bad one on the command line names the flag.
func TestProvideLimitFlags(t *testing.T) {
	path := writeConfig(t, "[provider]\nsession-rate = \"10MiB/s\"\nmonthly-cap = \"500GiB\"\n")
	fs, err := loadFlags(t, providerRole, nil, "--config", path, "--total-rate", "50MiB/s")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"session-rate": 10 << 20, "total-rate": 50 << 20, "monthly-cap": 500 << 30} {
		if got := fs.Lookup(name).Value.(*sizeFlag).n; got != want {
			t.Errorf("--%s = %d, want %d", name, got, want)
		}
	}
	_, _, err = runCmd(t, context.Background(), "provide", "--session-rate", "lots")
	if err == nil || !strings.Contains(err.Error(), "session-rate") || !strings.Contains(err.Error(), "10MiB/s") {
		t.Fatalf("provide --session-rate lots: %v", err)
	}
}
