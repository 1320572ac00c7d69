package main

import (
	"context"
	"fmt"

	"github.com/mystp2p/mystp2p/identity"
)

func cmdIdentity(_ context.Context, e env, args []string) error {
	if len(args) == 0 {
		return exitUsage{fmt.Errorf("identity: say new or show")}
	}
	var f idFlags
	switch args[0] {
	case "new":
		fs := newFlagSet(e, "identity new", "identity new [flags]")
		f.register(fs)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		ks, err := f.keystore()
		if err != nil {
			return err
		}
		pass, err := f.passphrase(e, true)
		if err != nil {
			return err
		}
		id, err := ks.New(pass)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created identity in %s\n", ks.Dir())
		printIdentity(e, id)
		return nil
	case "show":
		fs := newFlagSet(e, "identity show", "identity show [flags]")
		f.register(fs)
		if err := parse(fs, args[1:]); err != nil {
			return err
		}
		id, err := f.unlock(e)
		if err != nil {
			return err
		}
		printIdentity(e, id)
		return nil
	default:
		return exitUsage{fmt.Errorf("identity: unknown subcommand %q (want new or show)", args[0])}
	}
}

func printIdentity(e env, id *identity.Identity) {
	fmt.Fprintf(e.stdout, "address: %s\npeer ID: %s\n", id.Address().Hex(), id.PeerID())
}
