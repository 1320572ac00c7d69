package hermes

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/mystp2p/mystp2p/identity"
)

// CatchUp stores the latest promise the hermes behind client issued to this
// provider when the store holds an older one: a promise the provider asked
// for but never stored, because it stopped between the hermes's answer and
// its own write. The promise is checked like any other (signed by the
// hermes, on this provider's channel), and it is kept only with its R,
// which the store has from before the invoice went out. It reports whether
// the store changed.
func CatchUp(ctx context.Context, client *HubClient, store *Store) (bool, error) {
	st, err := client.Provider(ctx)
	if err != nil {
		return false, fmt.Errorf("ask hermes %s for its latest promise: %w", client.Address(), err)
	}
	p := st.Latest
	if p == nil {
		return false, nil
	}
	provider, err := identity.AddressOf(client.host.ID())
	if err != nil {
		return false, err
	}
	if p.ChannelID != ChannelID(provider, client.Address()) {
		return false, fmt.Errorf("%w: hermes promise for channel %x", ErrWrongChannel, p.ChannelID)
	}
	have, err := store.Earning(client.Address())
	if err != nil {
		return false, err
	}
	if have.Promise != nil && have.Promise.Amount.Cmp(p.Amount) >= 0 {
		return false, nil
	}
	r, ok, err := store.R(p.Hashlock)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, fmt.Errorf("%w: the hermes's latest promise of %s is locked with an R this store does not hold", ErrHashlockMismatch, p.Amount)
	}
	if err := store.putHermesPromise(client.Address(), *p, r); err != nil {
		return false, err
	}
	return true, nil
}

// ResumeExchanges presents to the hermes behind client every payment the
// store holds from a consumer of a past session that the hermes has not
// accepted yet: a provider stopped after a consumer paid and before it
// exchanged the payment. Each accepted one adds a hermes promise, as in a
// session; one the hermes can no longer take (the consumer has paid more
// through it since) is recorded as given up, so it is not offered again.
// Run it at start, before sessions are served. It returns how many were
// exchanged.
func ResumeExchanges(ctx context.Context, client *HubClient, store *Store) (int, error) {
	unexchanged, err := store.unexchangedSessions(client.Address())
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, p := range unexchanged {
		r, ok, err := store.R(p.rec.Last.Promise.Hashlock)
		if err != nil {
			return done, err
		}
		if !ok {
			errs = append(errs, fmt.Errorf("agreement %x: %w: R not stored", p.agreement, ErrHashlockMismatch))
			continue
		}
		hp, err := client.RequestPromise(ctx, p.rec.Last, r)
		var remote *RemoteError
		switch {
		case errors.As(err, &remote) && (errors.Is(err, ErrNotIncreasing) || errors.Is(err, ErrAmountMismatch)):
			// Superseded: the consumer's channel moved on without it.
		case err != nil:
			errs = append(errs, fmt.Errorf("agreement %x: %w", p.agreement, err))
			continue
		default:
			if err := store.putHermesPromise(client.Address(), hp, r); err != nil {
				return done, err
			}
			done++
		}
		rec := *p.rec
		rec.Exchanged = new(big.Int).Set(rec.Last.AgreementTotal)
		if err := store.putSession(p.agreement, &rec); err != nil {
			return done, err
		}
	}
	return done, errors.Join(errs...)
}
