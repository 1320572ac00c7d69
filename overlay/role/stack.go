package role

import (
	"errors"
	"sync"
)

// stack closes what a role opened, the last opened first, once.
type stack struct {
	fs   []func() error
	once sync.Once
	err  error
}

// push adds f, to run before everything pushed earlier.
func (s *stack) push(f func() error) { s.fs = append(s.fs, f) }

// close runs every pushed function in reverse order, the first time only,
// and returns their joined errors.
func (s *stack) close() error {
	s.once.Do(func() {
		var errs []error
		for i := len(s.fs) - 1; i >= 0; i-- {
			errs = append(errs, s.fs[i]())
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}
