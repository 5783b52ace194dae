package persistence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sessions stores the engine's side of a behavioral session: its decisions, its last snapshot, the feature vectors
// of its samples and its end summary. The sessions rows themselves are created by the accounts store on MPIN
// verify. Writes come in batches from the engine's write-behind and are idempotent.
type Sessions struct {
	pool *pgxpool.Pool
}

// NewSessions returns a Sessions store on pool.
func NewSessions(pool *pgxpool.Pool) *Sessions {
	return &Sessions{pool: pool}
}

// Session is a behavioral session's row, with the head of its last snapshot (zero values while it has none).
type Session struct {
	ID        string
	UserID    string
	LoginID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	// EndedAt is nil while the session lives.
	EndedAt *time.Time
	// EndReason is "" while the session lives.
	EndReason string
	// Summary is the one End stored, nil before.
	Summary *Summary

	// SnapshotVersion is the version of the last snapshot, 0 when none was saved.
	SnapshotVersion int64
	// State, Risk and the counts come from the last snapshot.
	State     string
	Risk      float64
	Events    int64
	Samples   int64
	Decisions int64
}

// Summary is what a session amounted to, stored once when it ends (as jsonb in sessions.summary).
type Summary struct {
	SessionID string    `json:"session_id"`
	Events    int64     `json:"events"`
	Samples   int64     `json:"samples"`
	Decisions int64     `json:"decisions"`
	FinalRisk float64   `json:"final_risk"`
	EndedAt   time.Time `json:"ended_at"`
	Reason    string    `json:"reason"`
}

// Snapshot is a session actor's saved state: the opaque encoding of its window (Data) and, beside it, the
// figures an operator or a reconnect needs without decoding it.
type Snapshot struct {
	SessionID string
	// Version grows with every snapshot of the session; a save whose version is not newer than the stored one
	// is refused.
	Version int64
	// LastSeq is the last client `events` seq applied, so a resent message is not applied twice.
	LastSeq int64
	// State is the session state (active, challenged, blocked, ended).
	State string
	// Risk is the fused session risk in [0, 1], stored as real (float32 precision).
	Risk      float64
	Events    int64
	Samples   int64
	Decisions int64
	// Data is the encoded window; the store does not look inside.
	Data []byte
	// UpdatedAt is set by the store when the snapshot is written.
	UpdatedAt time.Time
}

// Decision is one decision sent to the client.
type Decision struct {
	SessionID string
	// Seq numbers the session's decisions from 1.
	Seq int64
	// EventSeq is the client `events` message seq that completed the sample.
	EventSeq int64
	At       time.Time
	// Action is allow, challenge or block.
	Action string
	// Risk is the session's fused risk in [0, 1] after this decision, stored as real (float32 precision).
	Risk float64
	// Mode is enrolling, scoring or degraded.
	Mode     string
	Field    string
	Modality string
	// Status is the sample's status: enrolled, scored or rejected.
	Status string
	// SampleRisk is the sample's own score in [0, 1], nil when the sample was enrolled.
	SampleRisk *float64
	Reasons    []string
	LatencyUS  int
}

// SampleVector is the feature vector of one sample, stored by the decision that answered it so that fraud
// feedback can find it later. It is derived data: no raw key code or event is in it.
type SampleVector struct {
	SessionID string
	// Seq is the seq of the decision that answered the sample.
	Seq int64
	// Key is the field or modality key ("kf:payee", "pointer").
	Key    string
	Vector []float32
	At     time.Time
}

// WriteBatch is what the engine's write-behind flushes at once: decisions, sample vectors and snapshots of any
// number of sessions.
type WriteBatch struct {
	Decisions []Decision
	Vectors   []SampleVector
	Snapshots []Snapshot
}

// WriteResult tells what a Write did not write.
type WriteResult struct {
	// Stale lists the sessions whose snapshot was refused because a newer one is stored: another activation of
	// the session has moved on, and this one should stop.
	Stale []string
	// Gone lists the sessions that no longer exist (deleted with their user); their rows were dropped.
	Gone []string
}

