package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Configuration files.
//
// provide, connect, relay and hermes read a TOML file: --config FILE, else
// <data-dir>/config.toml (which may be missing). Its keys are the command's
// flag names, so the flags stay the one list of settings:
//
//	log-level = "debug"      # every command that reads the file
//	[provider]               # only provide (also [consumer], [relay], [hermes])
//	country = "DE"
//	bootstrap = ["/dns4/boot.example.org/tcp/4001/p2p/16Uiu2…"]
//
// A value counts in this order: a flag on the command line, then an
// environment variable (envOverrides), then the file, then the flag's
// default. A key of a role's table wins over the same key outside a table.

// ConfigFile is the config file's name in the data directory.
const ConfigFile = "config.toml"

// nodeRole is a kind of node whose command reads the config file; it names
// the file's table for that command.
type nodeRole string

const (
	providerRole nodeRole = "provider"
	consumerRole nodeRole = "consumer"
	relayRole    nodeRole = "relay"
	hermesRole   nodeRole = "hermes"
)

// nodeRoles are the roles, in the order help texts list them.
var nodeRoles = []nodeRole{providerRole, consumerRole, relayRole, hermesRole}

// parseNodeRole parses a role name, as given to config init --role.
func parseNodeRole(s string) (nodeRole, error) {
	if r := nodeRole(s); slices.Contains(nodeRoles, r) {
		return r, nil
	}
	return "", fmt.Errorf("%q: want provider, consumer, relay or hermes", s)
}

// command is the role's command name.
func (r nodeRole) command() string {
	switch r {
	case providerRole:
		return "provide"
	case consumerRole:
		return "connect"
	default:
		return string(r)
	}
}

// run is the role's command. A function and not a table: a table would
// make an initialisation cycle through parseConfig.
func (r nodeRole) run(ctx context.Context, e env, args []string) error {
	switch r {
	case providerRole:
		return cmdProvide(ctx, e, args)
	case consumerRole:
		return cmdConnect(ctx, e, args)
	case relayRole:
		return cmdRelay(ctx, e, args)
	case hermesRole:
		return cmdHermes(ctx, e, args)
	}
	panic("unknown node role " + string(r))
}

// errFlagsOnly is what a node command returns when env.flagsOnly asked it
// for its flags instead of running.
var errFlagsOnly = errors.New("flags only")

// flagsOf returns a role's flag set as its command registers it, with
// nothing parsed: every flag holds its default.
func (r nodeRole) flagsOf() *flag.FlagSet {
	var out *flag.FlagSet
	e := env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" },
		flagsOnly: func(fs *flag.FlagSet) { out = fs }}
	if err := r.run(context.Background(), e, nil); !errors.Is(err, errFlagsOnly) || out == nil {
		panic(fmt.Sprintf("%s did not hand over its flags: %v", r.command(), err))
	}
	return out
}

// envOverrides are the environment variables that stand for a flag. They
// win over the file's key of the same name (the commands read them only
// when the flag is empty: chain.go, common.go).
var envOverrides = map[string]string{
	"chain-rpc":       "MYSTP2P_CHAIN_RPC",
	"contract":        "MYSTP2P_CONTRACT",
	"passphrase-file": "MYSTP2P_PASSPHRASE",
}

// notInFile are flags a config file cannot set, and why.
var notInFile = map[string]string{
	"config":   "it names the file itself",
	"data-dir": "the default file lives in it; give --data-dir, and --config for a file elsewhere",
}

// configUse is what a command took from its config file, so that an error
// about a flag can say the value came from the file.
type configUse struct {
	path string
	keys []string // flags set from the file, sorted
}

// parseConfig parses a node command's flags, then sets each flag the
// command line left out from the config file. Node commands call it
// instead of parse, after registering every flag.
func parseConfig(e env, fs *flag.FlagSet, r nodeRole, args []string) error {
	fs.String("config", "", "read settings from this TOML `file`, whose keys are these flags' names (default <data-dir>/"+ConfigFile+", if there; write one with mystp2p config init --role "+string(r)+")")
	if e.flagsOnly != nil {
		e.flagsOnly(fs)
		return errFlagsOnly
	}
	return loadConfig(e, fs, r, args)
}

// loadConfig parses args into fs (with its config flag registered), then
// applies the config file.
func loadConfig(e env, fs *flag.FlagSet, r nodeRole, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	path, explicit := fs.Lookup("config").Value.String(), true
	if path == "" {
		path, explicit = filepath.Join(fs.Lookup("data-dir").Value.String(), ConfigFile), false
	}
	c, err := readConfig(path, r)
	if errors.Is(err, os.ErrNotExist) {
		if !explicit {
			return nil
		}
		return exitUsage{err}
	}
	if err != nil {
		return err
	}
	use, err := c.apply(fs, r, e.getenv)
	if err != nil {
		return err
	}
	if e.cfg != nil {
		*e.cfg = use
	}
	return nil
}

