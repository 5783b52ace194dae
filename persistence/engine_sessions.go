package persistence

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sessions stores the engine's side of a behavioral session: its decisions (each with the feature vector of the
// sample it answered), its last snapshot and its end summary. The sessions rows themselves are created by the
// accounts store on MPIN verify. Writes come in batches from the engine's write-behind and are idempotent.
type Sessions struct {
	pool        *pgxpool.Pool
	chunksTyped atomic.Bool // decision_chunks' column types were found as engCopyChunks encodes them
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
	// Reasons are short codes ("keystroke_timing_close"): each non-empty valid UTF-8 without ReasonSeparator.
	Reasons   []string
	LatencyUS int
	// VectorKey and Vector are the feature vector of the sample this decision answered, stored in the decision's
	// row so that fraud feedback can find it later (SampleVectors); both empty when there was none (an
	// incomplete sample, an expired challenge). VectorKey is the field or modality key ("kf:payee", "pointer").
	// The vector is derived data: no raw key code or event is in it.
	VectorKey string
	Vector    []float32
}

// ReasonSeparator joins a decision's reasons into one text parameter per row on write (splitting it in Postgres
// is cheaper than decoding a JSON array per row), so a reason code may not contain it.
const ReasonSeparator = "\x1f"

// SampleVector is the feature vector of one sample, as SampleVectors reads it from the decision that answered it.
type SampleVector struct {
	SessionID string
	// Seq is the seq of the decision that answered the sample.
	Seq int64
	// Key is the field or modality key ("kf:payee", "pointer").
	Key    string
	Vector []float32
	At     time.Time
}

