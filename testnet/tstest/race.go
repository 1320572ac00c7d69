//go:build race

package tstest

// Race reports whether the race detector is on. Under it sync.Pool drops
// items at random, so allocation counts mean nothing, and every node runs
// about fifteen times slower, so load tests shrink.
const Race = true