// configFile is a decoded config file.
type configFile struct {
	path   string
	top    map[string]any              // keys outside a table
	tables map[nodeRole]map[string]any // keys of [provider], [consumer], …
}

// configErr is an error in the config file at path; it says what to do.
func configErr(path string, format string, args ...any) error {
	return exitUsage{fmt.Errorf("config file %s: %s", path, fmt.Sprintf(format, args...))}
}

// readConfig reads and decodes the file at path and checks the tables of
// every role but r, which apply checks. A missing file is an error that
// wraps os.ErrNotExist.
func readConfig(path string, r nodeRole) (*configFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config file %s: %w (write one with mystp2p config init --role %s, or leave out --config)", path, os.ErrNotExist, r)
	}
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return decodeConfig(path, b, r)
}

// decodeConfig decodes the config file read from path, as readConfig.
func decodeConfig(path string, b []byte, r nodeRole) (*configFile, error) {
	var m map[string]any
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, exitUsage{fmt.Errorf("config file %s: %w (fix it, or write a fresh one with mystp2p config init --role %s --force)", path, err, r)}
	}
	c := &configFile{path: path, top: map[string]any{}, tables: map[nodeRole]map[string]any{}}
	for k, v := range m {
		t, ok := v.(map[string]any)
		if !ok {
			c.top[k] = v
			continue
		}
		tr, err := parseNodeRole(k)
		if err != nil {
			return nil, configErr(path, "unknown table [%s]: the tables are [provider], [consumer], [relay] and [hermes]", k)
		}
		c.tables[tr] = t
	}
	for tr, t := range c.tables {
		if tr == r {
			continue
		}
		// Keys outside a table need not suit every role, but a role's
		// table must suit that role.
		if _, err := c.set(tr.flagsOf(), tr, t, nil, func(string) string { return "" }); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// apply sets each flag of fs that the command line left out and the file
// has, unless an environment variable stands for it.
func (c *configFile) apply(fs *flag.FlagSet, r nodeRole, getenv func(string) string) (*configUse, error) {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	merged := map[string]any{}
	for k, v := range c.top {
		merged[k] = v
	}
	for k, v := range c.tables[r] {
		merged[k] = v
	}
	keys, err := c.set(fs, r, merged, onCommandLine, getenv)
	if err != nil {
		return nil, err
	}
	return &configUse{path: c.path, keys: keys}, nil
}

// set sets fs's flags from kv, skipping those in skip or with their
// environment variable set, and returns the flags it set.
func (c *configFile) set(fs *flag.FlagSet, r nodeRole, kv map[string]any, skip map[string]bool, getenv func(string) string) ([]string, error) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var set []string
	for _, k := range keys {
		f := fs.Lookup(k)
		if why, ok := notInFile[k]; ok {
			return nil, configErr(c.path, "key %q cannot be set in a config file: %s", k, why)
		}
		if f == nil {
			if _, inTable := c.tables[r][k]; inTable {
				return nil, configErr(c.path, "unknown key %q in [%s]: %s has no --%s flag (see mystp2p %s -h, or mystp2p config init --role %s for every key)",
					k, r, r.command(), k, r.command(), r)
			}
			return nil, configErr(c.path, "unknown key %q: %s has no --%s flag (see mystp2p %s -h; a key outside a table applies to every command that reads the file, so put one for a single command in its [provider], [consumer], [relay] or [hermes] table)",
				k, r.command(), k, r.command())
		}
		if skip[k] {
			continue
		}
		if ev := envOverrides[k]; ev != "" && getenv(ev) != "" {
			continue
		}
		vals, list, err := tomlFlagValues(kv[k])
		if err != nil {
			return nil, configErr(c.path, "key %q: %v", k, err)
		}
		if list && !repeatable(f) {
			return nil, configErr(c.path, "key %q takes one value, not a list", k)
		}
		for _, v := range vals {
			if err := fs.Set(k, v); err != nil {
				return nil, configErr(c.path, "key %q: invalid value %q: %v (want %s; remove the key for the default%s)", k, v, err, valueKind(f), defaultNote(f))
			}
		}
		set = append(set, k)
	}
	return set, nil
}

// tomlFlagValues turns a decoded TOML value into the strings to give the
// flag's Set: one for a scalar, one each for a list's elements.
func tomlFlagValues(v any) (vals []string, list bool, err error) {
	if a, ok := v.([]any); ok {
		for _, e := range a {
			s, err := tomlScalar(e)
			if err != nil {
				return nil, true, fmt.Errorf("in the list: %w", err)
			}
			vals = append(vals, s)
		}
		return vals, true, nil
	}
	s, err := tomlScalar(v)
	if err != nil {
		return nil, false, err
	}
	return []string{s}, false, nil
}

func tomlScalar(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	kind := "date or time"
	switch v.(type) {
	case map[string]any:
		kind = "table"
	case []map[string]any:
		kind = "table array"
	case []any:
		kind = "list"
	}
	return "", fmt.Errorf("a %s is not a value a flag takes: want a string, a number or true/false", kind)
}

