//go:build !race

package wgpath

const raceEnabled = false