const sqlGoneSessions = `
select coalesce(array_agg(x::text), '{}') from unnest($1::uuid[]) as x
where not exists (select 1 from sessions s where s.id = x)`

// A decision seq already stored keeps its first row: that is the one the client was sent. Reasons travel as one
// JSON array per row, since unnest cannot take a ragged text[][].
const sqlInsertDecisions = `
insert into decisions (session_id, seq, event_seq, at, action, risk, mode, field, modality, status, sample_risk,
	reasons, latency_us)
select d.session_id, d.seq, d.event_seq, d.at, d.action, d.risk, d.mode, d.field, d.modality, d.status,
	d.sample_risk, array(select jsonb_array_elements_text(d.reasons::jsonb)), d.latency_us
from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::real[], $7::text[],
	$8::text[], $9::text[], $10::text[], $11::real[], $12::text[], $13::int[])
	as d(session_id, seq, event_seq, at, action, risk, mode, field, modality, status, sample_risk, reasons,
		latency_us)
where exists (select 1 from sessions s where s.id = d.session_id)
on conflict (session_id, seq) do nothing`

const sqlInsertSampleVectors = `
insert into session_vectors (session_id, seq, key, dim, vector, at)
select v.session_id, v.seq, v.key, v.dim, v.vector, v.at
from unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::bytea[], $6::timestamptz[])
	as v(session_id, seq, key, dim, vector, at)
where exists (select 1 from sessions s where s.id = v.session_id)
on conflict (session_id, seq, key) do nothing`

const sqlSaveSnapshot = `
insert into session_snapshots as n (session_id, version, last_seq, state, risk, events, samples, decisions,
	snapshot, updated_at)
select $1::uuid, $2::bigint, $3::bigint, $4::text, $5::real, $6::bigint, $7::bigint, $8::bigint, $9::bytea, now()
where exists (select 1 from sessions s where s.id = $1::uuid)
on conflict (session_id) do update set version = excluded.version, last_seq = excluded.last_seq,
	state = excluded.state, risk = excluded.risk, events = excluded.events, samples = excluded.samples,
	decisions = excluded.decisions, snapshot = excluded.snapshot, updated_at = excluded.updated_at
where n.version < excluded.version`

// Run after the upsert as its own statement, so that it sees a concurrent writer's commit: the snapshot now
// stored is this one (written here, or by a retry racing it) or the save was stale.
const sqlSnapshotStored = `
select coalesce((select n.version = $2::bigint and n.snapshot = $3::bytea from session_snapshots n
	where n.session_id = $1::uuid), false)`

