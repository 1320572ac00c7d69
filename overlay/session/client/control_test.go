package client

import (
	"context"
	"testing"
	"time"
)

// A request the loop has already taken must not cancel the connect
// attempt it started: the local API's connect after a disconnect used to
// cancel its own attempt now and then, leaving the consumer disconnected.
func TestControlRequestDoesNotCancelItsOwnAttempt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2000 {
		c := NewControl()
		started := make(chan context.Context)
		go func() {
			cmd := c.next(ctx) // disconnected, waiting for a connect
			if cmd.disconnect {
				close(started)
				return
			}
			actx, _ := c.attempt(ctx)
			started <- actx
		}()
		if err := c.Connect(""); err != nil {
			t.Fatal(err)
		}
		actx, ok := <-started
		if !ok {
			t.Fatal("the loop took a disconnect")
		}
		// send has returned: nothing may cancel the attempt now.
		if actx.Err() != nil {
			t.Fatalf("round %d: the connect request cancelled the attempt it started", i)
		}
		c.endAttempt()
	}
}

// A request that arrives during an attempt cancels it, and the loop can
// take it.
func TestControlRequestInterruptsAttempt(t *testing.T) {
	c := NewControl()
	actx, cmd := c.attempt(context.Background())
	if _, ok := cmd(); ok || actx.Err() != nil {
		t.Fatal("an attempt with no request is interrupted")
	}
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if actx.Err() == nil {
		t.Fatal("a request did not interrupt the attempt under way")
	}
	if got, ok := cmd(); !ok || !got.disconnect {
		t.Fatalf("the loop took %+v, %v; want the disconnect", got, ok)
	}
	c.endAttempt()
	// A request between attempts waits, and the next attempt starts cancelled.
	if err := c.Connect(""); err != nil {
		t.Fatal(err)
	}
	actx, cmd = c.attempt(context.Background())
	if actx.Err() == nil {
		t.Fatal("an attempt began with a request waiting")
	}
	if _, ok := cmd(); !ok {
		t.Fatal("the waiting request was lost")
	}
}
