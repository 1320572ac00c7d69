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

// runCapture needs NFQUEUE, which only Linux has.
func runCapture(context.Context, CensorChildConfig, func(childEvent) error) error {
	return errors.New("the censor's capture needs Linux (NFQUEUE)")
}
