package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is this build's release. make build stamps it with
// -ldflags "-X main.version=…" (git describe); a go install of a tagged
// module version gets it from the build info instead.
var version = "dev"

// commit is the VCS revision for builds whose build info has none
// (-buildvcs=false); make build stamps it with -X main.commit=….
var commit = ""

func cmdVersion(e env, args []string) error {
	fs := newFlagSet(e, "version", "version")
	if err := parse(fs, args); err != nil {
		return err
	}
	info, _ := debug.ReadBuildInfo()
	writeVersion(e.stdout, info)
	return nil
}

// writeVersion prints the version, the commit and the Go version; info
// may be nil.
func writeVersion(w io.Writer, info *debug.BuildInfo) {
	ver, rev, modified := version, commit, false
	if info != nil {
		if ver == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	} else if modified {
		rev += " (with local changes)"
	}
	fmt.Fprintf(w, "mystp2p %s\ncommit  %s\ngo      %s %s/%s\n", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
