package role

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// ProviderStore is the file name of a provider's payment store in its data
// directory.
const ProviderStore = "provider.db"

// ErrNoChain means a settlement was asked of books that have no chain.
var ErrNoChain = errors.New("this provider has no chain to settle on")

// EarningRow is what a provider earned through one hermes. Amounts are
// base units as decimal strings.
type EarningRow struct {
	Hermes     string `json:"hermes"`
	Earned     string `json:"earned"`      // promised − fee: what the provider gets in all
	Promised   string `json:"promised"`    // cumulative amount of the latest hermes promise
	Fee        string `json:"fee"`         // cumulative hermes fee within it
	Settled    string `json:"settled"`     // cumulative amount settled on chain
	FeeSettled string `json:"fee_settled"` // cumulative fee within that
	Unsettled  string `json:"unsettled"`   // what settling now would pay: earned − (settled − fee_settled)
	// GasUsed and GasSpent are what this provider's settlements with the
	// hermes cost in gas, in all (gas units; wei).
	GasUsed  uint64 `json:"gas_used"`
	GasSpent string `json:"gas_spent"`
	// Settlements are the latest settlements, oldest first (at most
	// LastSettlements).
	Settlements []SettlementRow `json:"settlements"`
}

// LastSettlements is how many settlements an EarningRow lists.
const LastSettlements = 5

// SettlementRow is one settlement on chain. Amounts are base units, gas
// price and cost wei, as decimal strings.
type SettlementRow struct {
	Amount   string `json:"amount"` // cumulative amount of the settled promise
	Paid     string `json:"paid"`   // paid to the beneficiary by this settlement
	Fee      string `json:"fee"`    // hermes fee taken by this settlement
	Tx       string `json:"tx"`
	Block    uint64 `json:"block"`
	GasUsed  uint64 `json:"gas_used"`
	GasPrice string `json:"gas_price"` // effective gas price
	GasCost  string `json:"gas_cost"`  // gas_used × gas_price
}

// SettleRequest asks for a settlement.
type SettleRequest struct {
	Hermes      string `json:"hermes,omitempty"`      // 0x address; empty: every hermes
	Beneficiary string `json:"beneficiary,omitempty"` // 0x address; empty: as registered
}

