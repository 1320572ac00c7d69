package role

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/mystp2p/mystp2p/overlay"
	"github.com/mystp2p/mystp2p/overlay/session/client"
)

// ConsumerStatus is what GET /v1/consumer/status answers. Amounts are
// base units as decimal strings; bytes are the consumer's own count of the
// live session's tunnel traffic (up: to the provider).
type ConsumerStatus struct {
	State    client.ConsumerState `json:"state"`
	PeerID   string               `json:"peer_id"`
	Since    time.Time            `json:"since"`
	Provider string               `json:"provider,omitempty"`
	Session  string               `json:"session,omitempty"`
	Path     string               `json:"path,omitempty"`
	// Transport is how WireGuard travels: udp-mux, udp or stream.
	Transport string `json:"transport,omitempty"`
	// Obfuscation is what a censor sees of WireGuard: masked, none or
	// inside-libp2p.
	Obfuscation string `json:"obfuscation,omitempty"`
	BytesUp     uint64 `json:"bytes_up"`
	BytesDown   uint64 `json:"bytes_down"`
	// Spent is what the live session paid (agreement total and hermes
	// fee); SpentTotal adds the sessions of this run that ended.
	Spent      string `json:"spent"`
	SpentTotal string `json:"spent_total"`
	// ConnectedSince is when the live session's tunnel came up.
	ConnectedSince *time.Time `json:"connected_since,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
}

// ConnectRequest is POST /v1/consumer/connect's body; without a provider
// the consumer connects to the best one for its query.
type ConnectRequest struct {
	Provider string `json:"provider,omitempty"`
}

// ControlAnswer is what POST /v1/consumer/connect and /disconnect answer:
// the request was queued (202); GET /v1/consumer/status shows it done.
type ControlAnswer struct {
	Requested string `json:"requested"`
	Provider  string `json:"provider,omitempty"`
}

// ProposalRow is one provider in GET /v1/proposals.
type ProposalRow struct {
	Provider  string   `json:"provider"`
	Country   string   `json:"country"`
	IPType    string   `json:"ip_type"`
	PriceHour string   `json:"price_hour"`
	PriceGiB  string   `json:"price_gib"`
	Hermes    []string `json:"hermes"`
	// Payable: free, or paid through the consumer's hermes.
	Payable   bool  `json:"payable"`
	ExpiresAt int64 `json:"expires_at"` // unix milliseconds
}

// proposalDiscoverTimeout bounds GET /v1/proposals?discover=1.
const proposalDiscoverTimeout = 15 * time.Second

// consumerStatus reads ctl.
func consumerStatus(node *overlay.Node, ctl *client.Control) ConsumerStatus {
	st := ctl.Status()
	out := ConsumerStatus{State: st.State, PeerID: node.ID().String(), Since: st.Since, Spent: "0", SpentTotal: st.SpentBefore.String()}
	if st.LastError != nil {
		out.LastError = st.LastError.Error()
	}
	if s := st.Session; s != nil {
		stats := s.Stats()
		total, fee := s.Paid()
		spent := total.Add(total, fee)
		since := stats.Started
		out.Provider, out.Session, out.Path, out.Transport = s.Provider.String(), s.ID, string(s.Path()), string(s.Transport())
		out.Obfuscation = string(s.Obfuscation())
		out.BytesUp, out.BytesDown = stats.TxBytes, stats.RxBytes
		out.Spent, out.SpentTotal = spent.String(), spent.Add(spent, st.SpentBefore).String()
		out.ConnectedSince = &since
	}
	return out
}

// registerConsumer serves the consumer's endpoints.
func (c *Consumer) registerConsumer(rs routes) {
	rs.handle(http.MethodGet, "/v1/consumer/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, consumerStatus(c.Node, c.Control), nil)
	})
	rs.handle(http.MethodPost, "/v1/consumer/disconnect", func(w http.ResponseWriter, r *http.Request) {
		if err := decodeJSON(r, &struct{}{}, true); err != nil {
			writeJSON(w, nil, err)
			return
		}
		c.control(w, c.Control.Disconnect(), ControlAnswer{Requested: "disconnect"})
	})
	rs.handle(http.MethodPost, "/v1/consumer/connect", func(w http.ResponseWriter, r *http.Request) {
		var req ConnectRequest
		if err := decodeJSON(r, &req, true); err != nil {
			writeJSON(w, nil, err)
			return
		}
		var id peer.ID
		if req.Provider != "" {
			var err error
			if id, err = peer.Decode(req.Provider); err != nil {
				writeJSON(w, nil, badRequest("provider %q is not a peer ID: %v", req.Provider, err))
				return
			}
			if id == c.Node.ID() {
				writeJSON(w, nil, badRequest("provider %s is this consumer itself", id))
				return
			}
		}
		c.control(w, c.Control.Connect(id), ControlAnswer{Requested: "connect", Provider: req.Provider})
	})
	rs.handle(http.MethodGet, "/v1/proposals", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		query := overlay.Query{Service: overlay.ServiceWireGuard, Country: q.Get("country"), IPType: q.Get("ip_type")}
		if len(query.Country) != 0 && len(query.Country) != 2 {
			writeJSON(w, nil, badRequest("country %q: want an ISO 3166 alpha-2 code", query.Country))
			return
		}
		var ps []*overlay.SignedProposal
		switch q.Get("discover") {
		case "", "0":
			ps = c.Node.Cached(query)
		case "1":
			ctx, cancel := context.WithTimeout(r.Context(), proposalDiscoverTimeout)
			var err error
			ps, err = c.Node.Discover(ctx, query)
			cancel()
			if err != nil && len(ps) == 0 && r.Context().Err() == nil {
				writeJSON(w, nil, &apiError{status: http.StatusGatewayTimeout, msg: fmt.Sprintf("discovery: %v", err)})
				return
			}
		default:
			writeJSON(w, nil, badRequest("discover %q: want 1 or 0", q.Get("discover")))
			return
		}
		rows := make([]ProposalRow, 0, len(ps))
		for _, sp := range ps {
			p := sp.Proposal
			payable := !p.Charges() || (c.Payment != nil && p.AcceptsHermes(c.Payment.Wallet.Hermes()))
			rows = append(rows, ProposalRow{Provider: p.Provider.String(), Country: p.Country, IPType: p.IPType,
				PriceHour: p.PriceHour, PriceGiB: p.PriceGiB, Hermes: append([]string{}, p.Hermes...), Payable: payable,
				ExpiresAt: p.ExpiresAt})
		}
		writeJSON(w, rows, nil)
	})
}

// control answers a queued request with 202, a busy Control with 409.
func (c *Consumer) control(w http.ResponseWriter, err error, ans ControlAnswer) {
	if err != nil {
		writeJSON(w, nil, &apiError{status: http.StatusConflict, msg: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(ans)
}
