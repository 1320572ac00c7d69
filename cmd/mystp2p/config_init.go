package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

func cmdConfig(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "init" {
		return exitUsage{errors.New("usage: mystp2p config init --role provider|consumer|relay|hermes [--data-dir DIR] [--config FILE] [--force]")}
	}
	fs := newFlagSet(e, "config init", "config init --role provider|consumer|relay|hermes [--data-dir DIR] [--config FILE] [--force]")
	roleF := fs.String("role", "", "the node this file is for: provider, consumer, relay or hermes (required)")
	dataDir := fs.String("data-dir", defaultDataDir(), "write "+ConfigFile+" into this directory, where the node reads it")
	path := fs.String("config", "", "write this `file` instead (the node then needs --config FILE too)")
	force := fs.Bool("force", false, "overwrite an existing file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *roleF == "" {
		return exitUsage{errors.New("config init needs --role provider, consumer, relay or hermes")}
	}
	r, err := parseNodeRole(*roleF)
	if err != nil {
		return exitUsage{fmt.Errorf("--role %w", err)}
	}
	if *path == "" {
		*path = filepath.Join(*dataDir, ConfigFile)
	}
	if err := os.MkdirAll(filepath.Dir(*path), 0o700); err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	if err := writeNewFile(*path, defaultConfig(r), *force); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s for mystp2p %s; uncomment and set the keys you need\n", *path, r.command())
	return nil
}

// writeNewFile writes b to path, which must not exist unless force. With
// force the file is replaced whole, never left half-written.
func writeNewFile(path string, b []byte, force bool) error {
	if !force {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w; edit it, or give --force to replace it with the defaults", path, os.ErrExist)
		}
		if err != nil {
			return fmt.Errorf("config init: %w", err)
		}
		_, err = f.Write(b)
		return errors.Join(err, f.Close())
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("config init: %w", err)
	}
	_, err = tmp.Write(b)
	if err = errors.Join(err, tmp.Chmod(0o600), tmp.Close()); err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("config init: %w", err)
	}
	return nil
}

// defaultConfig is the commented config file for a role: every key its
// command takes, commented out, with its default value and its flag's help.
func defaultConfig(r nodeRole) []byte {
	fs := r.flagsOf()
	var envs []string
	fs.VisitAll(func(f *flag.Flag) {
		if ev := envOverrides[f.Name]; ev != "" {
			envs = append(envs, "$"+ev)
		}
	})
	slices.Sort(envs)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# mystp2p configuration for a %s, written by mystp2p config init --role %s.\n", r, r)
	fmt.Fprintf(&b, "#\n# mystp2p %s reads it from <data-dir>/%s, or from --config FILE.\n", r.command(), ConfigFile)
	wrapComment(&b, "Every key is one of its flags, without the dashes; uncomment a key and set it to use it. "+
		"A list key (such as bootstrap) stands for the flag given several times. "+
		"A flag on the command line wins over this file"+envNote(envs)+". "+
		"Keys of the ["+string(r)+"] table apply to mystp2p "+r.command()+" only; keys above it apply to every node command that reads this file.")
	fmt.Fprintf(&b, "\n[%s]\n", r)
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := notInFile[f.Name]; ok || strings.HasPrefix(f.Usage, "deprecated") {
			return
		}
		_, help := flag.UnquoteUsage(f)
		b.WriteString("\n")
		wrapComment(&b, help)
		fmt.Fprintf(&b, "#%s = %s\n", f.Name, tomlDefault(f))
	})
	return b.Bytes()
}

// tomlDefault is a flag's default written as a TOML value of the kind the
// config file takes for it.
func tomlDefault(f *flag.Flag) string {
	if repeatable(f) {
		var vals []string
		if f.DefValue != "" {
			for _, v := range strings.Split(f.DefValue, ",") {
				vals = append(vals, tomlString(v))
			}
		}
		return "[" + strings.Join(vals, ", ") + "]"
	}
	switch valueKind(f) {
	case "true or false", "a whole number", "a number":
		return f.DefValue
	}
	return tomlString(f.DefValue)
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wrapComment writes text as # lines of at most about 78 columns.
func wrapComment(b *bytes.Buffer, text string) {
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line) > 1 && len(line)+1+len(w) > 78 {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
}

func envNote(envs []string) string {
	if len(envs) == 0 {
		return ""
	}
	return ", and so does an environment variable (" + strings.Join(envs, ", ") + ")"
}
