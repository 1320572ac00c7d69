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
	"github.com/mystp2p/mystp2p/overlay/role"
)

func cmdEarnings(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "earnings", "earnings [--json] [--data-dir DIR]")
	var idf idFlags
	idf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON (amounts in base units)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var rows []role.EarningRow
	err := callLocalAPI(ctx, idf.dataDir, http.MethodGet, "/v1/earnings", nil, &rows)
	if errors.Is(err, errNoAPI) {
		rows, err = []role.EarningRow{}, nil
		if haveStore(idf.dataDir) {
			store, oerr := openStore(idf.dataDir, role.ProviderStore)
			if oerr != nil {
				return oerr
			}
			defer store.Close()
			rows, err = (&role.Books{Store: store}).Earnings()
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
	fmt.Fprintln(tw, "HERMES\tEARNED\tSETTLED\tUNSETTLED\tHERMES FEE\tFEES PAID\tGAS SPENT (ETHER)")
	for _, r := range rows {
		settled, _ := new(big.Int).SetString(r.Settled, 10)
		feeSettled, _ := new(big.Int).SetString(r.FeeSettled, 10)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Hermes, tokenString(r.Earned), tokens(settled.Sub(settled, feeSettled)),
			tokenString(r.Unsettled), tokenString(r.Fee), tokenString(r.FeeSettled), tokenString(r.GasSpent))
	}
	fmt.Fprintln(tw, "(tokens; EARNED = SETTLED + UNSETTLED, after the hermes fee; FEES PAID is the fee settlements took)")
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.Settlements) == 0 {
			continue
		}
		fmt.Fprintf(e.stdout, "\nlast settlements with hermes %s:\n", r.Hermes)
		tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BLOCK\tPAID\tFEE\tGAS\tGAS PRICE (GWEI)\tGAS COST (ETHER)\tTX")
		for _, s := range r.Settlements {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", s.Block, tokenString(s.Paid), tokenString(s.Fee), s.GasUsed,
				gwei(s.GasPrice), tokenString(s.GasCost), s.Tx)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// gwei formats a wei decimal string in gwei.
func gwei(s string) string {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return s
	}
	return new(big.Rat).SetFrac(v, big.NewInt(1e9)).FloatString(3)
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
	var req role.SettleRequest
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
	var rows []role.SettleRow
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
func settleOffline(ctx context.Context, e env, idf idFlags, cf chainFlags, req role.SettleRequest) ([]role.SettleRow, error) {
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
	store, err := openStore(idf.dataDir, role.ProviderStore)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	settler, err := hermes.NewSettler(hermes.SettlerConfig{Chain: chain, From: id, Store: store})
	if err != nil {
		return nil, err
	}
	defer settler.Close()
	return (&role.Books{Store: store, Chain: chain, ID: id, Settler: settler}).Settle(ctx, req)
}

// haveStore reports whether a provider ever kept books in dataDir.
func haveStore(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, role.ProviderStore))
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
