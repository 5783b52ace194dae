// Package auth is the accounts half of the engine: registration, password login, refresh-token rotation, logout,
// MPIN verification that opens a behavioral session, step-up MPIN checks, token verification, lockouts, rate
// limits and the audit trail. Every counter and every revocation lives in Postgres (persistence.Accounts), never
// in a node's memory, so each rule holds across the cluster. The HTTP and WebSocket edges are thin callers: they
// decode, call the Service and map its errors (errors.go) to the wire.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/behaviorauth/engine/persistence"
)

// Client describes where a request came from.
type Client struct {
	// Addr is the client's address as the transport established it (the peer, or the first untrusted hop of
	// X-Forwarded-For behind a trusted proxy). It keys the per-address rate limits and is audited.
	Addr string
}

// RegisterRequest is the body of POST /v1/auth/register.
type RegisterRequest struct {
	Phone    string
	Password string
	MPIN     string
	Name     string
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Phone    string
	Password string
	// DeviceID is an optional client-chosen id, recorded with the login.
	DeviceID string
}

// Tokens answers a login or a refresh.
type Tokens struct {
	UserID       string
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
}

// SessionGrant answers a successful MPIN verification: a behavioral session and its token.
type SessionGrant struct {
	SessionID    string
	SessionToken string
	ExpiresAt    time.Time
}

// Service implements the accounts operations. It is safe for concurrent use; the only state it keeps in memory is
// its configuration, the hashing semaphore and when it last cleaned old rate windows.
type Service struct {
	cfg            Config
	store          *persistence.Accounts
	log            *slog.Logger
	now            func() time.Time
	signingKey     []byte
	operatorDigest [sha256.Size]byte
	parser         *jwt.Parser
	hash           *hasher
	// dummyHash is checked against the password of a login to an unknown phone, so that such a login costs
	// the same time as a wrong password and does not tell which phones are registered.
	dummyHash string
	lastClean atomic.Int64
}

// Option adjusts a Service.
type Option func(*Service)

// WithClock replaces time.Now as the Service's clock (token times, expiries, lock ends, rate windows). For tests.
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = now }
}

// New validates cfg, applies its defaults and returns the Service over store.
func New(cfg Config, store *persistence.Accounts, logger *slog.Logger, opts ...Option) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || logger == nil {
		return nil, errors.New("auth: New: store and logger are required")
	}
	cfg = cfg.WithDefaults()
	s := &Service{
		cfg:        cfg,
		store:      store,
		log:        logger,
		now:        time.Now,
		signingKey: []byte(cfg.SigningKey),
	}
	for _, o := range opts {
		o(s)
	}
	if cfg.OperatorKey != "" {
		s.operatorDigest = sha256.Sum256([]byte(cfg.OperatorKey))
	}
	s.parser = newParser(cfg.Issuer, s.now)
	s.hash = newHasher(argonParams{
		Time:      uint32(cfg.Argon2Time),
		MemoryKiB: uint32(cfg.Argon2MemoryKiB),
		Threads:   uint8(cfg.Argon2Threads),
	}, []byte(cfg.Pepper), cfg.HashConcurrency)
	dummy, err := s.hash.Hash(context.Background(), uuid.NewString())
	if err != nil {
		return nil, err
	}
	s.dummyHash = dummy
	return s, nil
}

// IsOperator reports whether bearer (the credential of an Authorization: Bearer header, without the scheme) is
// the configured operator key. Constant time in the key and the bearer: both are hashed to fixed-size digests
// first. Always false when no operator key is configured.
func (s *Service) IsOperator(bearer string) bool {
	if s.cfg.OperatorKey == "" || bearer == "" {
		return false
	}
	d := sha256.Sum256([]byte(bearer))
	return subtle.ConstantTimeCompare(d[:], s.operatorDigest[:]) == 1
}

// Register creates a user with phone, password, MPIN and an optional name and returns its id. Errors:
// *ValidationError, *RateLimitedError, ErrConflict (phone registered already).
func (s *Service) Register(ctx context.Context, req RegisterRequest, c Client) (string, error) {
	phone, err := validateRegister(req)
	if err != nil {
		return "", err
	}
	if err := s.limit(ctx, opRegister, c, phone, ""); err != nil {
		return "", err
	}
	pw, err := s.hash.Hash(ctx, req.Password)
	if err != nil {
		return "", fmt.Errorf("auth: register: %w", err)
	}
	mpin, err := s.hash.Hash(ctx, req.MPIN)
	if err != nil {
		return "", fmt.Errorf("auth: register: %w", err)
	}
	u := persistence.User{
		ID: uuid.NewString(), Phone: phone, Name: req.Name, PasswordHash: pw, MPINHash: mpin, CreatedAt: s.now(),
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, persistence.ErrConflict) {
			s.audit(ctx, Event{Kind: EventRegister, Outcome: OutcomeFailed, Client: c,
				Detail: map[string]any{"reason": "phone_taken"}})
			return "", ErrConflict
		}
		return "", fmt.Errorf("auth: register: %w", err)
	}
	s.audit(ctx, Event{Kind: EventRegister, UserID: u.ID, Outcome: OutcomeOK, Client: c})
	return u.ID, nil
}

