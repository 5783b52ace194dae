package transport

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/persistence"
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

// writeError maps err to its wire form (see mapError) and writes it. Unknown errors are logged here (and
// `unavailable` ones, at warning level) and leave the process only as `internal`, with no detail. A 401 carries `WWW-Authenticate: Bearer` (RFC 6750); a 423 or
// 429 carries Retry-After in whole seconds.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	we := mapError(err)
	if logger != nil {
		switch we.status {
		case http.StatusInternalServerError:
			logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		case http.StatusServiceUnavailable:
			logger.WarnContext(r.Context(), "request unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		}
	}
	if we.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(we.retryAfter)))
	}
	if we.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="behaviorauth"`)
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

// mapError is the one place where domain errors become wire errors: every sentinel and typed error of auth,
// actors and persistence (the engine passes persistence errors through) has its PROTOCOL.md code here.
// Anything unknown is `internal`, with no detail.
func mapError(err error) *WireError {
	if err == nil {
		return errInternal()
	}
	var (
		we  *WireError
		ve  *auth.ValidationError
		le  *auth.LockedError
		rle *auth.RateLimitedError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &ve):
		return errInvalid(ve.Field, ve.Field+": "+ve.Message)
	case errors.As(err, &le):
		what := "too many wrong attempts"
		switch le.Purpose {
		case "login":
			what = "too many wrong passwords"
		case "mpin":
			what = "too many wrong MPINs"
		}
		return errLocked(what+"; locked for "+strconv.Itoa(ceilSeconds(le.RetryAfter))+" s", le.RetryAfter)
	case errors.As(err, &rle):
		return errRateLimited(rle.RetryAfter)
	case errors.As(err, &mbe):
		return errTooLarge(int(mbe.Limit))

	case errors.Is(err, auth.ErrInvalidCredentials):
		return errUnauthorized("invalid credentials")
	case errors.Is(err, auth.ErrTokenExpired):
		return errUnauthorized("token expired")
	case errors.Is(err, auth.ErrTokenRevoked):
		return errUnauthorized("token revoked")
	case errors.Is(err, auth.ErrUnauthorized):
		return errUnauthorized("missing or invalid token")
	case errors.Is(err, auth.ErrForbidden):
		return errForbidden("not allowed for this caller")
	case errors.Is(err, auth.ErrConflict):
		return errConflict("already registered")
	case errors.Is(err, auth.ErrNotFound):
		return errNotFound("not found")

	case errors.Is(err, actors.ErrSessionNotFound):
		return errNotFound("session not found")
	case errors.Is(err, actors.ErrSessionEnded):
		return errConflict("session has ended")
	case errors.Is(err, actors.ErrSessionBlocked):
		return errConflict("session is blocked")
	case errors.Is(err, actors.ErrNotChallenged):
		return errConflict("no challenge pending")
	case errors.Is(err, actors.ErrInvalid):
		return errInvalid("", "request refused as malformed")
	case errors.Is(err, actors.ErrUnavailable):
		return errUnavailable("engine unavailable; retry")

	case errors.Is(err, persistence.ErrNotFound):
		return errNotFound("not found")
	case errors.Is(err, persistence.ErrConflict):
		return errConflict("conflicting change; reload and retry")

	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		// The request's own deadline (HTTP.RequestTimeout) or the client going away: nothing is wrong with the
		// request itself, so it is retryable.
		return errUnavailable("request timed out; retry")
	}
	return errInternal()
}
