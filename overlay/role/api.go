package role

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// The local API's shared parts: JSON errors, strict request decoding and
// per-path method routing, so that every handler answers bad input with a
// 4xx that says what to fix and never with a 500.

// apiError is an error with the HTTP status it answers with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest is a 400 naming what was wrong.
func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// APIErrorBody is the JSON every error answer carries.
type APIErrorBody struct {
	Error string `json:"error"`
}

// writeError answers status with msg as an APIErrorBody.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(APIErrorBody{Error: msg})
}

// writeJSON answers with v, or with err: an *apiError with its status,
// ErrNoChain with 409, anything else (a failure of the node, not of the
// request) with 500.
func writeJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			writeError(w, ae.status, ae.msg)
		case errors.Is(err, ErrNoChain):
			writeError(w, http.StatusConflict, err.Error())
		default:
			writeError(w, http.StatusInternalServerError, err.Error())
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads r's body into v: one JSON object with no unknown
// fields. An empty body leaves v as it is when emptyOK.
func decodeJSON(r *http.Request, v any, emptyOK bool) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF) && emptyOK:
		return nil
	case errors.Is(err, io.EOF):
		return badRequest("empty body: send a JSON object")
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body over %d bytes", mbe.Limit)}
	case err != nil:
		return badRequest("bad JSON body: %v", err)
	}
	if dec.More() {
		return badRequest("bad JSON body: one object expected, found more after it")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("bad JSON body: trailing data after the object")
	}
	return nil
}

// routes maps each path to its handlers by method. Unlike method patterns
// in http.ServeMux, a wrong method and an unknown path answer JSON.
type routes map[string]map[string]http.HandlerFunc

// handle adds the handler for method on path.
func (rs routes) handle(method, path string, h http.HandlerFunc) {
	if rs[path] == nil {
		rs[path] = map[string]http.HandlerFunc{}
	}
	rs[path][method] = h
}

// ServeHTTP dispatches r: 404 for an unknown path, 405 with Allow for a
// method the path does not take.
func (rs routes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ms, ok := rs[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no endpoint %s (see docs/API.md)", r.URL.Path))
		return
	}
	h, ok := ms[r.Method]
	if !ok && r.Method == http.MethodHead {
		h, ok = ms[http.MethodGet]
	}
	if !ok {
		allow := make([]string, 0, len(ms))
		for m := range ms {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s does not take %s: use %s", r.URL.Path, r.Method, strings.Join(allow, " or ")))
		return
	}
	h(w, r)
}