// Login checks phone and password and opens a login: a fresh access token and refresh token of a new token
// family. Errors: *ValidationError, *RateLimitedError, ErrInvalidCredentials (unknown phone or wrong password,
// indistinguishable), *LockedError.
func (s *Service) Login(ctx context.Context, req LoginRequest, c Client) (Tokens, error) {
	phone, err := validateLogin(req)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.limit(ctx, opLogin, c, phone, ""); err != nil {
		return Tokens{}, err
	}
	u, err := s.store.UserByPhone(ctx, phone)
	if errors.Is(err, persistence.ErrNotFound) {
		// Spend the time a real check would, so that timing does not reveal which phones are registered.
		if _, _, err := s.hash.Verify(ctx, s.dummyHash, req.Password); err != nil {
			return Tokens{}, fmt.Errorf("auth: login: %w", err)
		}
		s.audit(ctx, Event{Kind: EventLogin, Outcome: OutcomeFailed, Client: c,
			Detail: map[string]any{"reason": "unknown_account", "phone": phone}})
		return Tokens{}, ErrInvalidCredentials
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: login: %w", err)
	}
	ok, stale, err := s.attempt(ctx, u, purposeLogin, u.PasswordHash, req.Password, c)
	if err != nil {
		return Tokens{}, err
	}
	if !ok {
		return Tokens{}, ErrInvalidCredentials
	}
	if stale {
		s.rehash(ctx, u.ID, req.Password, s.store.SetPasswordHash)
	}

	now := s.now()
	loginID := uuid.NewString()
	refresh, digest, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	err = s.store.CreateLogin(ctx, persistence.NewLogin{
		ID: loginID, UserID: u.ID, DeviceID: req.DeviceID, ClientAddr: c.Addr, CreatedAt: now,
		RefreshDigest: digest, RefreshExpires: now.Add(s.cfg.RefreshTTL),
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: login: %w", err)
	}
	access, err := s.sign(useAccess, u.ID, loginID, "", now.Add(s.cfg.AccessTTL))
	if err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, Event{Kind: EventLogin, UserID: u.ID, Outcome: OutcomeOK, Client: c,
		Detail: map[string]any{"login_id": loginID, "device_id": req.DeviceID}})
	return Tokens{UserID: u.ID, AccessToken: access, RefreshToken: refresh, ExpiresIn: int(s.cfg.AccessTTL / time.Second)}, nil
}

// rehash stores a new hash of secret made with the current parameters. Best effort: the old hash still works.
func (s *Service) rehash(ctx context.Context, userID, secret string, set func(context.Context, string, string) error) {
	h, err := s.hash.Hash(ctx, secret)
	if err == nil {
		err = set(ctx, userID, h)
	}
	if err != nil {
		s.log.WarnContext(ctx, "hash not upgraded to the current parameters", "user_id", userID, "err", err)
	}
}

