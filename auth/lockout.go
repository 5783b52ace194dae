package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/behaviorauth/engine/persistence"
)

// Purposes of lockout counters; each is also the audit kind of its attempts.
const (
	purposeLogin = EventLogin
	purposeMPIN  = EventMPIN
)

// inFlightRetry is the RetryAfter of an attempt refused because failures plus attempts in flight reached the
// maximum: those attempts settle within moments, and then either the lock is set or the count is free again.
const inFlightRetry = time.Second

// settleTimeout bounds the writes that must happen even when the caller has gone (settling an attempt, auditing).
const settleTimeout = 5 * time.Second

// attempt runs one lockout-counted check of secret against the hash encoded for user u. The attempt is reserved
// in Postgres before any hashing, so that failures plus attempts in flight never exceed the maximum on any number
// of nodes; only a reserved attempt reaches argon2. It audits failures and locks; the caller audits success.
// Errors: *LockedError, or an internal error (the check did not happen).
func (s *Service) attempt(ctx context.Context, u persistence.User, purpose, encoded, secret string, c Client) (ok, stale bool, err error) {
	maxFailures := s.cfg.MPINMaxFailures
	if purpose == purposeLogin {
		maxFailures = s.cfg.LoginMaxFailures
	}
	now := s.now()
	res, err := s.store.ReserveAttempt(ctx, u.ID, purpose, maxFailures, now, 2*s.cfg.AttemptTimeout)
	if err != nil {
		return false, false, fmt.Errorf("auth: %s attempt: %w", purpose, err)
	}
	if !res.Granted {
		retry := inFlightRetry
		if !res.LockedUntil.IsZero() {
			retry = res.LockedUntil.Sub(now)
		}
		s.audit(ctx, Event{Kind: purpose, UserID: u.ID, Outcome: OutcomeLocked, Client: c,
			Detail: map[string]any{"retry_after_s": Seconds(retry), "in_flight": res.InFlight}})
		return false, false, &LockedError{Purpose: purpose, RetryAfter: retry}
	}

	cctx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	ok, stale, verr := s.hash.Verify(cctx, encoded, secret)
	cancel()

	// Settle whatever the caller's context does now: an attempt that was checked must be counted.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer scancel()
	if verr != nil {
		// No check happened (the hasher was busy past the deadline, or the stored hash is corrupt): free the slot
		// without counting a failure.
		if err := s.store.ReleaseAttempt(sctx, u.ID, purpose, s.now()); err != nil {
			s.log.WarnContext(ctx, "lockout attempt not released; it lapses on its own", "purpose", purpose, "err", err)
		}
		return false, false, fmt.Errorf("auth: %s check: %w", purpose, verr)
	}
	settled := s.now()
	lockedUntil, err := s.store.SettleAttempt(sctx, u.ID, purpose, ok, maxFailures, settled, settled.Add(s.cfg.LockDuration))
	if err != nil {
		return false, false, fmt.Errorf("auth: %s settle: %w", purpose, err)
	}
	if ok {
		return true, stale, nil
	}
	s.audit(ctx, Event{Kind: purpose, UserID: u.ID, Outcome: OutcomeFailed, Client: c,
		Detail: map[string]any{"reason": "wrong_" + secretName(purpose)}})
	if !lockedUntil.IsZero() {
		retry := lockedUntil.Sub(s.now())
		s.log.InfoContext(ctx, "credential locked", "purpose", purpose, "user_id", u.ID, "for", retry)
		s.audit(ctx, Event{Kind: EventLockout, UserID: u.ID, Outcome: OutcomeLocked, Client: c,
			Detail: map[string]any{"purpose": purpose, "failures": maxFailures, "retry_after_s": Seconds(retry)}})
		return false, false, &LockedError{Purpose: purpose, RetryAfter: retry}
	}
	return false, false, nil
}

func secretName(purpose string) string {
	if purpose == purposeLogin {
		return "password"
	}
	return "mpin"
}
