package tunnel_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"

	"github.com/mystp2p/mystp2p/tunnel"
	"github.com/mystp2p/mystp2p/tunnel/tunneltest"
	"golang.org/x/net/proxy"
)

// Example runs a whole session in memory: a provider whose exit may reach
// loopback, a consumer with a SOCKS5 endpoint, and an HTTP request through
// it by host name, resolved at the provider.
func Example() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello through the tunnel")
	}))
	defer origin.Close()

	pool, _ := tunnel.NewAddressPool(netip.Prefix{}, netip.Prefix{})
	pair, _ := pool.Allocate()
	consKey, _ := tunnel.GeneratePrivateKey()
	provKey, _ := tunnel.GeneratePrivateKey()
	policy, _ := tunnel.NewExitPolicy(tunnel.WithAllowLoopback())
	consBind, provBind := tunneltest.NewBindPair()

	prov, err := tunnel.NewProvider(tunnel.ProviderConfig{
		PrivateKey:    provKey,
		PeerPublicKey: consKey.PublicKey(),
		Addresses:     pair,
		Bind:          provBind,
		Policy:        policy,
		Resolver:      exampleResolver{"origin.example": netip.MustParseAddr("127.0.0.1")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer prov.Close()
	cons, err := tunnel.NewConsumer(tunnel.ConsumerConfig{
		PrivateKey:    consKey,
		PeerPublicKey: provKey.PublicKey(),
		Addresses:     pair,
		Bind:          consBind,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cons.Close()
	socks, err := tunnel.NewSOCKSServer(cons, "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer socks.Close()

	dialer, _ := proxy.SOCKS5("tcp", socks.Addr().String(), nil, proxy.Direct)
	port := strconv.Itoa(origin.Listener.Addr().(*net.TCPAddr).Port)
	ctxDialer := dialer.(proxy.ContextDialer) // x/net's SOCKS5 dialer can dial with a context
	client := &http.Client{Transport: &http.Transport{DialContext: ctxDialer.DialContext}}
	resp, err := client.Get("http://origin.example:" + port + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	st := prov.Stats()
	fmt.Println("provider metered traffic both ways:", st.TxBytes > 0 && st.RxBytes > 0)
	// Output:
	// hello through the tunnel
	// provider metered traffic both ways: true
}

type exampleResolver map[string]netip.Addr

func (r exampleResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
