package testnet

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Origin is the web server consumers reach through their tunnels: "/"
// answers with the address the request came from (the provider's exit), and
// "/bytes/N" streams N bytes for throughput runs.
type Origin struct {
	srv *http.Server
	ln  net.Listener
	wg  sync.WaitGroup
}

// maxOriginBytes bounds one /bytes/N response.
const maxOriginBytes = 1 << 30

// StartOrigin serves on addr (e.g. "127.0.0.1:0").
func StartOrigin(addr string) (*Origin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("origin listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the mystp2p testnet origin; you came from %s\n", r.RemoteAddr)
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > maxOriginBytes {
			http.Error(w, "want /bytes/N with 0 <= N <= 2^30", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		buf := make([]byte, 64<<10)
		for n > 0 {
			k := min(n, int64(len(buf)))
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	o := &Origin{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	o.wg.Go(func() { _ = o.srv.Serve(ln) }) // returns ErrServerClosed on Close
	return o, nil
}

// URL is the origin's base URL.
func (o *Origin) URL() string { return "http://" + o.ln.Addr().String() + "/" }

// Close stops the server and waits.
func (o *Origin) Close() error {
	err := o.srv.Close()
	o.wg.Wait()
	return err
}
