package hermes

import "errors"

// ErrMalformed means a message does not have the wire layout of its type.
var ErrMalformed = errors.New("malformed hermes message")

// ErrTooLarge means a frame exceeds the hard size limit of its protocol.
var ErrTooLarge = errors.New("hermes message too large")

// ErrBadSignature means a promise or exchange message is not signed by the
// party it claims to come from.
var ErrBadSignature = errors.New("bad signature")

// ErrWrongChain means a promise or invoice names another chain ID.
var ErrWrongChain = errors.New("wrong chain ID")

// ErrWrongChannel means a promise names a channel that does not belong to the
// parties of the exchange.
var ErrWrongChannel = errors.New("promise is for the wrong channel")

// ErrWrongHermes means a message names a hermes other than the one asked.
var ErrWrongHermes = errors.New("wrong hermes")

// ErrWrongProvider means an exchange message names another provider than
// the peer presenting it.
var ErrWrongProvider = errors.New("wrong provider")

// ErrNotIncreasing means a promise amount or agreement total does not grow
// over the last one seen (a replay or an old promise).
var ErrNotIncreasing = errors.New("amount does not increase")

// ErrAmountMismatch means a promise's increase does not equal the increase of
// the agreement total plus fee it claims to pay for.
var ErrAmountMismatch = errors.New("promise increase does not match the agreement")

// ErrFeeTooLow means the consumer's promise carries less fee than the hermes charges.
var ErrFeeTooLow = errors.New("hermes fee too low")

// ErrFeeTooHigh means an invoice asks for more hermes fee than the consumer accepts.
var ErrFeeTooHigh = errors.New("hermes fee too high")

// ErrOverspend means a promise exceeds what the consumer's channel holds on chain.
var ErrOverspend = errors.New("promise exceeds the consumer's channel balance (top up the channel)")

// ErrHashlockMismatch means R does not hash to the promise's hashlock, or a
// promise's hashlock is not the invoiced one.
var ErrHashlockMismatch = errors.New("hashlock mismatch")

// ErrUnrevealedR means the provider has not yet revealed the R of its previous
// promise; the hermes issues no new promise until it does.
var ErrUnrevealedR = errors.New("previous R not revealed")

// ErrOvercharge means an invoice asks for more than the agreed price of the
// usage the consumer measured, beyond the stated tolerance.
var ErrOvercharge = errors.New("invoice exceeds the agreed price of measured usage")

// ErrConsumerNotPaying means a consumer left invoices unpaid beyond the
// allowed amount or time; the session owner must close the session.
var ErrConsumerNotPaying = errors.New("consumer is not paying")

// ErrNothingToSettle means there is no promise above what is already settled.
var ErrNothingToSettle = errors.New("nothing to settle")

// ErrReverted means a contract call reverted; see RevertError for the reason.
var ErrReverted = errors.New("contract call reverted")

// ErrRejected means the remote peer refused a request without a more
// specific reason known to this version.
var ErrRejected = errors.New("request rejected by peer")

// ErrClosed is returned by every method of a Hub, Invoicer, Payer, Settler or
// Store after Close.
var ErrClosed = errors.New("hermes: closed")

// ErrNotDue means a withdrawal or a hermes's leave was announced but its
// delay has not passed yet; see NotDueError for how long to wait.
var ErrNotDue = errors.New("not yet due")

// ErrNoWithdrawal means a consumer asked to complete a withdrawal it never
// announced.
var ErrNoWithdrawal = errors.New("no withdrawal announced")

// ErrWithdrawalAnnounced means a consumer announced a withdrawal that is
// already under way.
var ErrWithdrawalAnnounced = errors.New("withdrawal already announced")

// ErrNothingToWithdraw means the channel or stake to withdraw holds nothing.
var ErrNothingToWithdraw = errors.New("nothing to withdraw")

// ErrExceedsFees means a hermes asked to withdraw more than the fees it has
// earned; consumer funds it holds are owed to providers.
var ErrExceedsFees = errors.New("amount exceeds the earned fees")

// ErrHermesNotRegistered means an address is not a registered hermes on the
// Registry.
var ErrHermesNotRegistered = errors.New("not a registered hermes")

// ErrNotLeaving means a hermes asked for its stake without announcing its
// leave first.
var ErrNotLeaving = errors.New("leave not announced")

// ErrLeaveAnnounced means a hermes announced a leave that is already under way.
var ErrLeaveAnnounced = errors.New("leave already announced")

// ErrHermesLeaving means the hermes announced its leave: it issues no new
// promises and takes no top-ups.
var ErrHermesLeaving = errors.New("hermes is leaving")

// ErrConsumerWithdrawing means the consumer announced the withdrawal of its
// channel: the hermes accepts no new promises on it until the withdrawal is
// complete and the channel topped up again.
var ErrConsumerWithdrawing = errors.New("consumer is withdrawing its channel")

// ErrNoCode means an address that should hold a contract holds no code:
// a wrong address, or a contract on another chain.
var ErrNoCode = errors.New("no contract code at the address")

// ErrNotERC20 means a token address does not answer as an ERC-20 token.
var ErrNotERC20 = errors.New("not an ERC-20 token")
