package tunnel

import "errors"

var (
	// ErrInvalidKey is returned when a WireGuard key is not 32 bytes of
	// base64 or hex, or is the all-zero key.
	ErrInvalidKey = errors.New("invalid WireGuard key")

	// ErrInvalidConfig is returned by constructors when a required field is
	// missing or a value is out of range. The wrapping error names the field.
	ErrInvalidConfig = errors.New("invalid tunnel configuration")

	// ErrClosed is returned by operations on a closed Consumer, Provider,
	// SOCKS server or bind.
	ErrClosed = errors.New("tunnel closed")

	// ErrPoolExhausted is returned by AddressPool.Allocate when every
	// address pair of the pool is in use.
	ErrPoolExhausted = errors.New("tunnel address pool exhausted")

	// ErrPolicyDenied is returned when the provider's exit policy refuses a
	// destination. On the consumer side it means the provider answered with
	// an ICMP "administratively prohibited".
	ErrPolicyDenied = errors.New("destination refused by the exit policy")

	// ErrConnectionRefused means the destination (or the exit on its behalf)
	// actively refused the connection.
	ErrConnectionRefused = errors.New("connection refused")

	// ErrHostUnreachable means the destination host could not be reached.
	ErrHostUnreachable = errors.New("host unreachable")

	// ErrNetworkUnreachable means there is no route to the destination
	// network (for example an IPv6 target without IPv6 in the tunnel).
	ErrNetworkUnreachable = errors.New("network unreachable")

	// ErrTimeout means an operation did not finish before its deadline.
	ErrTimeout = errors.New("timed out")

	// ErrNameNotFound means the provider's DNS responder answered that the
	// name does not exist or has no address.
	ErrNameNotFound = errors.New("name not found")

	// ErrDNS means name resolution through the tunnel failed for a reason
	// other than a missing name (server failure, malformed answer).
	ErrDNS = errors.New("name resolution failed")

	// ErrTooManyFlows is returned when a session exceeds its limit of
	// concurrent TCP connections or UDP flows.
	ErrTooManyFlows = errors.New("too many concurrent flows")

	// ErrNonLoopbackListen is returned by NewSOCKSServer when asked to
	// listen on a non-loopback address without WithAllowNonLoopback.
	ErrNonLoopbackListen = errors.New("refusing to listen on a non-loopback address (allow it explicitly)")

	// ErrTUNNeedsRoot is returned by NewTUNConsumer without CAP_NET_ADMIN.
	ErrTUNNeedsRoot = errors.New("TUN mode needs root (CAP_NET_ADMIN); use the SOCKS5 mode instead")

	// ErrTUNUnsupported is returned by NewTUNConsumer on systems other than
	// Linux.
	ErrTUNUnsupported = errors.New("TUN mode needs Linux; use the SOCKS5 mode instead")

	// ErrInterfaceExists is returned by NewTUNConsumer when an interface of
	// the requested name already exists (another session, or a leftover).
	ErrInterfaceExists = errors.New("network interface already exists (choose another name or remove it)")
)
