//go:build !unix

package testnet

import "time"

// processCPU is not measured here: the load gate lets every start go.
func processCPU() (time.Duration, bool) { return 0, false }