// SettleRow is the outcome of settling with one hermes.
type SettleRow struct {
	Hermes string `json:"hermes"`
	Paid   string `json:"paid,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Books are a provider's payment side: its store, and with a chain its
// settler. A running provider serves them on the local API; `earnings` and
// `settle` use them directly when no provider runs.
type Books struct {
	Store   *hermes.Store
	Chain   *hermes.Chain      // nil: earnings only
	ID      *identity.Identity // with Chain
	Settler *hermes.Settler    // with Chain
}

// Earnings lists what was earned through each hermes.
func (b *Books) Earnings() ([]EarningRow, error) {
	es, err := b.Store.Earnings()
	if err != nil {
		return nil, err
	}
	rows := make([]EarningRow, 0, len(es))
	for _, e := range es {
		r := EarningRow{Hermes: e.Hermes.Hex(), Earned: "0", Promised: "0", Fee: "0", Settled: e.Settled.String(),
			FeeSettled: e.FeeSettled.String(), Unsettled: e.Unsettled().String()}
		if e.Promise != nil {
			r.Promised, r.Fee = e.Promise.Amount.String(), e.Promise.Fee.String()
			r.Earned = new(big.Int).Sub(e.Promise.Amount, e.Promise.Fee).String()
		}
		sts, err := b.Store.Settlements(e.Hermes)
		if err != nil {
			return nil, err
		}
		spent := new(big.Int)
		for _, st := range sts {
			r.GasUsed += st.Tx.GasUsed
			spent.Add(spent, st.Tx.GasCost())
		}
		r.GasSpent = spent.String()
		r.Settlements = []SettlementRow{}
		for _, st := range sts[max(0, len(sts)-LastSettlements):] {
			r.Settlements = append(r.Settlements, SettlementRow{Amount: st.Amount.String(), Paid: st.Paid.String(), Fee: st.Fee.String(),
				Tx: st.Tx.Hash.Hex(), Block: st.Tx.Block, GasUsed: st.Tx.GasUsed, GasPrice: st.Tx.GasPrice.String(), GasCost: st.Tx.GasCost().String()})
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// Settle settles what is unsettled with req.Hermes (or every hermes) to
// the registered beneficiary, registering req.Beneficiary first if given.
func (b *Books) Settle(ctx context.Context, req SettleRequest) ([]SettleRow, error) {
	if b.Settler == nil {
		return nil, ErrNoChain
	}
	if req.Beneficiary != "" {
		if !common.IsHexAddress(req.Beneficiary) {
			return nil, badRequest("beneficiary %q is not a 0x address", req.Beneficiary)
		}
		if err := SetBeneficiary(ctx, b.Chain, b.ID, common.HexToAddress(req.Beneficiary)); err != nil {
			return nil, err
		}
	}
	es, err := b.Store.Earnings()
	if err != nil {
		return nil, err
	}
	var rows []SettleRow
	for _, e := range es {
		if req.Hermes != "" && e.Hermes != common.HexToAddress(req.Hermes) {
			continue
		}
		row := SettleRow{Hermes: e.Hermes.Hex()}
		paid, err := b.Settler.SettleProvider(ctx, e.Hermes)
		switch {
		case errors.Is(err, hermes.ErrNothingToSettle):
			row.Paid = "0"
		case err != nil:
			row.Error = err.Error()
		default:
			row.Paid = paid.String()
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 && req.Hermes != "" {
		return nil, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("nothing earned through hermes %s", req.Hermes)}
	}
	return rows, nil
}

// SetBeneficiary registers where settlements of id are paid, if it differs.
func SetBeneficiary(ctx context.Context, chain *hermes.Chain, id *identity.Identity, ben common.Address) error {
	cur, err := chain.Beneficiary(ctx, id.Address())
	if err != nil {
		return err
	}
	if cur == ben {
		return nil
	}
	if err := chain.RegisterIdentity(ctx, id, ben); err != nil {
		return fmt.Errorf("register beneficiary %s: %w", ben.Hex(), err)
	}
	return nil
}

// register serves the books on the local API: GET /v1/earnings and
// POST /v1/settle.
func (b *Books) register(rs routes) {
	rs.handle(http.MethodGet, "/v1/earnings", func(w http.ResponseWriter, r *http.Request) {
		rows, err := b.Earnings()
		writeJSON(w, rows, err)
	})
	rs.handle(http.MethodPost, "/v1/settle", func(w http.ResponseWriter, r *http.Request) {
		var req SettleRequest
		if err := decodeJSON(r, &req, true); err != nil {
			writeJSON(w, nil, err)
			return
		}
		if err := req.check(); err != nil {
			writeJSON(w, nil, err)
			return
		}
		rows, err := b.Settle(r.Context(), req)
		writeJSON(w, rows, err)
	})
}

// check refuses a request whose addresses are not addresses.
func (req SettleRequest) check() error {
	if req.Hermes != "" && !common.IsHexAddress(req.Hermes) {
		return badRequest("hermes %q is not a 0x address", req.Hermes)
	}
	if req.Beneficiary != "" && !common.IsHexAddress(req.Beneficiary) {
		return badRequest("beneficiary %q is not a 0x address", req.Beneficiary)
	}
	return nil
}

// TotalEarned is what was earned through every hermes in all.
func (b *Books) TotalEarned() (*big.Int, error) {
	es, err := b.Store.Earnings()
	if err != nil {
		return nil, err
	}
	sum := new(big.Int)
	for _, e := range es {
		if e.Promise != nil {
			sum.Add(sum, e.Promise.Amount)
			sum.Sub(sum, e.Promise.Fee)
		}
	}
	return sum, nil
}
