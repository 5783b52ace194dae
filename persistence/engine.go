package persistence

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// The engine's stores (Sessions, Profiles, Feedback) share the helpers below. Every write they offer is
// idempotent, keyed by natural ids, so the engine's write-behind batches can be retried after a timeout.

// engMaxLimit caps the rows any one list call returns, so a caller's mistake cannot pull a whole table.
const engMaxLimit = 10000

// engUUID parses a uuid id; a malformed id cannot name any row, so it is reported as ErrNotFound.
func engUUID(what, s string) (pgtype.UUID, error) {
	var u pgtype.UUID
	if err := u.Scan(s); err != nil {
		return u, fmt.Errorf("persistence: %s %q is not a uuid: %w", what, s, ErrNotFound)
	}
	return u, nil
}

// engLimit checks a list call's limit.
func engLimit(limit int) error {
	if limit <= 0 || limit > engMaxLimit {
		return fmt.Errorf("persistence: limit %d outside 1..%d", limit, engMaxLimit)
	}
	return nil
}

// engWrap maps a foreign-key violation (the session or user written about does not exist) to ErrNotFound,
// and returns any other error wrapped with op.
func engWrap(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return fmt.Errorf("persistence: %s: %s: %w", op, pe.ConstraintName, ErrNotFound)
	}
	return fmt.Errorf("persistence: %s: %w", op, err)
}
