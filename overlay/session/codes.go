package session

import "fmt"

// RejectCode says why a provider refused a request.
type RejectCode string

// Reject codes.
const (
	// RejectFull: the provider has no room for another session (in all, or
	// for this consumer).
	RejectFull RejectCode = "full"
	// RejectPrice: the proposal's price changed; fetch it again.
	RejectPrice RejectCode = "price_changed"
	// RejectPolicy: the provider will not do this (for example UDP over a
	// relayed connection); another transport may work.
	RejectPolicy RejectCode = "policy"
	// RejectBadRequest: the request is malformed or incomplete.
	RejectBadRequest RejectCode = "bad_request"
	// RejectNoSession: no such session for this peer. A session that
	// exists but belongs to another peer gets this code too.
	RejectNoSession RejectCode = "no_session"
	// RejectClosing: the session is being torn down.
	RejectClosing RejectCode = "closing"
	// RejectState: the session is not in a state that allows the request,
	// such as a second tunnel for a session that has one.
	RejectState RejectCode = "wrong_state"
	// RejectBusy: the same request for this session is already running.
	RejectBusy RejectCode = "busy"
	// RejectInternal: the provider failed; try again or try another one.
	RejectInternal RejectCode = "internal"
	// RejectHermes: the provider charges for sessions and does not accept
	// (or cannot reach) the hermes the consumer pays through.
	RejectHermes RejectCode = "hermes_not_accepted"
	// RejectBalance: the consumer's spendable balance at its hermes is
	// below what the provider asks to start a session.
	RejectBalance RejectCode = "insufficient_balance"
	// RejectMonthlyCap: the provider has carried all the traffic it
	// allows itself this calendar month (its monthly cap); try another
	// provider. A live session the cap ended hears it on its next ping.
	RejectMonthlyCap RejectCode = "monthly_cap"
)

// RejectedError is a provider's refusal of a request.
type RejectedError struct {
	Provider string
	Code     RejectCode
	Message  string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("provider %s rejected the session (%s): %s", e.Provider, e.Code, e.Message)
}

// State is where a session is in its life. Both ends move through the
// same states, forward only:
//
//	Opening → Attaching → Attached → Closing → Closed
//
// Opening: keys and addresses are allocated, no tunnel yet. Attaching: one
// caller is building the tunnel (others are refused with RejectBusy).
// Attached: the tunnel carries packets; an upgrade changes its transport
// in place and stays Attached. Closing: being torn down; every request is
// refused with RejectClosing. Closed: gone.
type State int

// Session states.
const (
	Opening State = iota
	Attaching
	Attached
	Closing
	Closed
)

func (s State) String() string {
	switch s {
	case Opening:
		return "opening"
	case Attaching:
		return "attaching"
	case Attached:
		return "attached"
	case Closing:
		return "closing"
	case Closed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}
