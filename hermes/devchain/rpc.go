package devchain

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// endpoint is where the chain serves JSON-RPC.
type endpoint struct{ addr netip.AddrPort }

// listenEndpoint checks that listen is a loopback IP:port and, for port 0,
// picks a free port: the node takes a port number, not a listener.
func listenEndpoint(listen string) (endpoint, error) {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return endpoint{}, fmt.Errorf("devchain: Config.Listen %q: want a loopback IP:port such as 127.0.0.1:8545: %w", listen, err)
	}
	if !ap.Addr().IsLoopback() {
		return endpoint{}, fmt.Errorf("devchain: Config.Listen %q: want a loopback IP:port such as 127.0.0.1:8545", listen)
	}
	if ap.Port() == 0 {
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return endpoint{}, fmt.Errorf("devchain: find a free port: %w", err)
		}
		ap = netip.MustParseAddrPort(ln.Addr().String())
		ln.Close()
	}
	return endpoint{addr: ap}, nil
}

// nodeOption makes the simulated node serve HTTP JSON-RPC at e.
func (e endpoint) nodeOption(nc *node.Config, _ *ethconfig.Config) {
	nc.HTTPHost = e.addr.Addr().String()
	nc.HTTPPort = int(e.addr.Port())
	nc.HTTPModules = []string{"eth", "net", "web3", "txpool"}
	nc.HTTPVirtualHosts = []string{"localhost", e.addr.Addr().String()}
}

// url is e's HTTP URL.
func (e endpoint) url() string {
	return "http://" + net.JoinHostPort(e.addr.Addr().String(), strconv.Itoa(int(e.addr.Port())))
}

// serve dials the chain's own RPC endpoint and starts mining what arrives
// there.
func (c *Chain) serve(ctx context.Context, e endpoint, every, blockEvery time.Duration) error {
	var err error
	if c.pool, err = rpc.DialContext(ctx, e.url()); err != nil {
		return fmt.Errorf("devchain: dial own RPC: %w", err)
	}
	c.rpcURL = e.url()
	c.stopMining = make(chan struct{})
	c.mined = make(chan struct{})
	go c.mineLoop(every, blockEvery)
	return nil
}

// RPCURL is the chain's HTTP JSON-RPC endpoint, "" when Config.Listen was
// empty.
func (c *Chain) RPCURL() string { return c.rpcURL }

// mineLoop mines whatever other processes sent until Close, and a block
// at least every blockEvery (if positive).
func (c *Chain) mineLoop(every, blockEvery time.Duration) {
	defer close(c.mined)
	t := time.NewTicker(every)
	defer t.Stop()
	defer c.pool.Close()
	last := time.Now()
	for {
		select {
		case <-c.stopMining:
			return
		case <-t.C:
		}
		// The pending block is rebuilt only every few seconds; the pool's
		// own count is current.
		ctx, cancel := context.WithTimeout(context.Background(), every*10)
		var status struct{ Pending hexutil.Uint }
		err := c.pool.CallContext(ctx, &status, "txpool_status")
		cancel()
		if (err == nil && status.Pending > 0) || (blockEvery > 0 && time.Since(last) >= blockEvery) {
			c.commit()
			last = time.Now()
		}
	}
}