// Write stores a batch in one round trip and one transaction: decisions and sample vectors already stored are
// kept as they are, and each snapshot is written only if it is newer than the stored one. Retrying a batch after
// a timeout is safe. Rows of sessions that no longer exist are dropped and reported in Gone; refused snapshots
// are reported in Stale. An error means nothing was written.
func (s *Sessions) Write(ctx context.Context, w WriteBatch) (WriteResult, error) {
	var res WriteResult
	b := &pgx.Batch{}
	ids, err := engSessionIDs(w)
	if err != nil {
		return res, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	gone := map[string]bool{}
	b.Queue(sqlGoneSessions, ids).QueryRow(func(row pgx.Row) error {
		if err := row.Scan(&res.Gone); err != nil {
			return err
		}
		for _, id := range res.Gone {
			gone[id] = true
		}
		return nil
	})
	if err := engQueueDecisions(b, w.Decisions); err != nil {
		return res, err
	}
	if err := engQueueSampleVectors(b, w.Vectors); err != nil {
		return res, err
	}
	for _, sn := range w.Snapshots {
		if math.IsNaN(sn.Risk) || sn.Risk < 0 || sn.Risk > 1 {
			return res, fmt.Errorf("persistence: snapshot of %s: risk %v outside [0, 1]", sn.SessionID, sn.Risk)
		}
		if sn.Version < 1 {
			return res, fmt.Errorf("persistence: snapshot of %s: version %d, want >= 1", sn.SessionID, sn.Version)
		}
		data := sn.Data
		if data == nil {
			data = []byte{}
		}
		id := sn.SessionID
		canon, _ := engUUID("session id", id) // validated by engSessionIDs
		b.Queue(sqlSaveSnapshot, id, sn.Version, sn.LastSeq, sn.State, sn.Risk, sn.Events, sn.Samples,
			sn.Decisions, data)
		b.Queue(sqlSnapshotStored, id, sn.Version, data).QueryRow(func(row pgx.Row) error {
			var stored bool
			if err := row.Scan(&stored); err != nil {
				return err
			}
			if !stored && !gone[canon.String()] {
				res.Stale = append(res.Stale, id)
			}
			return nil
		})
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return WriteResult{}, engWrap("write batch", err)
	}
	return res, nil
}

// engSessionIDs validates the session ids of w and returns them, each once, as uuids.
func engSessionIDs(w WriteBatch) ([]pgtype.UUID, error) {
	seen := map[string]bool{}
	var ids []pgtype.UUID
	add := func(id string) error {
		if seen[id] {
			return nil
		}
		u, err := engUUID("session id", id)
		if err != nil {
			return err
		}
		seen[id] = true
		ids = append(ids, u)
		return nil
	}
	for _, d := range w.Decisions {
		if err := add(d.SessionID); err != nil {
			return nil, err
		}
	}
	for _, v := range w.Vectors {
		if err := add(v.SessionID); err != nil {
			return nil, err
		}
	}
	for _, sn := range w.Snapshots {
		if err := add(sn.SessionID); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func engQueueDecisions(b *pgx.Batch, ds []Decision) error {
	if len(ds) == 0 {
		return nil
	}
	n := len(ds)
	var (
		ids                                       = make([]string, n)
		seqs, eventSeqs                           = make([]int64, n), make([]int64, n)
		ats                                       = make([]time.Time, n)
		actions, modes, fields, modalities, stats = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		risks                                     = make([]float64, n)
		sampleRisks                               = make([]*float64, n)
		reasons                                   = make([]string, n)
		latencies                                 = make([]int32, n)
	)
	for i, d := range ds {
		if d.Seq < 1 {
			return fmt.Errorf("persistence: decision of %s: seq %d, want >= 1", d.SessionID, d.Seq)
		}
		if math.IsNaN(d.Risk) || d.Risk < 0 || d.Risk > 1 {
			return fmt.Errorf("persistence: decision %d of %s: risk %v outside [0, 1]", d.Seq, d.SessionID, d.Risk)
		}
		if d.SampleRisk != nil && (math.IsNaN(*d.SampleRisk) || *d.SampleRisk < 0 || *d.SampleRisk > 1) {
			return fmt.Errorf("persistence: decision %d of %s: sample risk %v outside [0, 1]",
				d.Seq, d.SessionID, *d.SampleRisk)
		}
		if d.LatencyUS < 0 || d.LatencyUS > math.MaxInt32 {
			return fmt.Errorf("persistence: decision %d of %s: latency %dus out of range",
				d.Seq, d.SessionID, d.LatencyUS)
		}
		rs := d.Reasons
		if rs == nil {
			rs = []string{}
		}
		js, err := json.Marshal(rs)
		if err != nil {
			return fmt.Errorf("persistence: decision %d of %s: reasons: %w", d.Seq, d.SessionID, err)
		}
		ids[i], seqs[i], eventSeqs[i], ats[i] = d.SessionID, d.Seq, d.EventSeq, d.At
		actions[i], modes[i], fields[i], modalities[i], stats[i] = d.Action, d.Mode, d.Field, d.Modality, d.Status
		risks[i], sampleRisks[i], reasons[i], latencies[i] = d.Risk, d.SampleRisk, string(js), int32(d.LatencyUS)
	}
	b.Queue(sqlInsertDecisions, ids, seqs, eventSeqs, ats, actions, risks, modes, fields, modalities, stats,
		sampleRisks, reasons, latencies)
	return nil
}

func engQueueSampleVectors(b *pgx.Batch, vs []SampleVector) error {
	if len(vs) == 0 {
		return nil
	}
	ids := make([]string, len(vs))
	seqs := make([]int64, len(vs))
	keys := make([]string, len(vs))
	dims := make([]int32, len(vs))
	vecs := make([][]byte, len(vs))
	ats := make([]time.Time, len(vs))
	for i, v := range vs {
		if v.Seq < 1 {
			return fmt.Errorf("persistence: sample vector of %s: seq %d, want >= 1", v.SessionID, v.Seq)
		}
		if v.Key == "" {
			return fmt.Errorf("persistence: sample vector %d of %s: empty key", v.Seq, v.SessionID)
		}
		enc, err := EncodeVector(v.Vector)
		if err != nil {
			return fmt.Errorf("persistence: sample vector %d %q of %s: %w", v.Seq, v.Key, v.SessionID, err)
		}
		ids[i], seqs[i], keys[i], dims[i], vecs[i], ats[i] = v.SessionID, v.Seq, v.Key, int32(len(v.Vector)), enc, v.At
	}
	b.Queue(sqlInsertSampleVectors, ids, seqs, keys, dims, vecs, ats)
	return nil
}

// AppendDecisions stores decisions of any number of sessions in one round trip; a decision already stored (same
// session and seq) keeps its first row, so retrying is safe. If some sessions no longer exist, the other rows are
// written and the error wraps ErrNotFound.
func (s *Sessions) AppendDecisions(ctx context.Context, ds []Decision) error {
	res, err := s.Write(ctx, WriteBatch{Decisions: ds})
	if err != nil {
		return err
	}
	return engGoneErr("append decisions", res.Gone)
}

// AppendSampleVectors stores sample feature vectors in one statement; a vector already stored (same session,
// decision seq and key) is kept, so retrying is safe. If some sessions no longer exist, the other rows are written
// and the error wraps ErrNotFound. A vector that is empty or not finite is refused with ErrInvalidVector.
func (s *Sessions) AppendSampleVectors(ctx context.Context, vs []SampleVector) error {
	res, err := s.Write(ctx, WriteBatch{Vectors: vs})
	if err != nil {
		return err
	}
	return engGoneErr("append sample vectors", res.Gone)
}

// SaveSnapshot stores sn if its version is newer than the stored snapshot's. Saving the stored snapshot again
// (same version and data, a retry) succeeds; a stale one gives ErrConflict, an unknown session ErrNotFound.
func (s *Sessions) SaveSnapshot(ctx context.Context, sn Snapshot) error {
	res, err := s.Write(ctx, WriteBatch{Snapshots: []Snapshot{sn}})
	if err != nil {
		return err
	}
	if err := engGoneErr("save snapshot", res.Gone); err != nil {
		return err
	}
	if len(res.Stale) > 0 {
		return fmt.Errorf("persistence: snapshot %d of %s is not newer than the stored one: %w",
			sn.Version, sn.SessionID, ErrConflict)
	}
	return nil
}

func engGoneErr(op string, gone []string) error {
	if len(gone) == 0 {
		return nil
	}
	return fmt.Errorf("persistence: %s: sessions %v: %w", op, gone, ErrNotFound)
}

// LoadSnapshot returns the last snapshot of a session, or ErrNotFound when none was saved.
func (s *Sessions) LoadSnapshot(ctx context.Context, sessionID string) (Snapshot, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return Snapshot{}, err
	}
	sn := Snapshot{SessionID: sessionID}
	err = s.pool.QueryRow(ctx, `
		select version, last_seq, state, risk, events, samples, decisions, snapshot, updated_at
		from session_snapshots where session_id = $1`, id).Scan(&sn.Version, &sn.LastSeq, &sn.State, &sn.Risk,
		&sn.Events, &sn.Samples, &sn.Decisions, &sn.Data, &sn.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Snapshot{}, fmt.Errorf("persistence: snapshot of %s: %w", sessionID, ErrNotFound)
	}
	if err != nil {
		return Snapshot{}, engWrap("load snapshot", err)
	}
	return sn, nil
}

const sqlDecisionColumns = `session_id::text, seq, event_seq, at, action, risk, mode, field, modality, status,
	sample_risk, reasons, latency_us`

func engScanDecisions(rows pgx.Rows) ([]Decision, error) {
	var out []Decision
	for rows.Next() {
		var d Decision
		var lat int32
		if err := rows.Scan(&d.SessionID, &d.Seq, &d.EventSeq, &d.At, &d.Action, &d.Risk, &d.Mode, &d.Field,
			&d.Modality, &d.Status, &d.SampleRisk, &d.Reasons, &lat); err != nil {
			rows.Close()
			return nil, err
		}
		d.LatencyUS = int(lat)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RecentDecisions returns the last limit decisions of a session, oldest first and newest last (none for an
// unknown session).
func (s *Sessions) RecentDecisions(ctx context.Context, sessionID string, limit int) ([]Decision, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return nil, err
	}
	if err := engLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `select `+sqlDecisionColumns+` from (
		select * from decisions where session_id = $1 order by seq desc limit $2) d order by seq`, id, limit)
	if err != nil {
		return nil, engWrap("recent decisions", err)
	}
	out, err := engScanDecisions(rows)
	if err != nil {
		return nil, engWrap("recent decisions", err)
	}
	return out, nil
}

// DecisionsForSession returns every decision of a session in order (none for an unknown session).
func (s *Sessions) DecisionsForSession(ctx context.Context, sessionID string) ([]Decision, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `select `+sqlDecisionColumns+` from decisions where session_id = $1
		order by seq`, id)
	if err != nil {
		return nil, engWrap("decisions for session", err)
	}
	out, err := engScanDecisions(rows)
	if err != nil {
		return nil, engWrap("decisions for session", err)
	}
	return out, nil
}

// SampleVectors returns the sample vectors of a session in decision order, or only those answered by decision
// *decisionSeq when it is not nil (none for an unknown session or decision).
func (s *Sessions) SampleVectors(ctx context.Context, sessionID string, decisionSeq *int64) ([]SampleVector, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `select seq, key, vector, at from session_vectors
		where session_id = $1 and ($2::bigint is null or seq = $2) order by seq, key`, id, decisionSeq)
	if err != nil {
		return nil, engWrap("sample vectors", err)
	}
	defer rows.Close()
	var out []SampleVector
	for rows.Next() {
		v := SampleVector{SessionID: sessionID}
		var enc []byte
		if err := rows.Scan(&v.Seq, &v.Key, &enc, &v.At); err != nil {
			return nil, engWrap("sample vectors", err)
		}
		if v.Vector, err = DecodeVector(enc); err != nil {
			return nil, fmt.Errorf("persistence: sample vector %d %q of %s: %w", v.Seq, v.Key, sessionID, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, engWrap("sample vectors", err)
	}
	return out, nil
}

const sqlSessionSelect = `
select s.id::text, s.user_id::text, s.login_id::text, s.created_at, s.expires_at, s.ended_at,
	coalesce(s.end_reason, ''), s.summary, coalesce(n.version, 0), coalesce(n.state, ''), coalesce(n.risk, 0),
	coalesce(n.events, 0), coalesce(n.samples, 0), coalesce(n.decisions, 0)
from sessions s left join session_snapshots n on n.session_id = s.id`

func engScanSession(row pgx.Row) (Session, error) {
	var ss Session
	var summary []byte
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.LoginID, &ss.CreatedAt, &ss.ExpiresAt, &ss.EndedAt, &ss.EndReason,
		&summary, &ss.SnapshotVersion, &ss.State, &ss.Risk, &ss.Events, &ss.Samples, &ss.Decisions); err != nil {
		return Session{}, err
	}
	if summary != nil {
		var sum Summary
		if err := json.Unmarshal(summary, &sum); err != nil {
			return Session{}, fmt.Errorf("summary of %s: %w", ss.ID, err)
		}
		ss.Summary = &sum
	}
	return ss, nil
}

// Get returns a session with the head of its last snapshot, or ErrNotFound.
func (s *Sessions) Get(ctx context.Context, id string) (Session, error) {
	u, err := engUUID("session id", id)
	if err != nil {
		return Session{}, err
	}
	ss, err := engScanSession(s.pool.QueryRow(ctx, sqlSessionSelect+` where s.id = $1`, u))
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, fmt.Errorf("persistence: session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Session{}, engWrap("get session", err)
	}
	return ss, nil
}

// ListLive returns up to limit sessions that have not ended and not expired, newest first, for operators.
func (s *Sessions) ListLive(ctx context.Context, limit int) ([]Session, error) {
	if err := engLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlSessionSelect+` where s.ended_at is null and s.expires_at > now()
		order by s.created_at desc, s.id limit $1`, limit)
	if err != nil {
		return nil, engWrap("list live sessions", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		ss, err := engScanSession(rows)
		if err != nil {
			return nil, engWrap("list live sessions", err)
		}
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, engWrap("list live sessions", err)
	}
	return out, nil
}

// End ends a session once: the first call stores ended_at, the reason and summary (with SessionID, Reason and,
// when zero, EndedAt filled in by the store) and returns it; every later call returns the stored summary
// unchanged, whatever it is given. A session already ended elsewhere (its login revoked) keeps that end time and
// reason and gets the summary. ErrNotFound for an unknown session.
func (s *Sessions) End(ctx context.Context, sessionID string, reason string, summary Summary) (Summary, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return Summary{}, err
	}
	if reason == "" {
		return Summary{}, fmt.Errorf("persistence: end session %s: empty reason", sessionID)
	}
	if math.IsNaN(summary.FinalRisk) || math.IsInf(summary.FinalRisk, 0) {
		return Summary{}, fmt.Errorf("persistence: end session %s: final risk %v", sessionID, summary.FinalRisk)
	}
	var out Summary
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var endedAt *time.Time
		var endReason string
		var stored []byte
		err := tx.QueryRow(ctx, `select ended_at, coalesce(end_reason, ''), summary from sessions
			where id = $1 for update`, id).Scan(&endedAt, &endReason, &stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("persistence: end session %s: %w", sessionID, ErrNotFound)
		}
		if err != nil {
			return engWrap("end session", err)
		}
		if stored != nil {
			if err := json.Unmarshal(stored, &out); err != nil {
				return fmt.Errorf("persistence: end session %s: stored summary: %w", sessionID, err)
			}
			return nil
		}
		out = summary
		out.SessionID = sessionID
		out.Reason = reason
		if endedAt != nil {
			out.EndedAt = *endedAt
			if endReason != "" {
				out.Reason = endReason
			}
		}
		if out.EndedAt.IsZero() {
			out.EndedAt = time.Now()
		}
		// Postgres keeps microseconds: round here so the column and the summary agree.
		out.EndedAt = out.EndedAt.UTC().Truncate(time.Microsecond)
		js, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("persistence: end session %s: %w", sessionID, err)
		}
		if _, err := tx.Exec(ctx, `update sessions set ended_at = $2, end_reason = $3, summary = $4 where id = $1`,
			id, out.EndedAt, out.Reason, js); err != nil {
			return engWrap("end session", err)
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	return out, nil
}
