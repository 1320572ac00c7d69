//go:build linux

package testnet

import (
	"context"
	"fmt"

	"github.com/florianl/go-nfqueue"
	"golang.org/x/sys/unix"
)

// runQUICFilter is the censor's userspace DPI for QUIC, in the censor's
// namespace: iptables queues the region's large UDP datagrams to NFQUEUE
// censorQueueNum; the filter decrypts QUIC v1 Initials (RFC 9001),
// reassembles the ClientHello, reads its ALPN, and accepts the packets of
// connections offering "libp2p" marked censorDropMark, which the censor
// table's first rule drops and counts.
func runQUICFilter(ctx context.Context, emit func(childEvent) error) error {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      censorQueueNum,
		MaxPacketLen: 0xffff,
		MaxQueueLen:  1024,
		Copymode:     nfqueue.NfQnlCopyPacket,
		AfFamily:     unix.AF_INET,
	})
	if err != nil {
		return fmt.Errorf("open NFQUEUE %d: %w", censorQueueNum, err)
	}
	defer nf.Close()
	f := &alpnFilter{blocked: "libp2p"}
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		verdict := func(drop bool) {
			if drop {
				_ = nf.SetVerdictWithMark(*a.PacketID, nfqueue.NfAccept, censorDropMark)
				return
			}
			_ = nf.SetVerdict(*a.PacketID, nfqueue.NfAccept)
		}
		if a.Payload == nil {
			verdict(false)
			return 0
		}
		p := *a.Payload
		// IPv4, then UDP's 8-byte header.
		if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_UDP {
			verdict(false)
			return 0
		}
		ihl := int(p[0]&0x0f) * 4
		if len(p) < ihl+8 {
			verdict(false)
			return 0
		}
		verdict(f.drop(p[ihl+8:]))
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, func(error) int { return 0 }); err != nil {
		return fmt.Errorf("NFQUEUE %d: %w", censorQueueNum, err)
	}
	if err := emit(childEvent{Event: "ready"}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// runCapture is the level-4 censor's recorder, in the censor's namespace:
// iptables queues the first packets of every flow the region starts to
// NFQUEUE censorCaptureQueueNum, and the capture keeps the first payload
// of each (see captures) for the prober to replay. It accepts every packet.
func runCapture(ctx context.Context, cfg CensorChildConfig, emit func(childEvent) error) error {
	nf, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      censorCaptureQueueNum,
		MaxPacketLen: 0xffff,
		MaxQueueLen:  1024,
		Copymode:     nfqueue.NfQnlCopyPacket,
		AfFamily:     unix.AF_INET,
	})
	if err != nil {
		return fmt.Errorf("open NFQUEUE %d: %w", censorCaptureQueueNum, err)
	}
	defer nf.Close()
	c := newCaptures(cfg.ResultFile)
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		if a.Payload != nil {
			c.add(*a.Payload)
		}
		_ = nf.SetVerdict(*a.PacketID, nfqueue.NfAccept)
		return 0
	}
	if err := nf.RegisterWithErrorFunc(ctx, hook, func(error) int { return 0 }); err != nil {
		return fmt.Errorf("NFQUEUE %d: %w", censorCaptureQueueNum, err)
	}
	if err := emit(childEvent{Event: "ready"}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
