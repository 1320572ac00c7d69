// Package netlab builds network-namespace labs with real NAT routers, for
// testing NAT traversal on one Linux machine (`mystp2p testnet run
// --netns`).
//
// A lab is:
//
//   - an "internet" namespace with a bridge that routes between PublicNet
//     (198.51.100.0/24, gateway .1) and RouterNet (203.0.113.0/24, gateway .1);
//   - a namespace per public host (NATNone) on the bridge with an address in
//     PublicNet, plus HostConfig.ExtraAddrs more (observers, say);
//   - for each private host, a router namespace with its own WAN address in
//     RouterNet, and the host's namespace behind it on its own LAN
//     192.168.k.0/24 (router .1, host .2, default route via the router).
//
// Routers forward and translate with an nftables ruleset per RFC 4787
// behaviour (NATFullCone, NATPortRestricted, NATSymmetric), and every router
// drops unsolicited traffic from the WAN, without which no punch succeeds
// (an early punch would draw an ICMP error and leave a conntrack entry that
// moves the later flow to another port; see rulesetFor). The lab is
// IPv4-only, and nothing in it can reach or be reached from the machine's
// own networks.
//
// Run programs in a host with Lab.Command, one process per namespace (a
// namespace belongs to an OS thread, and Go code opens sockets on any
// thread). The tests measure what each NAT kind does with plain UDP: mapping
// (the same external port towards two destinations, except symmetric),
// filtering (a third party reaches only a full-cone host), and simultaneous
// punching between every pair, which succeeds exactly where
// DirectPathPossible says.
//
// Labs are named by a unique prefix ("mnl-<owner PID>-<random>") and recorded
// in StateDir. Lab.Close removes everything a lab made, killing processes
// left inside it; CleanupStale removes labs whose creating process died
// without Close. Building a lab needs root, `ip` (iproute2) and `nft`
// (nftables): see Available. The package builds on every OS; off Linux,
// Available, New, Cleanup and CleanupStale return ErrNeedsLinux.
package netlab
