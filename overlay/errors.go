package overlay

import "errors"

// Proposal validation errors. A proposal that fails any of them is never shown
// to a user and never forwarded.
var (
	// ErrProposalMalformed means the bytes are not a well-formed proposal.
	ErrProposalMalformed = errors.New("malformed proposal")
	// ErrProposalTooLarge means the encoded proposal exceeds MaxProposalSize.
	ErrProposalTooLarge = errors.New("proposal too large")
	// ErrProposalSignature means the signature does not verify or was not made
	// by the provider the proposal names.
	ErrProposalSignature = errors.New("proposal signature invalid")
	// ErrProposalExpired means the proposal's expiry has passed.
	ErrProposalExpired = errors.New("proposal expired")
	// ErrProposalFuture means the proposal was issued or expires too far ahead.
	ErrProposalFuture = errors.New("proposal too far in the future")
	// ErrProposalStale means a proposal with a higher sequence from the same
	// provider was already seen.
	ErrProposalStale = errors.New("proposal older than one already seen")
)

// ErrNoBootstrap means none of the bootstrap peers answered.
var ErrNoBootstrap = errors.New("no bootstrap peer reachable")

// ErrClosed is returned by a Node's methods after Close.
var ErrClosed = errors.New("node closed")
