package peercache

import "errors"

var (
	// ErrCorrupt means the cache file could not be read as a peer cache
	// (truncated, garbage, or entries that make no sense). It is a warning:
	// the cache starts empty, or with the entries that were readable, and
	// the next Save rewrites the file cleanly.
	ErrCorrupt = errors.New("peer cache file is corrupt")
	// ErrNewerVersion means the file was written by a newer format version.
	// It is a warning: the cache starts empty and the next Save rewrites the
	// file in this version's format.
	ErrNewerVersion = errors.New("peer cache file is from a newer mystp2p")
	// ErrStale means every peer in the file was older than the maximum age.
	// It is a warning: the cache starts empty.
	ErrStale = errors.New("peer cache file is stale")
	// ErrClosed is returned by Save after Close.
	ErrClosed = errors.New("peer cache closed")
)
