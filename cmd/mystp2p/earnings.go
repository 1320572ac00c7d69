package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/ethereum/go-ethereum/common"

	"github.com/mystp2p/mystp2p/hermes"
	"github.com/mystp2p/mystp2p/identity"
)

// providerStore is the file name of a provider's payment store.
const providerStore = "provider.db"

// earningRow is what a provider earned through one hermes. Amounts are
// base units as decimal strings.
type earningRow struct {
	Hermes     string `json:"hermes"`
	Earned     string `json:"earned"`      // promised − fee: what the provider gets in all
	Promised   string `json:"promised"`    // cumulative amount of the latest hermes promise
	Fee        string `json:"fee"`         // cumulative hermes fee within it
	Settled    string `json:"settled"`     // cumulative amount settled on chain
	FeeSettled string `json:"fee_settled"` // cumulative fee within that
	Unsettled  string `json:"unsettled"`   // what settling now would pay: earned − (settled − fee_settled)
}

type settleRequest struct {
	Hermes      string `json:"hermes,omitempty"`      // 0x address; empty: every hermes
	Beneficiary string `json:"beneficiary,omitempty"` // 0x address; empty: as registered
}

type settleRow struct {
	Hermes string `json:"hermes"`
	Paid   string `json:"paid,omitempty"`
	Error  string `json:"error,omitempty"`
}

// books is a provider's payment side: its store, and with a chain its
// settler. provide serves it on the local API; earnings and settle use it
// directly when no provider runs.
type books struct {
	store   *hermes.Store
	chain   *hermes.Chain
	id      *identity.Identity
	settler *hermes.Settler
}

func (b *books) earnings() ([]earningRow, error) {
	es, err := b.store.Earnings()
	if err != nil {
		return nil, err
	}
	rows := make([]earningRow, 0, len(es))
	for _, e := range es {
		r := earningRow{Hermes: e.Hermes.Hex(), Earned: "0", Promised: "0", Fee: "0", Settled: e.Settled.String(),
			FeeSettled: e.FeeSettled.String(), Unsettled: e.Unsettled().String()}
		if e.Promise != nil {
			r.Promised, r.Fee = e.Promise.Amount.String(), e.Promise.Fee.String()
			r.Earned = new(big.Int).Sub(e.Promise.Amount, e.Promise.Fee).String()
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// settle settles what is unsettled with req.Hermes (or every hermes) to
// the registered beneficiary, registering req.Beneficiary first if given.
func (b *books) settle(ctx context.Context, req settleRequest) ([]settleRow, error) {
	if b.settler == nil {
		return nil, errors.New("this provider has no chain to settle on (start it with --hermes, --chain-rpc and --contract)")
	}
	if req.Beneficiary != "" {
		if !common.IsHexAddress(req.Beneficiary) {
			return nil, fmt.Errorf("beneficiary %q is not an address", req.Beneficiary)
		}
		if err := setBeneficiary(ctx, b.chain, b.id, common.HexToAddress(req.Beneficiary)); err != nil {
			return nil, err
		}
	}
	es, err := b.store.Earnings()
	if err != nil {
		return nil, err
	}
	var rows []settleRow
	for _, e := range es {
		if req.Hermes != "" && e.Hermes != common.HexToAddress(req.Hermes) {
			continue
		}
		row := settleRow{Hermes: e.Hermes.Hex()}
		paid, err := b.settler.SettleProvider(ctx, e.Hermes)
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
		return nil, fmt.Errorf("nothing earned through hermes %s", req.Hermes)
	}
	return rows, nil
}

// setBeneficiary registers where settlements of id are paid, if it differs.
func setBeneficiary(ctx context.Context, chain *hermes.Chain, id *identity.Identity, ben common.Address) error {
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

// handler serves the books on the local API.
func (b *books) handler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/earnings", func(w http.ResponseWriter, r *http.Request) {
		rows, err := b.earnings()
		writeJSON(w, rows, err)
	})
	mux.HandleFunc("POST /v1/settle", func(w http.ResponseWriter, r *http.Request) {
		var req settleRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		rows, err := b.settle(r.Context(), req)
		writeJSON(w, rows, err)
	})
	return mux
}

func cmdEarnings(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "earnings", "earnings [--json] [--data-dir DIR]")
	var idf idFlags
	idf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (amounts in base units)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var rows []earningRow
	err := callLocalAPI(ctx, idf.dataDir, http.MethodGet, "/v1/earnings", nil, &rows)
	if errors.Is(err, errNoAPI) {
		rows, err = []earningRow{}, nil
		if haveStore(idf.dataDir) {
			store, oerr := openStore(idf.dataDir, providerStore)
			if oerr != nil {
				return oerr
			}
			defer store.Close()
			rows, err = (&books{store: store}).earnings()
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "nothing earned yet")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HERMES\tEARNED\tSETTLED\tUNSETTLED\tHERMES FEE")
	for _, r := range rows {
		settled, _ := new(big.Int).SetString(r.Settled, 10)
		feeSettled, _ := new(big.Int).SetString(r.FeeSettled, 10)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Hermes, tokenString(r.Earned), tokens(settled.Sub(settled, feeSettled)),
			tokenString(r.Unsettled), tokenString(r.Fee))
	}
	fmt.Fprintln(tw, "(tokens; EARNED = SETTLED + UNSETTLED, after the hermes fee)")
	return tw.Flush()
}

