package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// testHelper is what the tests' children run (see TestMain).
func testHelper(mode, config string) error {
	switch mode {
	case "events", "events-stay":
		// Print config "tick" events and a "last" one, as a lab node
		// prints its events, then say so on stderr; "events-stay" then
		// runs until interrupted, as a lab node does.
		n, err := strconv.Atoi(config)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		for i := range n {
			b, _ := json.Marshal(childEvent{Event: "tick", ID: strconv.Itoa(i)})
			fmt.Printf("%s\n", b)
		}
		fmt.Println("a line that is no event")
		fmt.Println(`{"event":"last"}`)
		fmt.Fprintln(os.Stderr, "all sent")
		if mode == "events-stay" {
			<-ctx.Done()
		}
		return nil
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// A lab node's events nobody waits for block neither the node nor its
// reader: the node exits, or stops when told to, and all its events are
// there to read afterwards, in order. (The reader used to hand events
// over on a channel of 16, and block for good on the 17th.)
func TestChildEventsNobodyWaitsFor(t *testing.T) {
	const n = 100
	for _, mode := range []string{"events", "events-stay"} {
		t.Run(mode, func(t *testing.T) {
			tstest.CheckGoroutines(t)
			c, err := runChild(mode, tstest.Command(t, tstest.ChildConfig{Mode: mode, Config: strconv.Itoa(n)}))
			if err != nil {
				t.Fatal(err)
			}
			tstest.WaitFor(t, 30*time.Second, "the child to print its events", func() bool {
				return strings.Contains(c.stderr.String(), "all sent")
			})
			if mode == "events" {
				select {
				case <-c.done:
				case <-time.After(30 * time.Second):
					t.Fatal("the child exited, but its output was never read to the end")
				}
			}
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				c.stop()
			}()
			select {
			case <-stopped:
			case <-time.After(30 * time.Second):
				t.Fatal("stop did not return")
			}
			if c.err != nil {
				t.Fatalf("child: %v: %s", c.err, c.stderr.String())
			}
			ctx := context.Background()
			for i := range n {
				ev, err := c.wait(ctx, "tick", 5*time.Second)
				if err != nil || ev.ID != strconv.Itoa(i) {
					t.Fatalf("event %d: %+v, %v", i, ev, err)
				}
			}
			if _, err := c.wait(ctx, "last", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if _, err := c.wait(ctx, "tick", 5*time.Second); err == nil || !strings.Contains(err.Error(), "exited before") {
				t.Fatalf("wait after the last event: %v, want an exited child", err)
			}
			c.stop() // again: returns at once
		})
	}
}

// wait hands over events as they come, and gives up on its deadline or
// context.
func TestChildWait(t *testing.T) {
	tstest.CheckGoroutines(t)
	c, err := runChild("events-stay", tstest.Command(t, tstest.ChildConfig{Mode: "events-stay", Config: "1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	ctx := context.Background()
	if ev, err := c.wait(ctx, "last", 30*time.Second); err != nil || ev.Event != "last" {
		t.Fatalf("wait: %+v, %v", ev, err)
	}
	if _, err := c.wait(ctx, "tick", 10*time.Millisecond); err == nil || !strings.Contains(err.Error(), `no "tick" within`) {
		t.Fatalf("wait for an event already dropped: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.wait(cctx, "tick", time.Minute); err != context.Canceled {
		t.Fatalf("wait with a cancelled context: %v", err)
	}
}
