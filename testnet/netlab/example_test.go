package netlab_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/mystp2p/mystp2p/testnet/netlab"
)

// A testnet's life: remove leftovers of crashed runs, build a lab, run one
// process per host, close the lab (also on Ctrl-C).
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()
	if err := netlab.Available(); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := netlab.CleanupStale(ctx, log); err != nil {
		fmt.Println(err)
	}
	lab, err := netlab.New(ctx, netlab.Config{
		Logger: log,
		Hosts: []netlab.HostConfig{
			{Name: "relay", ExtraAddrs: 3},
			{Name: "provider", NAT: netlab.NATFullCone, Port: 4001},
			{Name: "consumer", NAT: netlab.NATSymmetric},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lab.Close()

	self, err := os.Executable()
	if err != nil {
		fmt.Println(err)
		return
	}
	relay := lab.PublicAddr("relay")
	cmd := lab.Command("consumer", self, "node", "--relay", relay.String())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return
	}
	// … run the scenario; Close kills what is still running.
}
