package role

import (
	"net/http"
	"strconv"
	"time"
)

// SessionRow is one live session in GET /v1/sessions. Bytes are the
// provider's count of the tunnel (up: from the consumer); Earned is base
// units, "0" for a free session.
type SessionRow struct {
	ID              string    `json:"id"`
	Consumer        string    `json:"consumer"`
	Path            string    `json:"path"`
	Transport       string    `json:"transport"`
	Obfuscated      bool      `json:"obfuscated"`
	BytesUp         uint64    `json:"bytes_up"`
	BytesDown       uint64    `json:"bytes_down"`
	Started         time.Time `json:"started"`
	DurationSeconds int64     `json:"duration_seconds"`
	Earned          string    `json:"earned"`
	Hermes          string    `json:"hermes,omitempty"`
}

// HistoryAnswer is what GET /v1/history answers.
type HistoryAnswer struct {
	Series Series `json:"series"`
	// IntervalSeconds is how often the node samples.
	IntervalSeconds float64  `json:"interval_seconds"`
	Samples         []Sample `json:"samples"`
}

// registerStatus serves GET /v1/status.
func registerStatus(rs routes, w *nodeWatch, version string) {
	rs.handle(http.MethodGet, "/v1/status", func(rw http.ResponseWriter, r *http.Request) {
		st := w.status()
		if version != "" {
			st.Version = version
		}
		writeJSON(rw, st, nil)
	})
}

// registerHistory serves GET /v1/history?series=traffic|earnings&since=T
// (T: RFC 3339 or unix seconds; default the last 24 hours) &limit=N.
func registerHistory(rs routes, h *History, interval time.Duration) {
	rs.handle(http.MethodGet, "/v1/history", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		series := Series(q.Get("series"))
		if !series.valid() {
			writeJSON(w, nil, badRequest("series %q: want traffic or earnings", q.Get("series")))
			return
		}
		since := time.Now().Add(-24 * time.Hour)
		if s := q.Get("since"); s != "" {
			var err error
			if since, err = parseSince(s); err != nil {
				writeJSON(w, nil, err)
				return
			}
		}
		limit := HistoryMaxAnswer
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 || n > HistoryMaxAnswer {
				writeJSON(w, nil, badRequest("limit %q: want a count from 1 to %d", s, HistoryMaxAnswer))
				return
			}
			limit = n
		}
		samples, err := h.Since(series, since, limit)
		writeJSON(w, HistoryAnswer{Series: series, IntervalSeconds: interval.Seconds(), Samples: samples}, err)
	})
}

// parseSince reads an RFC 3339 time or unix seconds.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, badRequest("since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or unix seconds", s)
}