// Refresh spends refreshToken and returns a new access token and a new refresh token of the same login. A token
// that was spent already means it was stolen or replayed: the whole login is revoked (every access, refresh and
// session token of it stops working) and the event is audited as reuse_detected. Errors: *ValidationError
// (empty), *RateLimitedError, ErrUnauthorized (unknown or malformed token), ErrTokenExpired, ErrTokenRevoked
// (reuse, or the login was revoked already).
func (s *Service) Refresh(ctx context.Context, refreshToken string, c Client) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, &ValidationError{Field: "refresh_token", Message: "required"}
	}
	digest, err := refreshDigest(refreshToken)
	if err != nil {
		if lerr := s.limit(ctx, opRefresh, c, "", ""); lerr != nil {
			return Tokens{}, lerr
		}
		return Tokens{}, err
	}
	userID, _, err := s.store.RefreshOwner(ctx, digest)
	if errors.Is(err, persistence.ErrNotFound) {
		if lerr := s.limit(ctx, opRefresh, c, "", ""); lerr != nil {
			return Tokens{}, lerr
		}
		s.audit(ctx, Event{Kind: EventRefresh, Outcome: OutcomeFailed, Client: c,
			Detail: map[string]any{"reason": "unknown_token"}})
		return Tokens{}, fmt.Errorf("%w: unknown refresh token", ErrUnauthorized)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if err := s.limit(ctx, opRefresh, c, userID, userID); err != nil {
		return Tokens{}, err
	}

	now := s.now()
	next, nextDigest, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	rot, err := s.store.RotateRefresh(ctx, digest, nextDigest, now, now.Add(s.cfg.RefreshTTL))
	if errors.Is(err, persistence.ErrNotFound) {
		return Tokens{}, fmt.Errorf("%w: unknown refresh token", ErrUnauthorized)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("auth: refresh: %w", err)
	}
	switch rot.Outcome {
	case persistence.Rotated:
	case persistence.Reused:
		s.log.WarnContext(ctx, "refresh token reused: login revoked", "user_id", rot.UserID, "login_id", rot.LoginID,
			"client_addr", c.Addr)
		s.audit(ctx, Event{Kind: EventReuseDetected, UserID: rot.UserID, Outcome: OutcomeFailed, Client: c,
			Detail: map[string]any{"login_id": rot.LoginID, "action": "login_revoked"}})
		return Tokens{}, fmt.Errorf("%w: refresh token reused", ErrTokenRevoked)
	case persistence.Revoked:
		s.audit(ctx, Event{Kind: EventRefresh, UserID: rot.UserID, Outcome: OutcomeFailed, Client: c,
			Detail: map[string]any{"login_id": rot.LoginID, "reason": "revoked"}})
		return Tokens{}, ErrTokenRevoked
	case persistence.Expired:
		s.audit(ctx, Event{Kind: EventRefresh, UserID: rot.UserID, Outcome: OutcomeFailed, Client: c,
			Detail: map[string]any{"login_id": rot.LoginID, "reason": "expired"}})
		return Tokens{}, ErrTokenExpired
	default:
		return Tokens{}, fmt.Errorf("auth: refresh: unexpected outcome %s", rot.Outcome)
	}
	access, err := s.sign(useAccess, rot.UserID, rot.LoginID, "", now.Add(s.cfg.AccessTTL))
	if err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, Event{Kind: EventRefresh, UserID: rot.UserID, Outcome: OutcomeOK, Client: c,
		Detail: map[string]any{"login_id": rot.LoginID}})
	return Tokens{UserID: rot.UserID, AccessToken: access, RefreshToken: next, ExpiresIn: int(s.cfg.AccessTTL / time.Second)}, nil
}

// Logout revokes the login of claims: every access, refresh and session token of it stops working at once, on
// every node. Logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, claims AccessClaims, c Client) error {
	if _, err := s.store.RevokeLogin(ctx, claims.LoginID, "logout", s.now()); err != nil {
		if errors.Is(err, persistence.ErrNotFound) {
			return ErrTokenRevoked
		}
		return fmt.Errorf("auth: logout: %w", err)
	}
	s.audit(ctx, Event{Kind: EventLogout, UserID: claims.UserID, Outcome: OutcomeOK, Client: c,
		Detail: map[string]any{"login_id": claims.LoginID}})
	return nil
}

// RevokeLogin revokes login loginID for reason (the engine calls it when it blocks a session). Idempotent.
// Errors: ErrNotFound.
func (s *Service) RevokeLogin(ctx context.Context, loginID, reason string) error {
	did, err := s.store.RevokeLogin(ctx, loginID, reason, s.now())
	if errors.Is(err, persistence.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("auth: revoke login: %w", err)
	}
	if did {
		s.log.InfoContext(ctx, "login revoked", "login_id", loginID, "reason", reason)
	}
	return nil
}

