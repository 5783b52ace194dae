package persistence_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// decisions has no foreign key to sessions (migration 003): deleting sessions, directly or with their user, deletes
// their decisions through a trigger, and a write for a deleted session drops its rows and reports it gone.
func TestDeleteSessionDeletesDecisions(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	// Another user's session, which no deletion below may touch.
	other := db.addUser(t)
	otherLogin, c := engRandomUUID(), engRandomUUID()
	db.exec(t, `insert into logins (id, user_id) values ($1, $2)`, otherLogin, other)
	db.exec(t, `insert into sessions (id, user_id, login_id, expires_at) values ($1, $2, $3, now() + interval '1h')`,
		c, other, otherLogin)

	var ds []persistence.Decision
	for _, id := range []string{a, b, c} {
		ds = append(ds, engDecision(id, 1), engDecision(id, 2), engDecision(id, 3))
	}
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	decisionsOf := func(id string) int {
		return db.count(t, `select count(*) from decisions where session_id = $1`, id)
	}

	db.exec(t, `delete from sessions where id = $1`, a)
	if n := decisionsOf(a); n != 0 {
		t.Fatalf("%d decisions of a deleted session", n)
	}
	if vs, err := s.SampleVectors(ctx, a, nil); err != nil || len(vs) != 0 {
		t.Fatalf("vectors of a deleted session: %+v, %v", vs, err)
	}
	if nb, nc := decisionsOf(b), decisionsOf(c); nb != 3 || nc != 3 {
		t.Fatalf("other sessions keep %d and %d decisions, want 3 and 3", nb, nc)
	}

	// The write-behind may still hold decisions of the deleted session: they are dropped and reported.
	res, err := s.Write(ctx, persistence.WriteBatch{Decisions: []persistence.Decision{engDecision(a, 4),
		engDecision(b, 4)}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Gone, []string{a}) {
		t.Fatalf("gone %v, want [%s]", res.Gone, a)
	}
	if na, nb := decisionsOf(a), decisionsOf(b); na != 0 || nb != 4 {
		t.Fatalf("after the write: %d decisions of the deleted session, %d of the live one; want 0 and 4", na, nb)
	}

	// Deleting the account cascades to its sessions, and from them to their decisions.
	db.exec(t, `delete from users where id = $1`, db.userID)
	if n := decisionsOf(b); n != 0 {
		t.Fatalf("%d decisions left of a deleted user's session", n)
	}
	if n := decisionsOf(c); n != 3 {
		t.Fatalf("another user's session keeps %d decisions, want 3", n)
	}

	// A session's id cannot change under its decisions.
	_, err = db.pool.Exec(ctx, `update sessions set id = $2 where id = $1`, c, engRandomUUID())
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23503" {
		t.Fatalf("changing a session's id: %v, want SQLSTATE 23503", err)
	}

	db.exec(t, `truncate sessions cascade`)
	if n := db.count(t, `select count(*) from decisions`); n != 0 {
		t.Fatalf("%d decisions after sessions were truncated", n)
	}
}

