// Package guard keeps a panicking libp2p stream handler from taking the
// whole node down.
//
// go-libp2p runs stream handlers without recover, so a panic in any one of
// them ends the process, and with it every other user's session. Every
// handler this project registers goes through Handler: a panic is logged with
// its stack, the stream is reset and the node keeps serving.
//
// A recovered panic is still a bug. Panics counts them so that tests fail
// when one happens: the TestMain of every package that serves a protocol
// fails the run when Panics is not zero.
//
// The package imports nothing of this project, so every package that serves
// a protocol (overlay, hermes) can use it.
package guard

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// panics counts recovered handler panics in this process.
var panics atomic.Int64

// Panics is how many stream handler panics this process has recovered.
func Panics() int64 { return panics.Load() }

// Handler wraps h so that a panic in it is recovered: it is logged at error
// level with the protocol, the remote peer and the stack, the stream is
// reset and counted in Panics. A nil log discards the record.
func Handler(log *slog.Logger, proto protocol.ID, h network.StreamHandler) network.StreamHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(st network.Stream) {
		defer func() {
			if r := recover(); r != nil {
				panics.Add(1)
				log.Error("stream handler panicked; stream reset, node keeps running",
					"protocol", proto, "peer", st.Conn().RemotePeer(), "panic", fmt.Sprint(r),
					"stack", string(debug.Stack()))
				_ = st.Reset()
			}
		}()
		h(st)
	}
}