// VerifyAccess checks an access token: signature (HS256 only), issuer, expiry, use, and that its login is not
// revoked (a Postgres lookup on every call, so a revocation holds at once on every node). Errors:
// ErrUnauthorized, ErrTokenExpired, ErrTokenRevoked.
func (s *Service) VerifyAccess(ctx context.Context, token string) (AccessClaims, error) {
	c, err := s.parse(token, useAccess)
	if err != nil {
		return AccessClaims{}, err
	}
	st, err := s.store.Login(ctx, c.LoginID)
	if errors.Is(err, persistence.ErrNotFound) {
		return AccessClaims{}, ErrTokenRevoked
	}
	if err != nil {
		return AccessClaims{}, fmt.Errorf("auth: verify access: %w", err)
	}
	if st.Revoked {
		return AccessClaims{}, ErrTokenRevoked
	}
	if st.UserID != c.Subject {
		return AccessClaims{}, fmt.Errorf("%w: access token: login of another user", ErrUnauthorized)
	}
	return AccessClaims{UserID: c.Subject, LoginID: c.LoginID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// VerifySession checks a session token like VerifyAccess, plus that the session exists and belongs to the
// token's user and login. A session that has ended still verifies (ending is idempotent; the engine answers
// "ended"). Errors: ErrUnauthorized, ErrTokenExpired, ErrTokenRevoked.
func (s *Service) VerifySession(ctx context.Context, token string) (SessionClaims, error) {
	c, err := s.parse(token, useSession)
	if err != nil {
		return SessionClaims{}, err
	}
	st, err := s.store.Session(ctx, c.SessionID)
	if errors.Is(err, persistence.ErrNotFound) {
		return SessionClaims{}, ErrTokenRevoked
	}
	if err != nil {
		return SessionClaims{}, fmt.Errorf("auth: verify session: %w", err)
	}
	if st.LoginRevoked {
		return SessionClaims{}, ErrTokenRevoked
	}
	if st.UserID != c.Subject || st.LoginID != c.LoginID {
		return SessionClaims{}, fmt.Errorf("%w: session token: session of another login", ErrUnauthorized)
	}
	return SessionClaims{SessionID: c.SessionID, UserID: c.Subject, LoginID: c.LoginID, ExpiresAt: c.ExpiresAt.Time}, nil
}

// StartSession checks the MPIN of the access token's user (lockout-counted) and opens a behavioral session: the
// sessions row, the session_start audit event and a session token living SessionTTL. The caller then activates
// the session actor. Errors: *ValidationError, *RateLimitedError, ErrInvalidCredentials, *LockedError,
// ErrTokenRevoked (the login was revoked meanwhile).
func (s *Service) StartSession(ctx context.Context, claims AccessClaims, mpin string, c Client) (SessionGrant, error) {
	u, err := s.checkMPIN(ctx, claims.UserID, mpin, c)
	if errors.Is(err, ErrNotFound) {
		return SessionGrant{}, ErrTokenRevoked
	}
	if err != nil {
		return SessionGrant{}, err
	}
	now := s.now()
	// Whole seconds: the token's exp claim has that precision, and the row must agree with it.
	exp := now.Add(s.cfg.SessionTTL).Truncate(time.Second)
	id := uuid.NewString()
	err = s.store.CreateSession(ctx, persistence.AuthSession{
		ID: id, UserID: u.ID, LoginID: claims.LoginID, CreatedAt: now, ExpiresAt: exp,
	})
	if errors.Is(err, persistence.ErrNotFound) {
		return SessionGrant{}, ErrTokenRevoked
	}
	if err != nil {
		return SessionGrant{}, fmt.Errorf("auth: start session: %w", err)
	}
	tok, err := s.sign(useSession, u.ID, claims.LoginID, id, exp)
	if err != nil {
		return SessionGrant{}, err
	}
	s.audit(ctx,
		Event{Kind: EventMPIN, UserID: u.ID, Outcome: OutcomeOK, Client: c},
		Event{Kind: EventSessionStart, UserID: u.ID, Outcome: OutcomeOK, Client: c,
			Detail: map[string]any{"session_id": id, "login_id": claims.LoginID}})
	return SessionGrant{SessionID: id, SessionToken: tok, ExpiresAt: exp}, nil
}

// CheckMPIN checks the MPIN of userID for a step-up challenge, with the same lockout counting and rate limits as
// StartSession. Errors: *ValidationError, *RateLimitedError, ErrInvalidCredentials, *LockedError, ErrNotFound.
func (s *Service) CheckMPIN(ctx context.Context, userID, mpin string, c Client) error {
	u, err := s.checkMPIN(ctx, userID, mpin, c)
	if err != nil {
		return err
	}
	s.audit(ctx, Event{Kind: EventMPIN, UserID: u.ID, Outcome: OutcomeOK, Client: c})
	return nil
}

// checkMPIN runs the rate limits and the lockout-counted MPIN check; it audits failures, the caller success.

func (s *Service) checkMPIN(ctx context.Context, userID, mpin string, c Client) (persistence.User, error) {
	if err := validateMPINShape(mpin); err != nil {
		return persistence.User{}, err
	}
	if err := s.limit(ctx, opMPIN, c, userID, userID); err != nil {
		return persistence.User{}, err
	}
	u, err := s.store.UserByID(ctx, userID)
	if errors.Is(err, persistence.ErrNotFound) {
		return persistence.User{}, ErrNotFound
	}
	if err != nil {
		return persistence.User{}, fmt.Errorf("auth: mpin: %w", err)
	}
	ok, stale, err := s.attempt(ctx, u, purposeMPIN, u.MPINHash, mpin, c)
	if err != nil {
		return persistence.User{}, err
	}
	if !ok {
		return persistence.User{}, ErrInvalidCredentials
	}
	if stale {
		s.rehash(ctx, u.ID, mpin, s.store.SetMPINHash)
	}
	return u, nil
}
