package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Feedback labels.
const (
	// FeedbackGenuine says the session (or decision) was really its owner.
	FeedbackGenuine = "genuine"
	// FeedbackFraud says it was not.
	FeedbackFraud = "fraud"
)

// FeedbackStore stores feedback until the engine applies it, and the vectors labeled fraud that feed the global
// fraud index. Feedback accepted while the engine is down stays pending and is applied later.
type FeedbackStore struct {
	pool *pgxpool.Pool
}

// NewFeedbackStore returns a FeedbackStore on pool.
func NewFeedbackStore(pool *pgxpool.Pool) *FeedbackStore {
	return &FeedbackStore{pool: pool}
}

// Feedback is one piece of feedback on a session or one of its decisions.
type Feedback struct {
	// ID is chosen by the store when empty.
	ID        string
	SessionID string
	// DecisionSeq names one decision of the session; nil means the whole session.
	DecisionSeq *int64
	// Label is FeedbackGenuine or FeedbackFraud.
	Label string
	// ByOperator is true when the operator sent it, false when the session's owner did.
	ByOperator bool
	// UserID is the session's owner, whose profile adapts. The store fills it in from the session; if given on
	// Insert, it must be that owner.
	UserID string
	// At is when it was accepted; the store's clock when zero.
	At time.Time
	// AppliedAt is when the engine applied it, nil while pending.
	AppliedAt *time.Time
}

// Insert stores fb and returns its id. The same feedback again (same session, decision, label and sender side) is
// stored once and gives the first one's id, so retrying is safe. ErrNotFound when the session does not exist (or
// is not fb.UserID's); ErrConflict when fb.ID is taken by other feedback.
func (f *FeedbackStore) Insert(ctx context.Context, fb Feedback) (string, error) {
	if fb.Label != FeedbackGenuine && fb.Label != FeedbackFraud {
		return "", fmt.Errorf("persistence: insert feedback: label %q, want %q or %q", fb.Label, FeedbackGenuine,
			FeedbackFraud)
	}
	if fb.DecisionSeq != nil && *fb.DecisionSeq < 1 {
		return "", fmt.Errorf("persistence: insert feedback: decision seq %d, want >= 1", *fb.DecisionSeq)
	}
	sid, err := engUUID("session id", fb.SessionID)
	if err != nil {
		return "", err
	}
	var id, owner pgtype.UUID
	if fb.ID != "" {
		if id, err = engUUID("feedback id", fb.ID); err != nil {
			return "", err
		}
	}
	if fb.UserID != "" {
		if owner, err = engUUID("user id", fb.UserID); err != nil {
			return "", err
		}
	}
	var at *time.Time
	if !fb.At.IsZero() {
		at = &fb.At
	}
	// The second branch finds identical feedback stored before (the insert's own row is not visible to it).
	var got string
	err = f.pool.QueryRow(ctx, `
		with ins as (
			insert into feedback (id, session_id, decision_seq, label, by_operator, user_id, at)
			select coalesce($1::uuid, gen_random_uuid()), s.id, $3::bigint, $4::text, $5::bool, s.user_id,
				coalesce($6::timestamptz, now())
			from sessions s where s.id = $2::uuid and ($7::uuid is null or s.user_id = $7::uuid)
			on conflict do nothing
			returning id
		)
		select id::text from ins
		union all
		select f.id::text from feedback f
		where f.session_id = $2::uuid and f.decision_seq is not distinct from $3::bigint and f.label = $4::text
			and f.by_operator = $5::bool and ($7::uuid is null or f.user_id = $7::uuid)
		limit 1`, id, sid, fb.DecisionSeq, fb.Label, fb.ByOperator, at, owner).Scan(&got)
	if err == nil {
		return got, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", engWrap("insert feedback", err)
	}
	// Nothing inserted and nothing identical before the statement began. An identical insert racing this one
	// commits only after it, so look again with a new statement before deciding.
	err = f.pool.QueryRow(ctx, `select id::text from feedback
		where session_id = $1 and decision_seq is not distinct from $2::bigint and label = $3 and by_operator = $4
			and ($5::uuid is null or user_id = $5::uuid)`, sid, fb.DecisionSeq, fb.Label, fb.ByOperator, owner).
		Scan(&got)
	if err == nil {
		return got, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return "", engWrap("insert feedback", err)
	}
	var exists bool
	if err := f.pool.QueryRow(ctx, `select exists (select 1 from sessions where id = $1 and
		($2::uuid is null or user_id = $2::uuid))`, sid, owner).Scan(&exists); err != nil {
		return "", engWrap("insert feedback", err)
	}
	if !exists {
		return "", fmt.Errorf("persistence: insert feedback: session %s: %w", fb.SessionID, ErrNotFound)
	}
	return "", fmt.Errorf("persistence: insert feedback: id %s is taken: %w", fb.ID, ErrConflict)
}