// A write-behind batch locks its sessions for its whole transaction: a delete of one of them that arrives while the
// batch is in flight waits on the session's row until the batch commits, and then deletes the batch's decisions
// too. Without the lock the delete would not wait at all: it would commit between the batch's existence check and
// its commit (its trigger cannot see the batch's uncommitted rows), leaving decisions of no session.
func TestWriteHoldsSessionsAgainstDelete(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	// Hold the batch between its lock and its insert: its chunk of decisions 1 and 2 waits for this uncommitted
	// chunk at the same first seq (which the batch's read of the highest stored seq cannot see). (A row, not a
	// table lock: pgx prepares a connection's new statements before it runs a batch, and a table lock would hold
	// up the preparing, before the batch has locked anything.)
	holder, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(context.Background())
	if _, err := holder.Exec(ctx, `insert into decision_chunks (session_id, first_seq, last_seq, event_seqs, ats,
		actions, risks, modes, fields, modalities, statuses, sample_risks, reasons, latencies, vector_keys, vectors)
		values ($1, 1, 1, '{0}', array[now()], '{block}', '{1}', '{scoring}', '{""}', '{keystroke}', '{scored}',
			'{null}', '{""}', '{0}', '{null}', '{null}')`, id); err != nil {
		t.Fatal(err)
	}

	type writeResult struct {
		res persistence.WriteResult
		err error
	}
	wrote := make(chan writeResult, 1)
	go func() {
		res, err := s.Write(ctx, persistence.WriteBatch{Decisions: []persistence.Decision{engDecision(id, 1),
			engDecision(id, 2)}})
		wrote <- writeResult{res, err}
	}()
	engWaitFor(t, db.pool, "the batch waits on decision 2", `select count(*) > 0 from pg_stat_activity
		where datname = current_database() and wait_event_type = 'Lock' and query like '%copy decision_chunks%'`)

	deleter, err := db.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer deleter.Release()
	var pid int32
	if err := deleter.QueryRow(ctx, `select pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() {
		_, err := deleter.Exec(ctx, `delete from sessions where id = $1`, id)
		deleted <- err
	}()
	engWaitFor(t, db.pool, "the delete waits", `select wait_event_type = 'Lock' from pg_stat_activity
		where pid = $1`, pid)
	var waitEvent string
	if err := db.pool.QueryRow(ctx, `select wait_event from pg_stat_activity where pid = $1`,
		pid).Scan(&waitEvent); err != nil {
		t.Fatal(err)
	}
	if waitEvent != "transactionid" && waitEvent != "tuple" {
		t.Fatalf("the delete waits on %q, want the session's row (transactionid or tuple)", waitEvent)
	}

	if err := holder.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	w := <-wrote
	if w.err != nil || len(w.res.Gone) != 0 {
		t.Fatalf("write: %+v, %v; want written", w.res, w.err)
	}
	// The batch wrote both decisions before the delete could go on; the delete then took them with the session.
	if got := w.res; len(got.Stale) != 0 {
		t.Fatalf("write: %+v", got)
	}
	if err := <-deleted; err != nil {
		t.Fatalf("delete: %v", err)
	}
	if n := db.count(t, `select count(*) from decisions where session_id = $1`, id); n != 0 {
		t.Fatalf("%d decisions outlived their session", n)
	}
}

// engWaitFor polls query (one boolean) until it is true, failing the test after 10s.
func engWaitFor(t *testing.T, pool *pgxpool.Pool, what, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var ok bool
		err := pool.QueryRow(ctx, query, args...).Scan(&ok)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Migration 003 moves each stored sample vector into its decision's row and drops session_vectors and the foreign
// key.
func TestMigration003MovesVectors(t *testing.T) {
	ctx := engCtx(t)
	pool, err := persistence.Open(ctx, pgtest.URLAt(t, 2), persistence.PoolConfig{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &engDB{pool: pool}
	db.userID = db.addUser(t)
	db.loginID = engRandomUUID()
	db.exec(t, `insert into logins (id, user_id) values ($1, $2)`, db.loginID, db.userID)
	s1, s2 := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, d := range []struct {
		session string
		seq     int64
	}{{s1, 1}, {s1, 2}, {s1, 3}, {s2, 1}} {
		db.exec(t, `insert into decisions (session_id, seq, event_seq, at, action, risk, mode, modality, status,
			reasons) values ($1, $2, 0, $3, 'allow', 0.5, 'scoring', 'keystroke', 'scored', '{a,b}')`,
			d.session, d.seq, at.Add(time.Duration(d.seq)*time.Second))
	}
	vector := func(v ...float32) []byte {
		b, err := persistence.EncodeVector(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range []struct {
		session string
		seq     int64
		key     string
		vec     []float32
	}{
		{s1, 2, "kf:payee", []float32{1, 2}},
		// Two keys under one decision (the old schema allowed it): the first key's is kept.
		{s1, 3, "pointer", []float32{3}},
		{s1, 3, "motion", []float32{4, 5, 6}},
		{s2, 1, "kt", []float32{7}},
		// No decision row: dropped.
		{s2, 5, "kt", []float32{8}},
	} {
		db.exec(t, `insert into session_vectors (session_id, seq, key, dim, vector, at) values ($1, $2, $3, $4, $5,
			now())`, v.session, v.seq, v.key, len(v.vec), vector(v.vec...))
	}

	if err := persistence.MigrateTo(ctx, pool, 3); err != nil {
		t.Fatal(err)
	}
	if n := db.count(t, `select count(*) from decisions`); n != 4 {
		t.Fatalf("%d decisions after the migration, want 4", n)
	}
	if n := db.count(t, `select count(*) from pg_class where relname = 'session_vectors'`); n != 0 {
		t.Fatal("session_vectors is still there")
	}
	if n := db.count(t, `select count(*) from pg_constraint where conrelid = 'decisions'::regclass
		and contype = 'f'`); n != 0 {
		t.Fatalf("decisions has %d foreign keys, want none", n)
	}
	// The moved rows obey the new checks like new ones.
	for _, bad := range []string{
		`update decisions set vector = null where session_id = $1 and seq = 2`,
		`update decisions set vector = '\x000000'::bytea where session_id = $1 and seq = 2`,
		`update decisions set vector_key = '' where session_id = $1 and seq = 2`,
	} {
		if _, err := pool.Exec(ctx, bad, s1); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}

	// And what 003 left reads back through the stores on the newest schema.
	if err := persistence.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s := persistence.NewSessions(pool)
	got, err := s.SampleVectors(ctx, s1, nil)
	if err != nil {
		t.Fatal(err)
	}
	engSameVectors(t, got, []persistence.SampleVector{
		{SessionID: s1, Seq: 2, Key: "kf:payee", Vector: []float32{1, 2}, At: at.Add(2 * time.Second)},
		{SessionID: s1, Seq: 3, Key: "motion", Vector: []float32{4, 5, 6}, At: at.Add(3 * time.Second)},
	})
	got, err = s.SampleVectors(ctx, s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	engSameVectors(t, got, []persistence.SampleVector{
		{SessionID: s2, Seq: 1, Key: "kt", Vector: []float32{7}, At: at.Add(time.Second)},
	})
	ds, err := s.DecisionsForSession(ctx, s1)
	if err != nil || len(ds) != 3 || ds[0].VectorKey != "" || ds[0].Vector != nil ||
		!reflect.DeepEqual(ds[0].Reasons, []string{"a", "b"}) {
		t.Fatalf("decisions after the migration: %+v, %v", ds, err)
	}
}