// repeatable reports whether a flag may be given several times, so that
// its key takes a list.
func repeatable(f *flag.Flag) bool {
	switch f.Value.(type) {
	case *listFlag, *wssFlag, *bridgeFlag:
		return true
	}
	return false
}

// valueKind says what a flag's value looks like, for errors.
func valueKind(f *flag.Flag) string {
	if sf, ok := f.Value.(*sizeFlag); ok {
		if sf.perSecond {
			return `a rate such as "10MiB/s"`
		}
		return `a size such as "500GiB"`
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		if repeatable(f) {
			return "a string or a list of strings"
		}
		return "a string"
	}
	switch g.Get().(type) {
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	case time.Duration:
		return `a duration such as "90s" or "1h30m"`
	}
	return "a string"
}

func defaultNote(f *flag.Flag) string {
	if f.DefValue == "" {
		return ""
	}
	return " " + f.DefValue
}

// annotate adds to err the config file key a flag it names came from.
// Commands check their flags' values after parsing and name the flag in
// the error ("--max-sessions 0 must be positive"); when the value came from
// the file, that alone would send the reader to the wrong place. Matching
// the flag's name in the message is for that sentence only: nothing
// branches on it.
func (u *configUse) annotate(err error) error {
	if err == nil || u == nil {
		return err
	}
	msg := err.Error()
	for _, k := range u.keys {
		if mentionsFlag(msg, k) {
			return fromConfigError{err, k, u.path}
		}
	}
	return err
}

// mentionsFlag reports whether msg names --name (and not a longer flag).
func mentionsFlag(msg, name string) bool {
	needle := "--" + name
	for i := strings.Index(msg, needle); i >= 0; {
		end := i + len(needle)
		if end == len(msg) || !isFlagNameByte(msg[end]) {
			return true
		}
		j := strings.Index(msg[end:], needle)
		if j < 0 {
			return false
		}
		i = end + j
	}
	return false
}

func isFlagNameByte(b byte) bool {
	return b == '-' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9'
}

// fromConfigError is an error about a flag whose value came from a config
// file.
type fromConfigError struct {
	error
	key, path string
}

func (f fromConfigError) Error() string {
	return fmt.Sprintf("%v (key %q in config file %s)", f.error, f.key, f.path)
}
func (f fromConfigError) Unwrap() error { return f.error }

// sizeFlag is a number of bytes written for people: "500GiB", "10MB",
// "1048576". With perSecond it is a rate and may end in "/s" ("10MiB/s").
// 0 means unlimited.
type sizeFlag struct {
	n         int64
	perSecond bool
}

// sizeUnits are the units a size takes, case-insensitive: powers of 1000
// (kB, MB …) and of 1024 (KiB, MiB …).
var sizeUnits = []struct {
	name string
	mult int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"k", 1e3}, {"b", 1},
}

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v, s.perSecond)
	if err != nil {
		return err
	}
	s.n = n
	return nil
}

func (s *sizeFlag) String() string {
	if s == nil {
		return "0"
	}
	return formatSize(s.n, s.perSecond)
}

// parseSize parses a size (or, with perSecond, a rate) in bytes.
func parseSize(v string, perSecond bool) (int64, error) {
	in := strings.TrimSpace(v)
	want := `a size such as "500GiB", "750GB" or "0" for unlimited`
	if perSecond {
		want = `a rate such as "10MiB/s", "2.5MB/s" or "0" for unlimited`
		lower := strings.ToLower(in)
		if strings.Contains(lower, "bit") || strings.HasSuffix(lower, "bps") {
			return 0, fmt.Errorf("%q: give bytes per second, not bits (100 Mbit/s is 12.5MB/s)", v)
		}
		in = strings.TrimSuffix(strings.TrimSuffix(in, "/s"), "/S")
	}
	num, unit := in, ""
	if i := strings.IndexFunc(in, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); i >= 0 {
		num, unit = strings.TrimSpace(in[:i]), strings.ToLower(strings.TrimSpace(in[i:]))
	}
	mult := int64(1)
	if unit != "" {
		mult = 0
		for _, u := range sizeUnits {
			if unit == u.name {
				mult = u.mult
				break
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("%q: unknown unit %q; want %s", v, unit, want)
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not %s", v, want)
	}
	bytes := f * float64(mult)
	if bytes >= 1<<62 {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return int64(bytes), nil
}

// formatSize writes n bytes with the largest binary unit that divides it.
func formatSize(n int64, perSecond bool) string {
	s := strconv.FormatInt(n, 10)
	if n != 0 {
		for _, u := range sizeUnits[:4] {
			if n%u.mult == 0 {
				s = strconv.FormatInt(n/u.mult, 10) + map[int64]string{1 << 10: "KiB", 1 << 20: "MiB", 1 << 30: "GiB", 1 << 40: "TiB"}[u.mult]
			}
		}
		if s == strconv.FormatInt(n, 10) {
			s += "B"
		}
	}
	if perSecond && n != 0 {
		s += "/s"
	}
	return s
}
