package bridge

import "errors"

// Errors from Parse, FromAddrInfo and Line.Validate. Each is returned
// wrapped with what exactly is wrong and what the user can do about it;
// test for them with errors.Is.
var (
	// ErrNotBridgeLine means the text does not start with Prefix.
	ErrNotBridgeLine = errors.New("not a mystp2p bridge line")
	// ErrUnknownVersion means the line was written by a newer (or unknown)
	// format version than this build reads.
	ErrUnknownVersion = errors.New("unknown bridge line version")
	// ErrUnsupported means a version-1 line asks for a feature this build
	// does not know.
	ErrUnsupported = errors.New("bridge line uses a feature this mystp2p does not know")
	// ErrTruncated means the checksum does not match, or the line ends
	// early: it was cut short or mistyped when copied.
	ErrTruncated = errors.New("bridge line is truncated or mistyped")
	// ErrMalformed means the line is damaged in a way the checksum did not
	// catch, or was not written by mystp2p.
	ErrMalformed = errors.New("malformed bridge line")
	// ErrTooLong means the line exceeds MaxLineLen characters.
	ErrTooLong = errors.New("bridge line is too long")
	// ErrNoAddrs means the line (or the peer it is made from) has no
	// dialable address.
	ErrNoAddrs = errors.New("bridge line has no addresses")
	// ErrTooManyAddrs means more than MaxAddrs addresses.
	ErrTooManyAddrs = errors.New("bridge line has too many addresses")
	// ErrBadAddr means an address is not one a bridge can be dialed on.
	ErrBadAddr = errors.New("bridge address not dialable")
	// ErrCircuitOnly means the peer is reachable only through relays
	// (p2p-circuit), which a censor can block with the relay.
	ErrCircuitOnly = errors.New("bridge has only relayed (p2p-circuit) addresses")
	// ErrBadPeerID means the peer ID is empty or not a valid multihash.
	ErrBadPeerID = errors.New("bridge line has an invalid peer ID")
	// ErrPeerKeyMismatch means the peer ID embeds a public key from which a
	// different peer ID derives.
	ErrPeerKeyMismatch = errors.New("peer ID does not match the key")
	// ErrBadSecret means a secret that is neither absent nor SecretLen bytes.
	ErrBadSecret = errors.New("bridge secret has the wrong length")
)
