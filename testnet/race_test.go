//go:build race

package testnet

// raceEnabled: under the race detector every node runs about fifteen
// times slower, so load tests shrink.
const raceEnabled = true
