// Package role assembles a whole node for one role — provider, consumer,
// hermes hub or relay — from a config struct, with a documented lifecycle:
// Start… brings every part up in order or closes what it opened and fails;
// Close takes them down in reverse order, waits for all of it and is
// idempotent.
//
// Both the command line (cmd/mystp2p) and the testnet start nodes through
// this package, so the tests and scenarios exercise exactly what ships:
// payment recovery after a restart, automatic settlement, the local API.
package role
