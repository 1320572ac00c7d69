//go:build !race

package tstest

// Race reports whether the race detector is on (see race.go).
const Race = false