func cmdSettle(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "settle", "settle [--hermes ID] [--beneficiary ADDR] [--chain-rpc URL --contract ADDR] [flags]")
	var (
		idf idFlags
		cf  chainFlags
	)
	idf.register(fs)
	cf.register(fs)
	hub := fs.String("hermes", "", "settle only what was earned through this hermes (0x address or peer ID)")
	ben := fs.String("beneficiary", "", "pay settlements to this address 0x… from now on (registered on chain; default: as registered, else this identity)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var req settleRequest
	if *hub != "" {
		h, err := parseHermesID("--hermes", *hub)
		if err != nil {
			return err
		}
		req.Hermes = h.addr.Hex()
	}
	if *ben != "" {
		if !common.IsHexAddress(*ben) {
			return exitUsage{fmt.Errorf("--beneficiary %q is not an address (0x + 40 hex digits)", *ben)}
		}
		req.Beneficiary = common.HexToAddress(*ben).Hex()
	}
	var rows []settleRow
	err := callLocalAPI(ctx, idf.dataDir, http.MethodPost, "/v1/settle", req, &rows)
	if errors.Is(err, errNoAPI) {
		if !haveStore(idf.dataDir) {
			fmt.Fprintf(e.stdout, "nothing earned yet (no provider store in %s)\n", idf.dataDir)
			return nil
		}
		rows, err = settleOffline(ctx, e, idf, cf, req)
	}
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range rows {
		switch {
		case r.Error != "":
			fmt.Fprintf(e.stdout, "hermes %s: settlement failed: %s\n", r.Hermes, r.Error)
			failed = append(failed, r.Hermes)
		case r.Paid == "0":
			fmt.Fprintf(e.stdout, "hermes %s: nothing to settle\n", r.Hermes)
		default:
			fmt.Fprintf(e.stdout, "hermes %s: settled, %s tokens paid to the beneficiary\n", r.Hermes, tokenString(r.Paid))
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(e.stdout, "nothing earned yet")
	}
	if len(failed) > 0 {
		return fmt.Errorf("settlement failed for %d hermes (what was earned stays in the store; try again)", len(failed))
	}
	return nil
}

// settleOffline settles from the store when no provider runs.
func settleOffline(ctx context.Context, e env, idf idFlags, cf chainFlags, req settleRequest) ([]settleRow, error) {
	chain, closeChain, err := cf.dial(ctx, e, "settle")
	if err != nil {
		return nil, err
	}
	defer closeChain()
	id, err := idf.unlock(e)
	if err != nil {
		return nil, err
	}
	if err := needGas(ctx, chain, id.Address()); err != nil {
		return nil, err
	}
	store, err := openStore(idf.dataDir, providerStore)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	settler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: chain, From: id, Store: store})
	if err != nil {
		return nil, err
	}
	defer settler.Close()
	return (&books{store: store, chain: chain, id: id, settler: settler}).settle(ctx, req)
}

// haveStore reports whether a provider ever kept books in dataDir.
func haveStore(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, providerStore))
	return err == nil
}

// tokenString formats a base-unit decimal string as tokens.
func tokenString(s string) string {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return s
	}
	return tokens(v)
}