// MarkApplied records that the engine applied feedback id; marking it again keeps the first time. ErrNotFound for
// an unknown id.
func (f *FeedbackStore) MarkApplied(ctx context.Context, id string) error {
	u, err := engUUID("feedback id", id)
	if err != nil {
		return err
	}
	tag, err := f.pool.Exec(ctx, `update feedback set applied_at = coalesce(applied_at, now()) where id = $1`, u)
	if err != nil {
		return engWrap("mark feedback applied", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("persistence: mark feedback applied: %s: %w", id, ErrNotFound)
	}
	return nil
}

// Pending returns up to limit pieces of feedback not applied yet, oldest first.
func (f *FeedbackStore) Pending(ctx context.Context, limit int) ([]Feedback, error) {
	if err := engLimit(limit); err != nil {
		return nil, err
	}
	rows, err := f.pool.Query(ctx, `select id::text, session_id::text, decision_seq, label, by_operator,
		user_id::text, at, applied_at from feedback where applied_at is null order by at, id limit $1`, limit)
	if err != nil {
		return nil, engWrap("pending feedback", err)
	}
	defer rows.Close()
	var out []Feedback
	for rows.Next() {
		var fb Feedback
		if err := rows.Scan(&fb.ID, &fb.SessionID, &fb.DecisionSeq, &fb.Label, &fb.ByOperator, &fb.UserID, &fb.At,
			&fb.AppliedAt); err != nil {
			return nil, engWrap("pending feedback", err)
		}
		out = append(out, fb)
	}
	if err := rows.Err(); err != nil {
		return nil, engWrap("pending feedback", err)
	}
	return out, nil
}

// AddFraudVectors adds vectors labeled fraud under key, each of dim dimensions, recording the session they came
// from ("" for none). A vector already stored for the same key and session is not added again, so retrying is
// safe. A vector of another length, or not finite, is refused with ErrInvalidVector and nothing is written.
func (f *FeedbackStore) AddFraudVectors(ctx context.Context, key string, dim int, vecs [][]float32,
	sessionID string) error {
	if key == "" {
		return fmt.Errorf("persistence: add fraud vectors: empty key")
	}
	if dim < 1 || dim > MaxVectorDim {
		return fmt.Errorf("persistence: add fraud vectors %q: dimension %d: %w", key, dim, ErrInvalidVector)
	}
	var sid pgtype.UUID
	if sessionID != "" {
		var err error
		if sid, err = engUUID("session id", sessionID); err != nil {
			return err
		}
	}
	if len(vecs) == 0 {
		return nil
	}
	encs := make([][]byte, len(vecs))
	for i, v := range vecs {
		if len(v) != dim {
			return fmt.Errorf("persistence: add fraud vectors %q: vector %d has %d dimensions, want %d: %w",
				key, i, len(v), dim, ErrInvalidVector)
		}
		enc, err := EncodeVector(v)
		if err != nil {
			return fmt.Errorf("persistence: add fraud vectors %q: vector %d: %w", key, i, err)
		}
		encs[i] = enc
	}
	// with ordinality keeps the given order in the ids, so "newest" is the last of vecs.
	if _, err := f.pool.Exec(ctx, `
		insert into fraud_vectors (key, dim, vector, session_id)
		select $1, $2, v.vector, $4 from unnest($3::bytea[]) with ordinality as v(vector, n) order by v.n
		on conflict do nothing`, key, int32(dim), encs, sid); err != nil {
		return engWrap("add fraud vectors", err)
	}
	return nil
}

// FraudVectors returns the newest limit vectors labeled fraud under key, newest first.
func (f *FeedbackStore) FraudVectors(ctx context.Context, key string, limit int) ([][]float32, error) {
	if err := engLimit(limit); err != nil {
		return nil, err
	}
	rows, err := f.pool.Query(ctx, `select id, vector from fraud_vectors where key = $1 order by id desc limit $2`,
		key, limit)
	if err != nil {
		return nil, engWrap("fraud vectors", err)
	}
	defer rows.Close()
	var out [][]float32
	for rows.Next() {
		var id int64
		var enc []byte
		if err := rows.Scan(&id, &enc); err != nil {
			return nil, engWrap("fraud vectors", err)
		}
		v, err := DecodeVector(enc)
		if err != nil {
			return nil, fmt.Errorf("persistence: fraud vector %d: %w", id, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, engWrap("fraud vectors", err)
	}
	return out, nil
}
