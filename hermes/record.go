package hermes

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// recordWriter and recordReader encode the store's records: fixed-size
// fields in order, amounts as 32 bytes, optional promises behind a flag byte.
type recordWriter struct{ b []byte }

func (w *recordWriter) bytes(p []byte)        { w.b = append(w.b, p...) }
func (w *recordWriter) addr(a common.Address) { w.b = append(w.b, a[:]...) }
func (w *recordWriter) amount(x *big.Int) {
	var f [32]byte
	putUint256(f[:], x)
	w.b = append(w.b, f[:]...)
}

func (w *recordWriter) flag(ok bool) {
	if ok {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// promise writes an optional promise (nil: absent).
func (w *recordWriter) promise(p *Promise) error {
	w.flag(p != nil)
	if p == nil {
		return nil
	}
	var err error
	w.b, err = p.appendBinary(w.b)
	return err
}

type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%w: store record truncated", ErrMalformed)
		return make([]byte, n)
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *recordReader) bytes32() [32]byte    { return [32]byte(r.take(32)) }
func (r *recordReader) addr() common.Address { return common.Address(r.take(20)) }
func (r *recordReader) amount() *big.Int     { return new(big.Int).SetBytes(r.take(32)) }
func (r *recordReader) flag() bool {
	switch r.take(1)[0] {
	case 0:
		return false
	case 1:
		return true
	}
	if r.err == nil {
		r.err = fmt.Errorf("%w: flag byte is neither 0 nor 1", ErrMalformed)
	}
	return false
}

func (r *recordReader) promise() *Promise {
	if !r.flag() {
		return nil
	}
	var p Promise
	if err := p.UnmarshalBinary(r.take(PromiseSize)); err != nil && r.err == nil {
		r.err = err
	}
	return &p
}

func (r *recordReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: store record has %d trailing bytes", ErrMalformed, len(r.b))
	}
	return r.err
}
