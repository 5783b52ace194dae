package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/persistence"
)

func TestMapError(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("layer: %w", err) }
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		field      string
		retryAfter int
	}{
		{"validation", &auth.ValidationError{Field: "phone", Message: "not E.164"}, 400, "invalid_request", "phone", 0},
		{"validation wrapped", wrap(&auth.ValidationError{Field: "mpin", Message: "trivial"}), 400, "invalid_request", "mpin", 0},
		{"locked login", &auth.LockedError{Purpose: "login", RetryAfter: 90 * time.Second}, 423, "locked", "", 90},
		{"locked mpin rounds up", wrap(&auth.LockedError{Purpose: "mpin", RetryAfter: 1500 * time.Millisecond}), 423, "locked", "", 2},
		{"rate limited", &auth.RateLimitedError{Scope: "address", RetryAfter: 30 * time.Second}, 429, "rate_limited", "", 0},
		{"invalid credentials", auth.ErrInvalidCredentials, 401, "unauthorized", "", 0},
		{"unauthorized wrapped", fmt.Errorf("%w: bad token", auth.ErrUnauthorized), 401, "unauthorized", "", 0},
		{"token expired", auth.ErrTokenExpired, 401, "unauthorized", "", 0},
		{"token revoked wrapped", fmt.Errorf("%w: refresh token reused", auth.ErrTokenRevoked), 401, "unauthorized", "", 0},
		{"forbidden", auth.ErrForbidden, 403, "forbidden", "", 0},
		{"conflict", auth.ErrConflict, 409, "conflict", "", 0},
		{"auth not found", auth.ErrNotFound, 404, "not_found", "", 0},
		{"session not found", wrap(actors.ErrSessionNotFound), 404, "not_found", "", 0},
		{"session ended", actors.ErrSessionEnded, 409, "conflict", "", 0},
		{"session blocked", actors.ErrSessionBlocked, 409, "conflict", "", 0},
		{"not challenged", actors.ErrNotChallenged, 409, "conflict", "", 0},
		{"engine invalid", actors.ErrInvalid, 400, "invalid_request", "", 0},
		{"engine unavailable", fmt.Errorf("session x: timeout: %w", actors.ErrUnavailable), 503, "unavailable", "", 0},
		{"persistence not found", wrap(persistence.ErrNotFound), 404, "not_found", "", 0},
		{"persistence conflict", persistence.ErrConflict, 409, "conflict", "", 0},
		{"deadline", wrap(context.DeadlineExceeded), 503, "unavailable", "", 0},
		{"canceled", context.Canceled, 503, "unavailable", "", 0},
		{"body too large", &http.MaxBytesError{Limit: 65536}, 413, "too_large", "", 0},
		{"wire error passes through", errConflict("x"), 409, "conflict", "", 0},
		{"unknown", errors.New("pq: relation does not exist"), 500, "internal", "", 0},
		{"nil", nil, 500, "internal", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			we := mapError(tc.err)
			if we.Status() != tc.status || we.Code != tc.code || we.Field != tc.field || we.RetryAfterS != tc.retryAfter {
				t.Fatalf("mapError(%v) = %d %s field=%q retry_after_s=%d, want %d %s field=%q retry_after_s=%d",
					tc.err, we.Status(), we.Code, we.Field, we.RetryAfterS, tc.status, tc.code, tc.field, tc.retryAfter)
			}
			if we.Message == "" {
				t.Fatal("empty message")
			}
			if tc.code == "internal" && we.Message != "internal error" {
				t.Fatalf("internal error leaks detail: %q", we.Message)
			}
		})
	}
}

func TestWriteErrorHeadersAndBody(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter string
		wwwAuth    bool
	}{
		{"rate limited has Retry-After", &auth.RateLimitedError{Scope: "address", RetryAfter: 2500 * time.Millisecond}, 429, "3", false},
		{"locked has Retry-After", &auth.LockedError{Purpose: "mpin", RetryAfter: time.Minute}, 423, "60", false},
		{"unauthorized has WWW-Authenticate", auth.ErrTokenExpired, 401, "", true},
		{"internal has neither", errors.New("boom"), 500, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
			writeError(rec, req, nil, tc.err)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := rec.Header().Get("WWW-Authenticate") != ""; got != tc.wwwAuth {
				t.Errorf("WWW-Authenticate present = %v, want %v", got, tc.wwwAuth)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct {
				Error map[string]any `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body.String(), err)
			}
			if body.Error["code"] == "" || body.Error["message"] == "" {
				t.Fatalf("body %q lacks code or message", rec.Body.String())
			}
		})
	}
}
