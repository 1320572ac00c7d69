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
)

// The test binary doubles as the program run inside the lab's namespaces:
// with helperEnv set, TestMain runs a helper instead of the tests. Every
// helper exits when its standard input closes, so it never outlives the test.
const (
	helperEnv     = "NETLAB_TEST_HELPER"
	helperAddrEnv = "NETLAB_TEST_ADDR"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv(helperAddrEnv)))
	}
	os.Exit(m.Run())
}

func runHelper(mode, addr string) int {
	var err error
	switch mode {
	case "udp":
		err = udpAgent(addr, os.Stdin, os.Stdout)
	case "http-server":
		err = httpServer(addr)
	case "http-get":
		err = httpGet(addr)
	case "make-lab":
		err = makeLab()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
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

// helperEnviron is the environment of a helper process. Under -race a
// process sleeps a second at exit unless told not to.
func helperEnviron(mode, addr string) []string {
	return append(os.Environ(), helperEnv+"="+mode, helperAddrEnv+"="+addr, "GORACE=atexit_sleep_ms=0")
}

// helper is a helper process the test talks to line by line.
type helper struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{} // closed when the process has exited
	once  sync.Once
}

// replyTimeout bounds every wait for a helper's answer.
const replyTimeout = 15 * time.Second

// startHelper starts the test binary in mode inside host's namespace.
func startHelper(t *testing.T, lab *Lab, host, mode, addr string) *helper {
	t.Helper()
	cmd := lab.Command(host, os.Args[0], "-test.run=^$")
	return startHelperCmd(t, host+"/"+mode, cmd, mode, addr)
}

func startHelperCmd(t *testing.T, name string, cmd *exec.Cmd, mode, addr string) *helper {
	t.Helper()
	cmd.Env = helperEnviron(mode, addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &prefixWriter{t: t, name: name}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting helper %s: %v", name, err)
	}
	h := &helper{t: t, name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
		cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(h.stop)
	return h
}

// stop closes the helper's input and waits for it to exit, killing it if it
// does not within replyTimeout.
func (h *helper) stop() {
	h.once.Do(func() {
		h.stdin.Close()
		lines := h.lines
		deadline := time.After(replyTimeout)
		for {
			select {
			case _, ok := <-lines:
				if !ok {
					lines = nil
				}
			case <-h.done:
				return
			case <-deadline:
				h.cmd.Process.Kill()
				deadline = nil
			}
		}
	})
}

// next returns the helper's next output line.
func (h *helper) next() string {
	h.t.Helper()
	select {
	case l, ok := <-h.lines:
		if !ok {
			h.t.Fatalf("helper %s exited", h.name)
		}
		return l
	case <-time.After(replyTimeout):
		h.t.Fatalf("helper %s: no answer within %v", h.name, replyTimeout)
		return ""
	}
}

// send writes a command line without waiting for the answer.
func (h *helper) send(line string) {
	h.t.Helper()
	if _, err := fmt.Fprintln(h.stdin, line); err != nil {
		h.t.Fatalf("helper %s: %v", h.name, err)
	}
}

// do sends a command and returns its answer.
func (h *helper) do(line string) string {
	h.t.Helper()
	h.send(line)
	return h.next()
}

// prefixWriter logs a helper's standard error through the test.
type prefixWriter struct {
	t    *testing.T
	name string
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
