//go:build !linux

package tunnel

// start fails: TUN mode configures routes and the resolver the Linux way.
func (c *TUNConsumer) start(consumerOptions) error { return ErrTUNUnsupported }
