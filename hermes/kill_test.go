package hermes

import (
	"bufio"
	"context"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mystp2p/mystp2p/identity"
	"github.com/mystp2p/mystp2p/overlay/guard"
)

// killChildEnv makes the test binary run killChild instead of the tests.
const killChildEnv = "MYSTP2P_HERMES_KILL_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		if err := killChild(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if n := guard.Panics(); n > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d stream handler panic(s) were recovered: a recovered panic is a bug\n", n)
		code = 1
	}
	os.Exit(code)
}

const killLanes = 4

// killKey is the fixed key number i of the kill test (hermes is 0).
func killKey(i int) *identity.Identity {
	id, err := identity.FromHex(fmt.Sprintf("%064x", 0x1000+i))
	if err != nil {
		panic(err)
	}
	return id
}

// killChild runs a hub on dir/hub.db and exchanges payments as fast as it
// can on several lanes, printing "ack lane amount" after each promise is
// acknowledged, until it is killed.
func killChild(dir string) error {
	store, err := OpenStore(filepath.Join(dir, "hub.db"))
	if err != nil {
		return err
	}
	hermes := killKey(0)
	hub, err := NewHub(HubConfig{Signer: hermes, ChainID: 1337, FeeBp: 0, Store: store, Balances: richBalances{}})
	if err != nil {
		return err
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, killLanes)
	for lane := range killLanes {
		wg.Go(func() {
			consumer, provider := killKey(1+2*lane), killKey(2+2*lane)
			w, err := NewWallet(consumer, hermes.Address(), 1337, new(big.Int), new(big.Int))
			if err != nil {
				errs <- err
				return
			}
			for k := int64(1); ; k++ {
				r, lock, err := NewR()
				if err != nil {
					errs <- err
					return
				}
				m, err := w.Pay([32]byte{byte(lane)}, provider.Address(), lock, big.NewInt(k*100), big.NewInt(100), new(big.Int))
				if err != nil {
					errs <- err
					return
				}
				p, err := hub.Exchange(context.Background(), provider.Address(), m, r)
				if err != nil {
					errs <- err
					return
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %s\n", lane, p.Amount)
				out.Unlock()
			}
		})
	}
	return <-errs
}

// TestKillDuringExchanges kills (SIGKILL) a hub process in the middle of
// exchanges and checks that every promise it acknowledged is in its store.
func TestKillDuringExchanges(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := make([]int64, killLanes)
	sc := bufio.NewScanner(stdout)
	for n := 0; n < 400 && sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			t.Fatalf("child said %q", sc.Text())
		}
		lane, _ := strconv.Atoi(f[1])
		amount, _ := strconv.ParseInt(f[2], 10, 64)
		acked[lane] = max(acked[lane], amount)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error is expected
	if acked[0] == 0 {
		t.Fatal("child acknowledged nothing")
	}

	store, err := OpenStore(filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hub, err := NewHub(HubConfig{Signer: killKey(0), ChainID: 1337, Store: store, Balances: richBalances{}})
	if err != nil {
		t.Fatal(err)
	}
	for lane := range killLanes {
		provider := killKey(2 + 2*lane).Address()
		st, err := hub.Provider(provider)
		if err != nil {
			t.Fatal(err)
		}
		if st.Latest == nil || st.Latest.Amount.Int64() < acked[lane] {
			t.Fatalf("lane %d: acknowledged %d, store has %v", lane, acked[lane], st.Latest)
		}
		// The restarted hub continues where the store is, consistently.
		c := killKey(1 + 2*lane)
		cs, err := hub.Consumer(context.Background(), c.Address())
		if err != nil {
			t.Fatal(err)
		}
		if cs.Promised.Cmp(st.Latest.Amount) != 0 {
			t.Fatalf("lane %d: consumer promised %s, provider issued %s", lane, cs.Promised, st.Latest.Amount)
		}
		w, _ := NewWallet(c, hub.Address(), 1337, cs.Promised, cs.Fee)
		total := new(big.Int).Add(cs.Promised, big.NewInt(100))
		r, lock, _ := NewR()
		m, err := w.Pay([32]byte{byte(lane)}, provider, lock, total, big.NewInt(100), new(big.Int))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hub.Exchange(context.Background(), provider, m, r); err != nil {
			t.Fatalf("lane %d after restart: %v", lane, err)
		}
	}
}
