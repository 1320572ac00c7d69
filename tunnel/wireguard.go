package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/mystp2p/mystp2p/tunnel/wgpath"
)

// DefaultKeepalive is the persistent keepalive interval the consumer uses
// so that NAT mappings on the punched path stay open.
const DefaultKeepalive = 25 * time.Second

// bindEndpoint returns the single peer of binds that have one (see
// wgpath.Endpointer), or "".
func bindEndpoint(b conn.Bind) string { return wgpath.BindEndpoint(b) }

// peerConfig is what both ends tell WireGuard about the other.
type peerConfig struct {
	privateKey PrivateKey
	peerKey    PublicKey
	endpoint   string
	keepalive  time.Duration
	allowedIPs []string
}

func (pc peerConfig) uapi() string {
	var b strings.Builder
	fmt.Fprintf(&b, "private_key=%s\n", pc.privateKey.Hex())
	b.WriteString("replace_peers=true\n")
	fmt.Fprintf(&b, "public_key=%s\n", pc.peerKey.Hex())
	if pc.endpoint != "" {
		fmt.Fprintf(&b, "endpoint=%s\n", pc.endpoint)
	}
	if pc.keepalive > 0 {
		fmt.Fprintf(&b, "persistent_keepalive_interval=%d\n", int(pc.keepalive/time.Second))
	}
	b.WriteString("replace_allowed_ips=true\n")
	for _, a := range pc.allowedIPs {
		fmt.Fprintf(&b, "allowed_ip=%s\n", a)
	}
	return b.String()
}

// startWireGuard runs a WireGuard device with one peer on tdev (a gVisor
// netDevice, or a kernel TUN in TUN mode). On error, tdev and bind are closed.
func startWireGuard(tdev tun.Device, bind conn.Bind, pc peerConfig, log *slog.Logger) (*device.Device, error) {
	if pc.endpoint == "" {
		pc.endpoint = bindEndpoint(bind)
	}
	dev := device.NewDevice(tdev, bind, wgLogger(log))
	if err := dev.IpcSet(pc.uapi()); err != nil {
		dev.Close()
		return nil, fmt.Errorf("configure WireGuard: %w", err)
	}
	if err := dev.Up(); err != nil {
		dev.Close()
		return nil, fmt.Errorf("bring WireGuard up: %w", err)
	}
	return dev, nil
}

// lastHandshake reads the peer's last completed handshake from the UAPI.
func lastHandshake(dev *device.Device) (time.Time, error) {
	s, err := dev.IpcGet()
	if err != nil {
		return time.Time{}, fmt.Errorf("read WireGuard state: %w", err)
	}
	var sec, nsec int64
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "last_handshake_time_sec":
			sec, _ = strconv.ParseInt(v, 10, 64)
		case "last_handshake_time_nsec":
			nsec, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}, nil
	}
	return time.Unix(sec, nsec), nil
}

// wgLogger adapts wireguard-go's printf logger to slog. wireguard-go logs
// some errors per packet, so errors are rate-limited.
func wgLogger(log *slog.Logger) *device.Logger {
	rl := &rateLimiter{every: time.Second, burst: 5}
	return &device.Logger{
		Verbosef: func(format string, args ...any) {
			if log.Enabled(context.Background(), slog.LevelDebug) {
				log.Debug(fmt.Sprintf(format, args...), "component", "wireguard")
			}
		},
		Errorf: func(format string, args ...any) {
			if rl.allow(time.Now()) {
				log.Warn(fmt.Sprintf(format, args...), "component", "wireguard")
			}
		},
	}
}

// rateLimiter lets burst events through per period and drops the rest.
type rateLimiter struct {
	every time.Duration
	burst int

	mu     sync.Mutex
	window time.Time // guarded by mu
	count  int       // guarded by mu
}

func (r *rateLimiter) allow(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.window) >= r.every {
		r.window = now
		r.count = 0
	}
	r.count++
	return r.count <= r.burst
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
