package main

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Readiness for systemd. A unit of Type=notify, such as the provider's
// (packaging/systemd/mystp2p-provider.service), counts the node as started
// only once it says READY=1 on the datagram socket named by $NOTIFY_SOCKET,
// and shows the STATUS= line in `systemctl status`. provide, relay and
// hermes say so once they serve, and STOPPING=1 when they begin to shut
// down. Outside such a unit $NOTIFY_SOCKET is unset and nothing is sent.

// notifyServing tells the service manager, if there is one, that the node
// is serving, with status as its status line. It returns the function to
// call when the node begins to stop. A failure to tell is a warning on
// stderr: the node serves either way, and systemd's start timeout reports
// the missing READY=1.
func notifyServing(e env, status string) (stopping func()) {
	// daemon.SdNotify reads $NOTIFY_SOCKET itself; e.getenv is os.Getenv
	// wherever a unit can start the node, and a test's empty environment
	// sends nothing.
	if e.getenv("NOTIFY_SOCKET") == "" {
		return func() {}
	}
	sdNotify(e, daemon.SdNotifyReady, status)
	return func() { sdNotify(e, daemon.SdNotifyStopping, "stopping") }
}

// sdNotify sends state with a STATUS= line (one line: newlines would start
// new assignments).
func sdNotify(e env, state, status string) {
	status = strings.Join(strings.Fields(status), " ")
	if _, err := daemon.SdNotify(false, state+"\nSTATUS="+status); err != nil {
		fmt.Fprintf(e.stderr, "warning: could not tell systemd %s through $NOTIFY_SOCKET: %v\n", state, err)
	}
}
