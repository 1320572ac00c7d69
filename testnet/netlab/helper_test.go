package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mystp2p/mystp2p/testnet/tstest"
)

// The test binary doubles as the program run inside the lab's namespaces:
// in a child (see startHelper) TestMain runs a helper instead of the tests.
// Every helper exits when its standard input closes, so it never outlives
// the test.
func TestMain(m *testing.M) { tstest.Main(m, runHelper) }

// runHelper runs the helper of mode; addr is the address it works on.
func runHelper(mode, addr string) error {
	switch mode {
	case "udp":
		return udpAgent(addr, os.Stdin, os.Stdout)
	case "http-server":
		return httpServer(addr)
	case "http-get":
		return httpGet(addr)
	case "make-lab":
		return makeLab()
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// udpAgent binds a UDP socket on addr and obeys line commands on in,
// answering each with one line on out:
//
//	map DST           probe DST until it answers; "mapped ADDR" (as DST saw us)
//	send DST TOKEN    send a token datagram; "sent"
//	wait TOKEN MS     "got TOKEN FROM" once TOKEN arrived, "none TOKEN" after MS
//	has TOKEN         the same without waiting
//	punch DST MS      send punches to DST every 20 ms, switching to wherever a
//	                  punch arrives from (also before the command); "punch ok
//	                  FROM" when one of ours was acknowledged, "punch fail"
//	                  after MS
//
// Whatever the command, it answers a probe datagram with what it saw and a
// punch with an ack, like a rendezvous server and a punching peer would.
func udpAgent(addr string, in io.Reader, out io.Writer) error {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		return err
	}
	defer conn.Close()

	var mu sync.Mutex
	changed := make(chan struct{}, 1)
	seen := map[string]string{}   // prober's address -> our address as it saw it
	tokens := map[string]string{} // token -> sender
	var punchTarget netip.AddrPort
	var acked netip.AddrPort
	notify := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			msg := string(buf[:n])
			switch {
			case msg == "probe":
				conn.WriteToUDPAddrPort([]byte("seen "+from.String()), from)
			case msg == "punch":
				conn.WriteToUDPAddrPort([]byte("ack"), from)
				mu.Lock()
				punchTarget = from
				mu.Unlock()
			case msg == "ack":
				mu.Lock()
				if !acked.IsValid() {
					acked = from
				}
				mu.Unlock()
			case strings.HasPrefix(msg, "seen "):
				mu.Lock()
				seen[from.String()] = strings.TrimPrefix(msg, "seen ")
				mu.Unlock()
			case strings.HasPrefix(msg, "tok "):
				mu.Lock()
				tokens[strings.TrimPrefix(msg, "tok ")] = from.String()
				mu.Unlock()
			}
			notify()
		}
	}()
	// waitFor polls cond under mu whenever a datagram arrives or tick fires.
	waitFor := func(d time.Duration, tick func(), cond func() bool) bool {
		deadline := time.NewTimer(d)
		defer deadline.Stop()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			mu.Lock()
			ok := cond()
			mu.Unlock()
			if ok {
				return true
			}
			select {
			case <-deadline.C:
				return false
			case <-changed:
			case <-t.C:
				if tick != nil {
					tick()
				}
			}
		}
	}

	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		reply := "error bad command"
		switch {
		case len(f) == 2 && f[0] == "map":
			dst := netip.MustParseAddrPort(f[1])
			probe := func() { conn.WriteToUDPAddrPort([]byte("probe"), dst) }
			probe()
			var got string
			if waitFor(2*time.Second, probe, func() bool { got = seen[dst.String()]; return got != "" }) {
				reply = "mapped " + got
			} else {
				reply = "error no answer from " + dst.String()
			}
		case len(f) == 3 && f[0] == "send":
			_, err := conn.WriteToUDPAddrPort([]byte("tok "+f[2]), netip.MustParseAddrPort(f[1]))
			reply = "sent"
			if err != nil {
				reply = "error " + err.Error()
			}
		case len(f) == 3 && f[0] == "wait", len(f) == 2 && f[0] == "has":
			ms := 0
			if len(f) == 3 {
				ms, _ = strconv.Atoi(f[2])
			}
			var from string
			if waitFor(time.Duration(ms)*time.Millisecond, nil, func() bool { from = tokens[f[1]]; return from != "" }) {
				reply = "got " + f[1] + " " + from
			} else {
				reply = "none " + f[1]
			}
		case len(f) == 3 && f[0] == "punch":
			ms, _ := strconv.Atoi(f[2])
			mu.Lock()
			// A peer's punch may have come before this command: then
			// answer where it came from, not where the server saw it.
			if !punchTarget.IsValid() {
				punchTarget = netip.MustParseAddrPort(f[1])
			}
			acked = netip.AddrPort{}
			mu.Unlock()
			send := func() {
				mu.Lock()
				to := punchTarget
				mu.Unlock()
				conn.WriteToUDPAddrPort([]byte("punch"), to)
			}
			send()
			var from netip.AddrPort
			if waitFor(time.Duration(ms)*time.Millisecond, send, func() bool { from = acked; return from.IsValid() }) {
				reply = "punch ok " + from.String()
			} else {
				reply = "punch fail"
			}
		}
		if _, err := fmt.Fprintln(out, reply); err != nil {
			return err
		}
	}
	return sc.Err()
}

// httpServer serves "origin saw REMOTEADDR" on addr and prints "ready".
func httpServer(addr string) error {
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "origin saw %s", r.RemoteAddr)
	})}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		srv.Close()
	}()
	fmt.Println("ready")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// httpGet prints the body of GET url.
func httpGet(url string) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Print(string(body))
	return nil
}

// makeLab builds a lab, prints its prefix and waits to be killed: a crashed
// lab owner for TestCleanupStale.
func makeLab() error {
	lab, err := New(context.Background(), Config{Hosts: []HostConfig{
		{Name: "srv"},
		{Name: "nat", NAT: NATPortRestricted},
	}})
	if err != nil {
		return err
	}
	fmt.Println(lab.Prefix())
	io.Copy(io.Discard, os.Stdin)
	return lab.Close()
}

// startHelper starts the test binary in mode inside host's namespace, as
// a child the test talks to line by line.
func startHelper(t *testing.T, lab *Lab, host, mode, addr string) *tstest.Child {
	t.Helper()
	return tstest.StartChild(t, host+"/"+mode, helperConfig(lab, host, mode, addr))
}

// helperConfig runs the helper of mode in host's namespace.
func helperConfig(lab *Lab, host, mode, addr string) tstest.ChildConfig {
	return tstest.ChildConfig{
		Mode:   mode,
		Config: addr,
		Netns:  func(name string, arg ...string) *exec.Cmd { return lab.Command(host, name, arg...) },
	}
}
