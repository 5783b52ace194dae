package auth

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors the transport branches on with errors.Is. Each comment names the wire answer of PROTOCOL.md it
// maps to.
var (
	// ErrInvalidCredentials: wrong phone, password or MPIN. 401 `unauthorized` (the message must not say which
	// part was wrong).
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrUnauthorized: a token is missing, malformed, badly signed, of the wrong kind, or unknown. 401
	// `unauthorized`; on a WebSocket, close 4001.
	ErrUnauthorized = errors.New("auth: unauthorized")
	// ErrTokenExpired: the token (access, session or refresh) is past its expiry. 401 `unauthorized`; on a
	// WebSocket, close 4001.
	ErrTokenExpired = errors.New("auth: token expired")
	// ErrTokenRevoked: the token's login was revoked (logout, block, refresh-token reuse). 401 `unauthorized`; on a
	// WebSocket, close 4001.
	ErrTokenRevoked = errors.New("auth: token revoked")
	// ErrForbidden: the caller is authenticated but the resource is not theirs (another user's session or
	// profile). 403 `forbidden`.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrConflict: the phone is registered already. 409 `conflict`.
	ErrConflict = errors.New("auth: conflict")
	// ErrNotFound: the user, login or session named does not exist. 404 `not_found`.
	ErrNotFound = errors.New("auth: not found")
)

// ValidationError is an input that fails validation. 400 `invalid_request` with `field` set to Field.
type ValidationError struct {
	// Field is the wire name of the field ("phone", "password", "mpin", "name", "device_id", "refresh_token").
	Field string
	// Message says what is wrong, without echoing the value (it may be a secret).
	Message string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("auth: invalid %s: %s", e.Field, e.Message)
}

// LockedError means too many wrong passwords or MPINs: the account refuses that credential until RetryAfter has
// passed. 423 `locked` with `retry_after_s` (RetryAfter rounded up to whole seconds).
type LockedError struct {
	// Purpose is "login" or "mpin".
	Purpose string
	// RetryAfter is the time left before an attempt is accepted again.
	RetryAfter time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("auth: %s locked, retry after %s", e.Purpose, e.RetryAfter)
}

// RateLimitedError means the client address or the account sent more requests than its window allows. 429
// `rate_limited` with a `Retry-After` header of RetryAfter rounded up to whole seconds.
type RateLimitedError struct {
	// Scope is "address" or "account": which limit was hit.
	Scope string
	// RetryAfter is the time until the current window closes.
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("auth: rate limited per %s, retry after %s", e.Scope, e.RetryAfter)
}

// Seconds rounds d up to whole seconds, at least 1: the form of retry_after_s and Retry-After.
func Seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		return 1
	}
	return s
}
