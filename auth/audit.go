package auth

import (
	"context"
	"fmt"

	"github.com/behaviorauth/engine/persistence"
)

// Kinds of audit events.
const (
	EventRegister      = "register"
	EventLogin         = "login"
	EventMPIN          = "mpin"
	EventLockout       = "lockout"
	EventRefresh       = "refresh"
	EventReuseDetected = "reuse_detected"
	EventLogout        = "logout"
	EventSessionStart  = "session_start"
	EventSessionEnd    = "session_end"
	EventBlocked       = "blocked"
)

// Outcomes of audit events.
const (
	OutcomeOK          = "ok"
	OutcomeFailed      = "failed"
	OutcomeLocked      = "locked"
	OutcomeRateLimited = "rate_limited"
)

// Event is one row of the audit trail. Detail must never hold a secret (password, MPIN, token, key code).
type Event struct {
	// Kind is one of the Event* constants.
	Kind string
	// UserID is the user concerned; empty when unknown.
	UserID string
	// Outcome is one of the Outcome* constants.
	Outcome string
	// Client is where the request came from; empty for events the engine raises itself.
	Client Client
	// Detail is free JSON-encodable context: ids, reasons, counts.
	Detail map[string]any
}

// Audit appends e to the audit trail at the Service's current time. The engine calls it for session_end and
// blocked; the Service calls it for every event of its own.
func (s *Service) Audit(ctx context.Context, e Event) error {
	return s.insertEvents(ctx, e)
}

func (s *Service) insertEvents(ctx context.Context, events ...Event) error {
	now := s.now()
	rows := make([]persistence.AuthEvent, len(events))
	for i, e := range events {
		if e.Kind == "" || e.Outcome == "" {
			return fmt.Errorf("auth: audit: kind and outcome are required")
		}
		rows[i] = persistence.AuthEvent{
			At: now, UserID: e.UserID, Kind: e.Kind, Outcome: e.Outcome, ClientAddr: e.Client.Addr, Detail: e.Detail,
		}
	}
	if err := s.store.InsertAuthEvents(ctx, rows...); err != nil {
		return fmt.Errorf("auth: audit %s: %w", events[0].Kind, err)
	}
	return nil
}

// audit records events on a context that outlives the caller's cancellation (a client hanging up must not erase
// the trace of its attempt). A failure to record is logged loudly and does not change the answer to the client.
func (s *Service) audit(ctx context.Context, events ...Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := s.insertEvents(ctx, events...); err != nil {
		for _, e := range events {
			s.log.ErrorContext(ctx, "audit event not recorded", "kind", e.Kind, "outcome", e.Outcome,
				"user_id", e.UserID, "err", err)
		}
	}
}