// WriteBatch is what the engine's write-behind flushes at once: decisions (with their sample vectors) and
// snapshots of any number of sessions.
type WriteBatch struct {
	Decisions []Decision
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

// The batch's first statement: it returns the sessions that exist and locks them `for key share` until the batch
// commits, so that none of them can be deleted (which deletes its decisions, see migrations 003 and 004) between
// the existence check and the commit. decision_chunks has no foreign key to sessions (its trigger would cost a
// query per row); this lock, taken once per session per batch, is what keeps a decision from outliving its
// session.
const sqlLockSessions = `select id from sessions where id = any($1::uuid[]) for key share`

// Batches writing decisions of one session run one at a time: each takes a transaction-level advisory lock per
// session (in the ascending order of $2, so that two batches cannot deadlock) before reading the session's stored
// chunks, and holds it until it commits. Without it two batches (a retry racing the original, or two activations
// of the session on different nodes) could both miss each other's chunks and store overlapping ones. A lock key is
// the session id's first four bytes: two sessions that share them only wait for each other.
const sqlLockWriters = `select pg_advisory_xact_lock($1::int, k) from unnest($2::int[]) k`

// sqlAdvisoryClass is the first key of the writers' advisory locks (the two-key form, which never collides with
// the one-key locks that migrations take).
const sqlAdvisoryClass = 4004

// The stored chunks that hold any seq from $2 to $3 of each session of $1 (its lowest and highest seq in the
// batch): the chunk holding or preceding $2 (found by one probe of the primary key; a session's chunks do not
// overlap) and those after it up to $3. A batch of new decisions finds one chunk (the last one, which ends before
// them) per session; a retry finds the chunks it wrote before.
const sqlStoredChunks = `
select s.id, c.first_seq, c.last_seq from unnest($1::uuid[], $2::bigint[], $3::bigint[]) s(id, lo, hi)
cross join lateral (select first_seq, last_seq from decision_chunks
	where session_id = s.id and first_seq <= s.hi and first_seq >= coalesce((select p.first_seq
		from decision_chunks p where p.session_id = s.id and p.first_seq <= s.lo order by p.first_seq desc limit 1),
		s.lo)) c
where c.last_seq >= s.lo
order by s.id, c.first_seq`

// sqlCopyChunks writes chunks as a binary COPY stream (engCopyChunks): Postgres receives every chunk's arrays as
// they are stored, and the stream goes through pgx in pieces of a pooled buffer (an INSERT's bind message of a
// flush's chunks, some hundreds of kB, was half of the node's allocated bytes). COPY cannot skip a row that
// conflicts, and none can: a chunk starts at a seq the batch found unstored, read under the sessions' advisory
// locks, which keep every other writer of those sessions out until commit.
var sqlCopyChunks = "copy decision_chunks (" + strings.Join(engChunkNames[:], ", ") + ") from stdin (format binary)"

// sqlChunkTypes reads the types of sqlCopyChunks' columns, in its order.
const sqlChunkTypes = `
select a.atttypid::bigint from unnest($1::text[]) with ordinality c(name, n)
left join pg_attribute a on a.attrelid = 'decision_chunks'::regclass and a.attname = c.name and not a.attisdropped
order by c.n`

// engChunkNames are sqlCopyChunks' columns, in the order engCopyChunks writes them (and engChunkOIDs types them).
var engChunkNames = [engChunkColumns]string{"session_id", "first_seq", "last_seq", "event_seqs", "ats", "actions", "risks", "modes",
	"fields", "modalities", "statuses", "sample_risks", "reasons", "latencies", "vector_keys", "vectors"}

// engChunkColumns is the number of columns of a chunk in sqlCopyChunks.
const engChunkColumns = 16

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

// Write stores a batch in one transaction: it locks the batch's sessions and reads which of the batch's decision
// seqs they have stored, then stores each session's other decisions as chunks (one per contiguous run of seqs)
// and the snapshots, and commits: six round trips (seven on a store's first write, which checks the chunks'
// column types). A decision whose seq is stored already is not written again:
// the stored one is what the client was sent (this makes retrying a batch after a timeout safe, alone or merged
// with newer decisions, and keeps a stale writer's decisions from replacing the first writer's). Of two decisions
// of one session with the same seq in a batch, the first is kept. Each snapshot is written only if it is newer
// than the stored one. Rows of sessions that no longer exist are dropped and reported in Gone; refused snapshots
// are reported in Stale. A row that breaks the store's rules (see Decision.Validate) fails the batch with an error
// wrapping ErrInvalid before anything is sent. An error means nothing was written.
func (s *Sessions) Write(ctx context.Context, w WriteBatch) (WriteResult, error) {
	var res WriteResult
	ids, byID, err := engSessionIDs(w)
	if err != nil {
		return res, err
	}
	if len(ids) == 0 {
		return res, nil
	}
	for i := range w.Decisions {
		if err := w.Decisions[i].validateFields(); err != nil { // ids: engSessionIDs
			return res, err
		}
	}
	for i := range w.Snapshots {
		if err := w.Snapshots[i].Validate(); err != nil {
			return res, err
		}
	}
	// Read committed, whatever the server's default: each statement must see the commits of the writers the
	// advisory locks waited for (the chunks' COPY relies on it to meet no stored seq).
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return res, engWrap("write batch: begin", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it does nothing; on failure the error is Write's

	// Round trip 2: lock, serialize and read what is stored. Each statement of a pipeline runs with its own
	// snapshot, so the stored chunks are read after the advisory locks are held and see every earlier batch.
	live := make(map[[16]byte]bool, len(ids))
	stored := make(map[[16]byte][][2]int64, len(ids))
	b := &pgx.Batch{}
	b.Queue(sqlLockSessions, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id pgtype.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			live[id.Bytes] = true
		}
		return rows.Err()
	})
	if len(w.Decisions) > 0 {
		b.Queue(sqlLockWriters, sqlAdvisoryClass, engLockKeys(ids))
		los, his := engSeqBounds(w.Decisions, ids, byID)
		b.Queue(sqlStoredChunks, ids, los, his).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id pgtype.UUID
				var r [2]int64
				if err := rows.Scan(&id, &r[0], &r[1]); err != nil {
					return err
				}
				stored[id.Bytes] = append(stored[id.Bytes], r)
			}
			return rows.Err()
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return res, engWrap("write batch: lock", err)
	}
	gone := map[string]bool{}
	for _, id := range ids {
		if !live[id.Bytes] {
			canon := id.String()
			res.Gone = append(res.Gone, canon)
			gone[canon] = true
		}
	}

	// Round trips 3 and 4: the chunks (a COPY: its start, then its data). Round trip 5: the
	// snapshots.
	if err := s.checkChunkTypes(ctx, tx); err != nil {
		return WriteResult{}, err
	}
	bp := engCopyBufs.Get().(*[]byte)
	stream := engChunks((*bp)[:0], w.Decisions, byID, live, stored)
	if stream != nil {
		err = engExecChunks(ctx, tx, stream)
	}
	// Back to the pool only after a clean COPY: pgx can return from a failed one while its copying goroutine
	// still reads the stream.
	switch {
	case stream == nil:
		engCopyBufs.Put(bp)
	case err == nil && cap(stream) <= engKeepCopyBuf:
		*bp = stream[:0]
		engCopyBufs.Put(bp)
	}
	if err != nil {
		return WriteResult{}, engWrap("write batch: chunks", err)
	}
	b = &pgx.Batch{}
	for _, sn := range w.Snapshots {
		data := sn.Data
		if data == nil {
			data = []byte{}
		}
		id := sn.SessionID
		canon := byID[id] // validated by engSessionIDs
		b.Queue(sqlSaveSnapshot, canon, sn.Version, sn.LastSeq, sn.State, sn.Risk, sn.Events, sn.Samples,
			sn.Decisions, data)
		b.Queue(sqlSnapshotStored, canon, sn.Version, data).QueryRow(func(row pgx.Row) error {
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
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return WriteResult{}, engWrap("write batch", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return WriteResult{}, engWrap("write batch: commit", err)
	}
	return res, nil
}

// engSeqBounds returns the lowest and the highest decision seq of ds of each session of ids (0 and 0 for a
// session without decisions).
func engSeqBounds(ds []Decision, ids []pgtype.UUID, byID map[string]pgtype.UUID) (los, his []int64) {
	at := make(map[[16]byte]int, len(ids))
	for i, id := range ids {
		at[id.Bytes] = i
	}
	los, his = make([]int64, len(ids)), make([]int64, len(ids))
	for i := range ds {
		k := at[byID[ds[i].SessionID].Bytes]
		if los[k] == 0 || ds[i].Seq < los[k] {
			los[k] = ds[i].Seq
		}
		his[k] = max(his[k], ds[i].Seq)
	}
	return los, his
}

// engLockKeys returns the advisory lock keys of ids (see sqlLockWriters), ascending and each once.
func engLockKeys(ids []pgtype.UUID) []int32 {
	keys := make([]int32, 0, len(ids))
	for _, id := range ids {
		keys = append(keys, int32(binary.BigEndian.Uint32(id.Bytes[:4])))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// engSessionIDs validates the session ids of w and returns them, each once, as uuids, and the uuid of each id as
// given.
func engSessionIDs(w WriteBatch) ([]pgtype.UUID, map[string]pgtype.UUID, error) {
	byID := map[string]pgtype.UUID{}
	var ids []pgtype.UUID
	add := func(id string) error {
		if _, ok := byID[id]; ok {
			return nil
		}
		u, err := engUUID("session id", id)
		if err != nil {
			return fmt.Errorf("%w (%w)", err, ErrInvalid)
		}
		byID[id] = u
		ids = append(ids, u)
		return nil
	}
	for _, d := range w.Decisions {
		if err := add(d.SessionID); err != nil {
			return nil, nil, err
		}
	}
	for _, sn := range w.Snapshots {
		if err := add(sn.SessionID); err != nil {
			return nil, nil, err
		}
	}
	return ids, byID, nil
}

// engChunks appends to buf the COPY stream of the chunks to write of ds (validated), or returns nil when there are
// none: the decisions of live sessions whose seq is not in a stored chunk (stored: each session's, ascending), the
// first of each seq, grouped by session and cut into runs of consecutive seqs, one chunk each. A run never spans a
// stored chunk, whose seqs are not in it.
func engChunks(buf []byte, ds []Decision, byID map[string]pgtype.UUID, live map[[16]byte]bool,
	stored map[[16]byte][][2]int64) []byte {
	// The decisions to write, by session (in the order sessions first appear), then by seq, then in the order
	// given, so that of equal seqs the first given comes first. Each decision's session is looked up once: a
	// comparison reads only its key.
	type key struct {
		rank int
		seq  int64
		i    int
	}
	keys := make([]key, 0, len(ds))
	rank := make(map[[16]byte]int, len(byID))
	for i := range ds {
		u := byID[ds[i].SessionID].Bytes
		if !live[u] || engStored(stored[u], ds[i].Seq) {
			continue
		}
		r, ok := rank[u]
		if !ok {
			r = len(rank)
			rank[u] = r
		}
		keys = append(keys, key{rank: r, seq: ds[i].Seq, i: i})
	}
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	// Drop repeated seqs (the first stays); a chunk ends where the session changes or a seq is skipped.
	order := make([]int, 0, len(keys))
	cuts := make([]int, 0, len(rank))
	for j, k := range keys {
		if j > 0 {
			p := keys[j-1]
			if p.rank == k.rank && p.seq == k.seq {
				continue
			}
			if p.rank != k.rank || p.seq+1 != k.seq {
				cuts = append(cuts, len(order))
			}
		}
		order = append(order, k.i)
	}
	cuts = append(cuts, len(order))
	return engCopyChunks(buf, ds, order, cuts, func(d *Decision) [16]byte { return byID[d.SessionID].Bytes })
}

// checkChunkTypes makes sure, once, that decision_chunks' columns have the types engCopyChunks encodes: binary COPY
// takes every value as the column's own type, and a schema this code does not know must fail with a clear error.
func (s *Sessions) checkChunkTypes(ctx context.Context, tx pgx.Tx) error {
	if s.chunksTyped.Load() {
		return nil
	}
	rows, err := tx.Query(ctx, sqlChunkTypes, engChunkNames[:])
	if err != nil {
		return engWrap("write batch: chunk column types", err)
	}
	types, err := pgx.CollectRows(rows, pgx.RowTo[*int64])
	if err != nil {
		return engWrap("write batch: chunk column types", err)
	}
	for i, t := range types {
		if t == nil || uint32(*t) != engChunkOIDs[i] {
			return fmt.Errorf("persistence: decision_chunks.%s is not of type %d, as written", engChunkNames[i],
				engChunkOIDs[i])
		}
	}
	s.chunksTyped.Store(true)
	return nil
}

// engStorableText reports whether Postgres can store s as text: valid UTF-8 without NUL.
func engStorableText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// engStored reports whether seq is in one of the ascending, disjoint ranges.
func engStored(ranges [][2]int64, seq int64) bool {
	i, _ := slices.BinarySearchFunc(ranges, seq, func(r [2]int64, seq int64) int { return cmp.Compare(r[1], seq) })
	return i < len(ranges) && ranges[i][0] <= seq
}

// Validate reports why Write would refuse d (wrapping ErrInvalid), or nil.
func (d *Decision) Validate() error {
	if _, err := engUUID("session id", d.SessionID); err != nil {
		return fmt.Errorf("%w (%w)", err, ErrInvalid)
	}
	return d.validateFields()
}

// validateFields is Validate without the session id, which Write checks once per session (parsing it per
// decision was a fifth of the write-behind's allocations).
func (d *Decision) validateFields() error {
	if d.Seq < 1 {
		return fmt.Errorf("persistence: decision of %s: seq %d, want >= 1: %w", d.SessionID, d.Seq, ErrInvalid)
	}
	if math.IsNaN(d.Risk) || d.Risk < 0 || d.Risk > 1 {
		return fmt.Errorf("persistence: decision %d of %s: risk %v outside [0, 1]: %w", d.Seq, d.SessionID, d.Risk,
			ErrInvalid)
	}
	if d.SampleRisk != nil && (math.IsNaN(*d.SampleRisk) || *d.SampleRisk < 0 || *d.SampleRisk > 1) {
		return fmt.Errorf("persistence: decision %d of %s: sample risk %v outside [0, 1]: %w",
			d.Seq, d.SessionID, *d.SampleRisk, ErrInvalid)
	}
	if d.LatencyUS < 0 || d.LatencyUS > math.MaxInt32 {
		return fmt.Errorf("persistence: decision %d of %s: latency %dus out of range: %w",
			d.Seq, d.SessionID, d.LatencyUS, ErrInvalid)
	}
	// What the table's checks (and Postgres's text type) would refuse is refused here, so that the write-behind
	// drops the row instead of retrying a batch that can never be written.
	if d.EventSeq < 0 {
		return fmt.Errorf("persistence: decision %d of %s: event seq %d, want >= 0: %w", d.Seq, d.SessionID,
			d.EventSeq, ErrInvalid)
	}
	switch d.Action {
	case "allow", "challenge", "block":
	default:
		return fmt.Errorf("persistence: decision %d of %s: action %q, want allow, challenge or block: %w",
			d.Seq, d.SessionID, d.Action, ErrInvalid)
	}
	for _, f := range []string{d.Mode, d.Field, d.Modality, d.Status, d.VectorKey} {
		if !engStorableText(f) {
			return fmt.Errorf("persistence: decision %d of %s: %q is not UTF-8 or holds NUL: %w", d.Seq,
				d.SessionID, f, ErrInvalid)
		}
	}
	for _, r := range d.Reasons {
		if r == "" || strings.Contains(r, ReasonSeparator) || !engStorableText(r) {
			return fmt.Errorf("persistence: decision %d of %s: reason %q is empty, not UTF-8 or holds the "+
				"separator: %w", d.Seq, d.SessionID, r, ErrInvalid)
		}
	}
	switch {
	case d.VectorKey != "":
		if err := engCheckVector(d.Vector); err != nil {
			return fmt.Errorf("persistence: decision %d of %s: vector %q: %w (%w)",
				d.Seq, d.SessionID, d.VectorKey, err, ErrInvalid)
		}
	case len(d.Vector) > 0:
		return fmt.Errorf("persistence: decision %d of %s: a vector without a key: %w", d.Seq, d.SessionID,
			ErrInvalid)
	}
	return nil
}

// Validate reports why Write would refuse sn (wrapping ErrInvalid), or nil.
func (sn *Snapshot) Validate() error {
	if _, err := engUUID("session id", sn.SessionID); err != nil {
		return fmt.Errorf("%w (%w)", err, ErrInvalid)
	}
	if math.IsNaN(sn.Risk) || sn.Risk < 0 || sn.Risk > 1 {
		return fmt.Errorf("persistence: snapshot of %s: risk %v outside [0, 1]: %w", sn.SessionID, sn.Risk, ErrInvalid)
	}
	if sn.Version < 1 {
		return fmt.Errorf("persistence: snapshot of %s: version %d, want >= 1: %w", sn.SessionID, sn.Version,
			ErrInvalid)
	}
	return nil
}

// AppendDecisions stores decisions (with their sample vectors) of any number of sessions in one transaction; a
// decision already stored (same session and seq) keeps its first row, so retrying is safe. If some sessions no
// longer exist, the other rows are written and the error wraps ErrNotFound. A vector that is empty, too long or
// not finite is refused with ErrInvalidVector, and nothing is written.
func (s *Sessions) AppendDecisions(ctx context.Context, ds []Decision) error {
	res, err := s.Write(ctx, WriteBatch{Decisions: ds})
	if err != nil {
		return err
	}
	return engGoneErr("append decisions", res.Gone)
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

// The decisions of chunk c, one row each with the columns of the view decisions (migration 004).
const sqlUnnestChunk = `lateral (select c.session_id, c.first_seq + u.n - 1 as seq, u.event_seq, u.at, u.action,
	u.risk, u.mode, u.field, u.modality, u.status, u.sample_risk, string_to_array(u.reasons, E'\x1f') as reasons,
	u.latency_us, u.vector_key, u.vector
	from unnest(c.event_seqs, c.ats, c.actions, c.risks, c.modes, c.fields, c.modalities, c.statuses,
		c.sample_risks, c.reasons, c.latencies, c.vector_keys, c.vectors) with ordinality
		as u(event_seq, at, action, risk, mode, field, modality, status, sample_risk, reasons, latency_us,
			vector_key, vector, n)) d`

const sqlDecisionColumns = `session_id::text, seq, event_seq, at, action, risk, mode, field, modality, status,
	sample_risk, reasons, latency_us, coalesce(vector_key, ''), vector`

func engScanDecisions(rows pgx.Rows) ([]Decision, error) {
	defer rows.Close()
	var out []Decision
	for rows.Next() {
		var d Decision
		var lat int32
		var vec []byte
		if err := rows.Scan(&d.SessionID, &d.Seq, &d.EventSeq, &d.At, &d.Action, &d.Risk, &d.Mode, &d.Field,
			&d.Modality, &d.Status, &d.SampleRisk, &d.Reasons, &lat, &d.VectorKey, &vec); err != nil {
			return nil, err
		}
		d.LatencyUS = int(lat)
		if vec != nil {
			v, err := DecodeVector(vec)
			if err != nil {
				return nil, fmt.Errorf("decision %d of %s: vector %q: %w", d.Seq, d.SessionID, d.VectorKey, err)
			}
			d.Vector = v
		}
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
	// The last limit chunks hold at least the last limit decisions (a chunk holds one or more): only those are
	// unnested, however long the session.
	rows, err := s.pool.Query(ctx, `select `+sqlDecisionColumns+` from (
		select d.* from (select * from decision_chunks where session_id = $1 order by first_seq desc limit $2) c,
			`+sqlUnnestChunk+`
		order by seq desc limit $2) d order by seq`, id, limit)
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

// SampleVectors returns the sample vectors of a session in decision order (from the decisions that carry one), or
// only the one answered by decision *decisionSeq when it is not nil (none for an unknown session or decision, or a
// decision that answered no sample).
func (s *Sessions) SampleVectors(ctx context.Context, sessionID string, decisionSeq *int64) ([]SampleVector, error) {
	id, err := engUUID("session id", sessionID)
	if err != nil {
		return nil, err
	}
	var rows pgx.Rows
	if decisionSeq == nil {
		rows, err = s.pool.Query(ctx, `select c.first_seq + u.n - 1, u.vector_key, u.vector, u.at
			from decision_chunks c, unnest(c.vector_keys, c.vectors, c.ats) with ordinality u(vector_key, vector, at, n)
			where c.session_id = $1 and u.vector is not null order by c.first_seq, u.n`, id)
	} else {
		// Only the chunk that holds the decision (the last one starting at or before it; chunks do not overlap),
		// and only its element.
		rows, err = s.pool.Query(ctx, `select $2::bigint, c.vector_keys[$2 - c.first_seq + 1],
				c.vectors[$2 - c.first_seq + 1], c.ats[$2 - c.first_seq + 1]
			from (select * from decision_chunks where session_id = $1 and first_seq <= $2
				order by first_seq desc limit 1) c
			where c.last_seq >= $2 and c.vectors[$2 - c.first_seq + 1] is not null`, id, *decisionSeq)
	}
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
		// no key update: End changes no key, and so does not wait for (or hold up) write-behind batches, which
		// lock their sessions for key share.
		err := tx.QueryRow(ctx, `select ended_at, coalesce(end_reason, ''), summary from sessions
			where id = $1 for no key update`, id).Scan(&endedAt, &endReason, &stored)
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
