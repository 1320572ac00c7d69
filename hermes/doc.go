// Package hermes pays providers as consumers go, with off-chain promises over
// libp2p streams, settled on our Registry contract (hermes/contracts/src).
//
// # Money flow
//
// A consumer tops up a channel held by the Registry for one hermes
// (Chain.TopUp). During a session the provider's Invoicer sends an Invoice
// over /mystp2p/pay/1 every interval, and early once unpaid usage passes a
// threshold. The consumer's Payer checks the invoice against the agreed
// Price and its own measured Usage within a stated Tolerance, and answers
// with an ExchangeMessage: a cumulative Promise on its channel, locked with
// the provider's hashlock, bound to the agreement. The provider checks and
// stores it, presents it with R to the hermes over /mystp2p/hermes/1
// (HubClient.RequestPromise), and gets a hermes Promise on its own channel
// with the same hashlock. The Hub refuses bad signatures, non-increasing
// amounts, overspending the on-chain deposit, hashlock mismatches and new
// requests while a previous R is unrevealed. Settler.SettleProvider pays the
// provider's beneficiary (amount − settled) − (fee − feeSettled); the hermes
// pulls consumer funds with Settler.SettleConsumers.
//
// # Funds owed stay owed
//
// The Registry keeps what it holds for a hermes apart (HubState): consumer
// funds the hermes pulled are owed to providers, and only provider
// settlements take from them; fees become the hermes's as providers settle
// (Chain.HermesWithdraw takes those and nothing else); the stake pays
// providers who settle before the consumer funds behind their promises are
// pulled, and comes back only by leaving: Chain.AnnounceLeave, wait the
// Registry's leave delay, Chain.WithdrawStake. A leaving hermes takes no
// top-ups, and its Hub issues no new promises and answers no balance
// checks for new sessions (ErrHermesLeaving); providers settle and the hub
// pulls consumer promises as before. A running provider's Settler
// (SettlerConfig.LeaveInterval) reads the Registry for the hubs it earned
// through and settles everything unsettled with a leaving one at once,
// before its stake comes back.
//
// A consumer withdraws what its channel still holds in two steps too:
// Chain.AnnounceWithdrawal, wait the withdraw delay, Chain.Withdraw. The
// hub's Watcher reads the chain every Interval, refuses new promises on the
// channel (ErrConsumerWithdrawing) and settles the ones it holds before the
// withdrawal is due, so that the consumer takes back only what it did not
// promise. A withdrawal or leave asked for too early fails with a
// *NotDueError saying how many blocks to wait.
//
// # Amounts
//
// Promise amounts and fees are cumulative over a channel's life. The
// consumer pays the agreed price plus the hermes fee (RequiredFee of the
// agreement total at the hub's fee in basis points), so that
// consumer spending = provider settlements + hermes fees + unsettled.
//
// # Durability
//
// Everything acknowledged is fsynced first (Store): a provider's R before
// its invoice goes out, a consumer's payment before it counts, a hermes
// promise before it is used; a hub's new channel state before it answers.
// Concurrent writes share fsyncs (group commit).
//
// # Wire
//
// Fixed binary layouts, amounts as 32-byte big-endian uint256:
//
//	Promise (225)         pad32(chainID) ‖ channelID ‖ amount ‖ fee ‖ hashlock ‖ sig(65)
//	ExchangeMessage (394) promise ‖ agreementID ‖ agreementTotal ‖ provider(20) ‖ hermes(20) ‖ sig(65)
//	Invoice (156)         agreementID ‖ agreementTotal ‖ fee ‖ hashlock ‖ provider(20) ‖ uint64 chainID
//
// On both protocols a stream carries one request frame and one answer
// frame: type byte, uint16 length, body of at most 1 KiB. Each side allows
// 10 s per stream. Refusals travel as an error frame whose code maps to a
// sentinel error (RemoteError); a frame that breaks the layout resets the
// stream, and nothing from it is kept. Signatures are 65 bytes with V =
// 27/28 over the raw hash and low S, as the contract requires.
//
// # Unpaid service
//
// An Invoicer checks usage every Tick and invoices when Threshold is unpaid
// or Interval has passed. A payment counts only once the hermes has
// accepted it. When a round fails with more than MaxUnpaid unpaid, the
// consumer is reported (OnNotPaying, ErrConsumerNotPaying): at most
// MaxUnpaid plus what is used in one Tick and one 10-second request timeout
// goes unpaid before the session owner learns it.
//
// # Limits
//
// A hub settles a withdrawing consumer's promises only if its Watcher runs
// during the withdraw delay: a hub down for the whole delay loses what the
// consumer promised since its last settlement (its stake has paid the
// providers). It can settle only promises whose R it knows; one promise
// per provider may wait for its R (ErrUnrevealedR). The Registry cannot
// tell a provider from an identity of the hermes's own: owed funds are
// safe from fee withdrawals and from leaving, not from promises the hermes
// signs to itself. A consumer's promises are cumulative over its channel, and the hermes
// accepts a promise only if its increase equals what its own agreement
// adds. Sessions paying through one hermes at the same time therefore
// depend on each other: a payment that arrives before an earlier one of
// another session is refused (ErrAmountMismatch) until the earlier one has
// been exchanged (Invoicers retry each round), and a payment that never
// reaches the hermes blocks the consumer's other sessions on that channel.
// One session per hermes channel at a time is always safe.
//
// # Wiring
//
// The contracts: DeployRegistry for an existing ERC-20 (CheckERC20 first),
// or Deploy with a fresh TestToken; each waits for its receipt and checks
// the code at the new address (ErrNoCode, ErrNotERC20).
// A hermes node: NewChain, OpenStore, NewHub(HubConfig{…, Balances: chain}),
// Hub.Serve(host), a Settler with Hub set, and NewWatcher. A consumer: HubClient.Consumer → NewWallet, NewPayer(host),
// Payer.Pay(Terms) per session. A provider: NewHubClient for the consumer's
// hermes, NewInvoicer(InvoicerConfig) per session with OnNotPaying closing
// the session, and a Settler.
package hermes
