package testnet

import (
	"bufio"
	"context"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
	"github.com/mystp2p/mystp2p/relay"
)

// failoverRoleConsumer is the failover scenario's consumer.
const failoverRoleConsumer = "failover-consumer"

// failoverProbeEvery is how often the consumer fetches through SOCKS5.
const failoverProbeEvery = 100 * time.Millisecond

// runFailoverConsumer runs `connect --auto-reconnect`'s loop with SOCKS5
// on failoverSOCKS and fetches cfg.Origin through it every
// failoverProbeEvery. Events: "ready" (the first fetch, with the
// provider), "ended" (a session ended; MS since the last "killed" line on
// standard input) and "recovered" (the first fetch begun after the kill
// that worked; MS since the kill, with the provider).
func runFailoverConsumer(ctx context.Context, cfg CensorChildConfig, oc overlay.Config, emit func(childEvent) error) error {
	boot, err := relay.ParsePeers(cfg.Bootstrap)
	if err != nil {
		return err
	}
	oc.Bootstrap = boot
	oc.Host.Reachability = overlay.ReachabilityPrivate
	node, err := overlay.New(ctx, oc)
	if err != nil {
		return err
	}
	defer node.Close()

	var mu sync.Mutex
	var provider string
	var killedAt time.Time
	recovered := true
	sinceKill := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		if killedAt.IsZero() {
			return 0
		}
		return ms(time.Since(killedAt))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		consumed <- client.Consume(ctx, node, client.ConsumeConfig{
			SOCKSAddr:     failoverSOCKS,
			AutoReconnect: true,
			Progress:      func(msg string) { node.Logger().Info("connect: " + msg) },
			OnSession: func(s *client.Session) {
				mu.Lock()
				provider = s.Provider.String()
				mu.Unlock()
				go func() {
					select {
					case <-s.Done():
						_ = emit(childEvent{Event: "ended", ID: s.Provider.String(), MS: sinceKill()})
					case <-ctx.Done():
					}
				}()
			},
		})
	}()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if sc.Text() == "killed" {
				mu.Lock()
				killedAt, recovered = time.Now(), false
				mu.Unlock()
			}
		}
	}()
	ready := false
	t := time.NewTicker(failoverProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-consumed:
			return err
		case <-t.C:
		}
		begun := time.Now()
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := FetchThroughSOCKS(pctx, failoverSOCKS, cfg.Origin, io.Discard)
		pcancel()
		if err != nil {
			node.Logger().Debug("probe failed", "took", time.Since(begun), "err", err)
			continue
		}
		mu.Lock()
		p, k, done := provider, killedAt, recovered
		if !done && begun.After(k) {
			recovered = true
		}
		mu.Unlock()
		if !ready {
			ready = true
			if err := emit(childEvent{Event: "ready", ID: p}); err != nil {
				return err
			}
		}
		if !done && begun.After(k) {
			if err := emit(childEvent{Event: "recovered", ID: p, MS: ms(time.Since(k))}); err != nil {
				return err
			}
		}
	}
}
