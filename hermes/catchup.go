package hermes

import (
	"context"
	"fmt"

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
