package transport

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// WireError is the body of every non-2xx answer (PROTOCOL.md "Errors").
type WireError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Field       string `json:"field,omitempty"`
	RetryAfterS int    `json:"retry_after_s,omitempty"`

	status     int
	retryAfter time.Duration
}

func (e *WireError) Error() string { return e.Code + ": " + e.Message }

// Status is the HTTP status of the error.
func (e *WireError) Status() int { return e.status }

// Wire error constructors, one per code of PROTOCOL.md.
func errInvalid(field, msg string) *WireError {
	return &WireError{Code: "invalid_request", Message: msg, Field: field, status: http.StatusBadRequest}
}
func errUnauthorized(msg string) *WireError {
	return &WireError{Code: "unauthorized", Message: msg, status: http.StatusUnauthorized}
}
func errForbidden(msg string) *WireError {
	return &WireError{Code: "forbidden", Message: msg, status: http.StatusForbidden}
}
func errNotFound(msg string) *WireError {
	return &WireError{Code: "not_found", Message: msg, status: http.StatusNotFound}
}
func errConflict(msg string) *WireError {
	return &WireError{Code: "conflict", Message: msg, status: http.StatusConflict}
}
func errLocked(msg string, retry time.Duration) *WireError {
	return &WireError{Code: "locked", Message: msg, RetryAfterS: ceilSeconds(retry), status: http.StatusLocked, retryAfter: retry}
}
func errRateLimited(retry time.Duration) *WireError {
	return &WireError{Code: "rate_limited", Message: "too many requests; retry later", status: http.StatusTooManyRequests, retryAfter: retry}
}
func errTooLarge(limit int) *WireError {
	return &WireError{Code: "too_large", Message: "request body over " + strconv.Itoa(limit) + " bytes", status: http.StatusRequestEntityTooLarge}
}
func errUnavailable(msg string) *WireError {
	return &WireError{Code: "unavailable", Message: msg, status: http.StatusServiceUnavailable}
}
func errInternal() *WireError {
	return &WireError{Code: "internal", Message: "internal error", status: http.StatusInternalServerError}
}

func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// writeError maps err to its wire form (see mapError) and writes it. Unknown errors are logged here and leave
// the process only as `internal`, with no detail.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	we := mapError(err)
	if we.Code == "internal" {
		logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if we.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(we.retryAfter)))
	}
	writeJSON(w, we.status, struct {
		Error *WireError `json:"error"`
	}{we})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// mapError is the one place where domain errors become wire errors. It grows with the domains (auth, actors).
func mapError(err error) *WireError {
	var we *WireError
	if errors.As(err, &we) {
		return we
	}
	return errInternal()
}
