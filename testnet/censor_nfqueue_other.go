//go:build !linux

package testnet

import (
	"context"
	"errors"
)

// runQUICFilter needs NFQUEUE, which only Linux has.
func runQUICFilter(context.Context, func(childEvent) error) error {
	return errors.New("the censor's QUIC ALPN filter needs Linux (NFQUEUE)")
}
