package persistence_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// engChunkRange is one stored chunk: a session's seqs first..last.
type engChunkRange struct {
	Session     string
	First, Last int64
}

// engStoredChunks returns the stored chunks of sessions, in their order and then by first seq.
func engStoredChunks(t *testing.T, db *engDB, sessions ...string) []engChunkRange {
	t.Helper()
	var out []engChunkRange
	for _, id := range sessions {
		rows, err := db.pool.Query(engCtx(t), `select first_seq, last_seq from decision_chunks where session_id = $1
			order by first_seq`, id)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			c := engChunkRange{Session: id}
			if err := rows.Scan(&c.First, &c.Last); err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// engSeqs returns decisions of session for seqs, as engDecision makes them.
func engSeqs(session string, seqs ...int64) []persistence.Decision {
	var out []persistence.Decision
	for _, s := range seqs {
		out = append(out, engDecision(session, s))
	}
	return out
}

func engRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// Write stores one chunk per session per contiguous run of new seqs, whatever the order given, and reads back
// through the view exactly what was written.
func TestWriteChunks(t *testing.T) {
	type batch func(a, b string) []persistence.Decision
	tests := []struct {
		name    string
		batches []batch
		// want: chunks as (session index, first, last); decisions of a and b read back.
		want       func(a, b string) []engChunkRange
		wantA      []int64
		wantB      []int64
		changedSeq int64 // a seq of a whose second write (with another action) must not show
	}{
		{
			name:    "one session, one run",
			batches: []batch{func(a, b string) []persistence.Decision { return engSeqs(a, 1, 2, 3, 4) }},
			want:    func(a, b string) []engChunkRange { return []engChunkRange{{a, 1, 4}} },
			wantA:   engRange(1, 4),
		},
		{
			name: "two sessions interleaved and out of order",
			batches: []batch{func(a, b string) []persistence.Decision {
				return []persistence.Decision{engDecision(b, 2), engDecision(a, 3), engDecision(a, 1),
					engDecision(b, 1), engDecision(a, 2), engDecision(b, 3)}
			}},
			want:  func(a, b string) []engChunkRange { return []engChunkRange{{a, 1, 3}, {b, 1, 3}} },
			wantA: engRange(1, 3),
			wantB: engRange(1, 3),
		},
		{
			name:    "a gap splits a run",
			batches: []batch{func(a, b string) []persistence.Decision { return engSeqs(a, 1, 2, 4, 5, 6, 9) }},
			want: func(a, b string) []engChunkRange {
				return []engChunkRange{{a, 1, 2}, {a, 4, 6}, {a, 9, 9}}
			},
			wantA: []int64{1, 2, 4, 5, 6, 9},
		},
		{
			name: "a repeated seq in one batch: the first stays",
			batches: []batch{func(a, b string) []persistence.Decision {
				changed := engDecision(a, 2)
				changed.Action = "block"
				return append(engSeqs(a, 1, 2, 3), changed)
			}},
			want:       func(a, b string) []engChunkRange { return []engChunkRange{{a, 1, 3}} },
			wantA:      engRange(1, 3),
			changedSeq: 2,
		},
		{
			name: "flushes append chunks",
			batches: []batch{
				func(a, b string) []persistence.Decision { return append(engSeqs(a, 1, 2), engSeqs(b, 1)...) },
				func(a, b string) []persistence.Decision { return append(engSeqs(a, 3, 4, 5), engSeqs(b, 2)...) },
			},
			want: func(a, b string) []engChunkRange {
				return []engChunkRange{{a, 1, 2}, {a, 3, 5}, {b, 1, 1}, {b, 2, 2}}
			},
			wantA: engRange(1, 5),
			wantB: engRange(1, 2),
		},
		{
			name: "retry of the same batch",
			batches: []batch{
				func(a, b string) []persistence.Decision { return append(engSeqs(a, 1, 2, 3), engSeqs(b, 1)...) },
				func(a, b string) []persistence.Decision { return append(engSeqs(a, 1, 2, 3), engSeqs(b, 1)...) },
			},
			want:  func(a, b string) []engChunkRange { return []engChunkRange{{a, 1, 3}, {b, 1, 1}} },
			wantA: engRange(1, 3),
			wantB: []int64{1},
		},
		{
			// The write-behind puts a failed batch back in front of what came since: the retry carries the
			// stored decisions and new ones.
			name: "retry merged with newer decisions",
			batches: []batch{
				func(a, b string) []persistence.Decision { return engSeqs(a, 1, 2, 3) },
				func(a, b string) []persistence.Decision {
					return append(append(engSeqs(a, 1, 2, 3), engSeqs(b, 1, 2)...), engSeqs(a, 4, 5)...)
				},
			},
			want: func(a, b string) []engChunkRange {
				return []engChunkRange{{a, 1, 3}, {a, 4, 5}, {b, 1, 2}}
			},
			wantA: engRange(1, 5),
			wantB: engRange(1, 2),
		},
		{
			// An old activation of the session on another node writes seqs the new one has written already:
			// the stored decisions stay, and of its own only those above the stored ones are written.
			name: "stale writer overlapping stored seqs",
			batches: []batch{
				func(a, b string) []persistence.Decision { return engSeqs(a, 1, 2, 3, 4) },
				func(a, b string) []persistence.Decision {
					ds := engSeqs(a, 3, 4, 5, 6)
					for i := range ds {
						ds[i].Action = "block"
					}
					return ds
				},
			},
			want:       func(a, b string) []engChunkRange { return []engChunkRange{{a, 1, 4}, {a, 5, 6}} },
			wantA:      engRange(1, 6),
			changedSeq: 3,
		},
		{
			// A seq never stored is written wherever it falls, between stored chunks too.
			name: "late decisions fill gaps",
			batches: []batch{
				func(a, b string) []persistence.Decision { return engSeqs(a, 1, 4, 8) },
				func(a, b string) []persistence.Decision { return engSeqs(a, 1, 2, 3, 4, 5, 6, 7, 8, 9) },
			},
			want: func(a, b string) []engChunkRange {
				return []engChunkRange{{a, 1, 1}, {a, 2, 3}, {a, 4, 4}, {a, 5, 7}, {a, 8, 8}, {a, 9, 9}}
			},
			wantA: engRange(1, 9),
		},
	}
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
			for i, bt := range tt.batches {
				ds := bt(a, b)
				res, err := s.Write(ctx, persistence.WriteBatch{Decisions: ds})
				if err != nil || len(res.Gone) != 0 || len(res.Stale) != 0 {
					t.Fatalf("batch %d: %+v, %v", i, res, err)
				}
			}
			if got, want := engStoredChunks(t, db, a, b), tt.want(a, b); !reflect.DeepEqual(got, want) {
				t.Fatalf("chunks %v, want %v", got, want)
			}
			for _, c := range []struct {
				id   string
				seqs []int64
			}{{a, tt.wantA}, {b, tt.wantB}} {
				got, err := s.DecisionsForSession(ctx, c.id)
				if err != nil {
					t.Fatal(err)
				}
				want := engSeqs(c.id, c.seqs...)
				if tt.name == "stale writer overlapping stored seqs" && c.id == a {
					want[4].Action, want[5].Action = "block", "block"
				}
				engSameDecisions(t, got, want)
			}
			if tt.changedSeq != 0 {
				if n := db.count(t, `select count(*) from decisions where session_id = $1 and seq = $2
					and action = 'allow'`, a, tt.changedSeq); n != 1 {
					t.Fatalf("decision %d: %d rows as first written, want 1", tt.changedSeq, n)
				}
			}
		})
	}
}

// Batches of one session written at once (a retry racing its original, two activations on two nodes) store each
// seq once: chunks never overlap, and every seq written by any of them is there.
func TestWriteConcurrentWriters(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Overlapping ranges of a (1-12, 3-14, ...), and of b in the other session order.
			from := int64(1 + 2*w)
			ds := append(engSeqs(a, engRange(from, from+11)...), engSeqs(b, engRange(from, from+11)...)...)
			if w%2 == 1 {
				ds = append(engSeqs(b, engRange(from, from+11)...), engSeqs(a, engRange(from, from+11)...)...)
			}
			_, errs[w] = s.Write(ctx, persistence.WriteBatch{Decisions: ds})
		}()
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	last := int64(1 + 2*(writers-1) + 11)
	for _, id := range []string{a, b} {
		got, err := s.DecisionsForSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		engSameDecisions(t, got, engSeqs(id, engRange(1, last)...))
		chunks := engStoredChunks(t, db, id)
		for i := 1; i < len(chunks); i++ {
			if chunks[i].First <= chunks[i-1].Last {
				t.Fatalf("overlapping chunks %v", chunks)
			}
		}
	}
}

// Of one session's long history, SampleVectors and RecentDecisions read the chunks they need, and their answers
// are those of one row per decision.
func TestReadAcrossChunks(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)
	// Chunks 1-3, 4-6, 8-9 (7 was never written), 10-40.
	for _, seqs := range [][]int64{engRange(1, 3), engRange(4, 6), {8, 9}, engRange(10, 40)} {
		if err := s.AppendDecisions(ctx, engSeqs(id, seqs...)); err != nil {
			t.Fatal(err)
		}
	}
	if got := engStoredChunks(t, db, id); len(got) != 4 {
		t.Fatalf("chunks %v, want 4", got)
	}
	all := append(append(engRange(1, 6), 8, 9), engRange(10, 40)...)
	for seq := int64(0); seq <= 42; seq++ {
		got, err := s.SampleVectors(ctx, id, engPtr(seq))
		if err != nil {
			t.Fatal(err)
		}
		var want []persistence.SampleVector
		// engDecision: decision 2 answered no sample, 7 was not written, 41 and beyond do not exist.
		if seq >= 1 && seq <= 40 && seq != 2 && seq != 7 {
			d := engDecision(id, seq)
			want = append(want, persistence.SampleVector{SessionID: id, Seq: seq, Key: d.VectorKey,
				Vector: d.Vector, At: d.At})
		}
		engSameVectors(t, got, want)
	}
	vs, err := s.SampleVectors(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(all)-1 || vs[0].Seq != 1 || vs[1].Seq != 3 || vs[len(vs)-1].Seq != 40 {
		t.Fatalf("all vectors: %d, from %d to %d", len(vs), vs[0].Seq, vs[len(vs)-1].Seq)
	}
	for _, limit := range []int{1, 2, 31, 32, 33, 34, 100} {
		got, err := s.RecentDecisions(ctx, id, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := all[max(0, len(all)-limit):]
		engSameDecisions(t, got, engSeqs(id, want...))
	}
}

// The view decisions has the columns, types and order of the table it replaced, and gives back exactly what was
// written: null sample risk, no vector, no reasons, several reasons.
func TestDecisionsView(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	var cols []string
	rows, err := db.pool.Query(ctx, `select column_name || ' ' || data_type from information_schema.columns
		where table_name = 'decisions' order by ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "session_id uuid, seq bigint, event_seq bigint, at timestamp with time zone, action text, risk real, " +
		"mode text, field text, modality text, status text, sample_risk real, reasons ARRAY, latency_us integer, " +
		"vector_key text, vector bytea"
	if got := strings.Join(cols, ", "); got != want {
		t.Fatalf("columns\n %s\nwant %s", got, want)
	}

	// 1: enrolled (no sample risk, no reasons); 2: no vector, one reason; 3: two reasons; 4: one reason with
	// spaces and non-ASCII, empty field.
	ds := engSeqs(id, 1, 2, 3, 4)
	ds[3].Reasons, ds[3].Field = []string{"ré sumé", "x"}, ""
	if err := s.AppendDecisions(ctx, ds); err != nil {
		t.Fatal(err)
	}
	got, err := s.DecisionsForSession(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	engSameDecisions(t, got, ds)

	type row struct {
		Seq        int64
		SampleRisk *float32
		Reasons    []string
		VectorKey  *string
		Vector     []byte
	}
	var rs []row
	rows, err = db.pool.Query(ctx, `select seq, sample_risk, reasons, vector_key, vector from decisions
		where session_id = $1 order by seq`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.Seq, &r.SampleRisk, &r.Reasons, &r.VectorKey, &r.Vector); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 || rs[0].SampleRisk != nil || rs[0].Reasons == nil || len(rs[0].Reasons) != 0 ||
		rs[1].VectorKey != nil || rs[1].Vector != nil || !reflect.DeepEqual(rs[2].Reasons, ds[2].Reasons) ||
		rs[2].SampleRisk == nil || *rs[2].SampleRisk != 0.5 || rs[2].VectorKey == nil {
		t.Fatalf("view rows %+v", rs)
	}
}

// decision_chunks refuses rows that break its rules, whoever writes them.
func TestDecisionChunksChecks(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	id := db.addSession(t, time.Hour)
	// A good two-decision chunk, each column's value replaceable by the test.
	good := map[string]string{
		"first_seq": "1", "last_seq": "2", "event_seqs": "'{0,1}'", "ats": "array[now(), now()]",
		"actions": "'{allow,block}'", "risks": "'{0,1}'", "modes": "'{scoring,scoring}'", "fields": `'{"",""}'`,
		"modalities": "'{keystroke,keystroke}'", "statuses": "'{scored,scored}'", "sample_risks": "'{null,0.5}'",
		"reasons": `'{"","a"}'`, "latencies": "'{1,2}'", "vector_keys": "'{null,k}'",
		"vectors": `array[null, '\x0000803f'::bytea]`,
	}
	order := []string{"first_seq", "last_seq", "event_seqs", "ats", "actions", "risks", "modes", "fields",
		"modalities", "statuses", "sample_risks", "reasons", "latencies", "vector_keys", "vectors"}
	insert := func(change map[string]string) error {
		vals := []string{"$1"}
		for _, c := range order {
			v := good[c]
			if nv, ok := change[c]; ok {
				v = nv
			}
			vals = append(vals, v)
		}
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		_, err = tx.Exec(ctx, fmt.Sprintf(`insert into decision_chunks (session_id, %s) values (%s)`,
			strings.Join(order, ", "), strings.Join(vals, ", ")), id)
		return err
	}
	if err := insert(nil); err != nil {
		t.Fatalf("good chunk: %v", err)
	}
	for _, bad := range []map[string]string{
		{"first_seq": "0", "last_seq": "1"},
		{"first_seq": "3"},
		{"last_seq": "3"},
		{"event_seqs": "'{0}'"},
		{"ats": "array[now()]"},
		{"vectors": `array['\x0000803f'::bytea, null, null]`},
		{"reasons": `'{{"",""},{"",""}}'`, "first_seq": "1", "last_seq": "4"},
		{"event_seqs": "'{0,-1}'"},
		{"event_seqs": "'{0,null}'"},
		{"actions": "'{allow,maybe}'"},
		{"actions": "'{allow,null}'"},
		{"risks": "'{0,1.5}'"},
		{"risks": "'{null,1}'"},
		{"modes": "'{scoring,null}'"},
		{"sample_risks": "'{null,-0.5}'"},
		{"reasons": `'{"",null}'`},
		{"latencies": "'{-1,2}'"},
		{"vector_keys": "'{null,\"\"}'"},
		{"vector_keys": "'{k,k}'"},
		{"vectors": "array[null, null]::bytea[]"},
	} {
		if err := insert(bad); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

// Deleting sessions, directly, with their user or by truncating, deletes their chunks.
func TestDeleteSessionDeletesChunks(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	for _, seqs := range [][]int64{{1, 2}, {3, 4, 5}} {
		if err := s.AppendDecisions(ctx, append(engSeqs(a, seqs...), engSeqs(b, seqs...)...)); err != nil {
			t.Fatal(err)
		}
	}
	chunksOf := func(id string) int {
		return db.count(t, `select count(*) from decision_chunks where session_id = $1`, id)
	}
	if na, nb := chunksOf(a), chunksOf(b); na != 2 || nb != 2 {
		t.Fatalf("%d and %d chunks, want 2 and 2", na, nb)
	}
	db.exec(t, `delete from sessions where id = $1`, a)
	if na, nb := chunksOf(a), chunksOf(b); na != 0 || nb != 2 {
		t.Fatalf("after deleting a: %d and %d chunks, want 0 and 2", na, nb)
	}
	db.exec(t, `delete from users where id = $1`, db.userID)
	if n := db.count(t, `select count(*) from decision_chunks`); n != 0 {
		t.Fatalf("%d chunks after the user was deleted", n)
	}
}

// Migration 004 moves every decisions row into chunks (contiguous runs of up to 1000 decisions), and the view gives
// back the same rows, value for value.
func TestMigration004MovesDecisions(t *testing.T) {
	ctx := engCtx(t)
	pool, err := persistence.Open(ctx, pgtest.URLAt(t, 3), persistence.PoolConfig{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &engDB{pool: pool}
	db.userID = db.addUser(t)
	db.loginID = engRandomUUID()
	db.exec(t, `insert into logins (id, user_id) values ($1, $2)`, db.loginID, db.userID)
	long, short, empty := db.addSession(t, time.Hour), db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	// long: 1-2500 without 1200 (chunks 1-1000, 1001-1199, 1201-2000, 2001-2500); short: 1, 2, 5.
	db.exec(t, `insert into decisions (session_id, seq, event_seq, at, action, risk, mode, field, modality, status,
			sample_risk, reasons, latency_us, vector_key, vector)
		select $1, s, s * 3, timestamptz '2025-03-01 10:00:00+00' + s * interval '1.5 ms',
			(array['allow', 'challenge', 'block'])[1 + s % 3], (s % 100) / 100.0, 'scoring', 'f' || (s % 7),
			'keystroke', 'scored', case when s % 5 = 0 then null else (s % 10) / 10.0 end,
			case s % 4 when 0 then '{}' when 1 then '{a}' else array['r' || s, 'b c', 'é'] end, s * 2,
			case when s % 3 = 0 then null else 'kf:' || (s % 2) end,
			case when s % 3 = 0 then null else int4send(s) || int4send(1065353216) end
		from generate_series(1, 2500) s where s <> 1200`, long)
	db.exec(t, `insert into decisions (session_id, seq, event_seq, at, action, risk, mode, modality, status)
		select $1, s, 0, now(), 'allow', 0, 'enrolling', 'pointer', 'enrolled' from unnest('{1,2,5}'::bigint[]) s`,
		short)
	const dump = `select session_id, seq, event_seq, at, action, risk, mode, field, modality, status, sample_risk,
		reasons, latency_us, vector_key, vector from decisions order by session_id, seq`
	before := engDumpRows(t, pool, dump)
	if len(before) != 2502 {
		t.Fatalf("%d rows before, want 2502", len(before))
	}

	if err := persistence.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	after := engDumpRows(t, pool, dump)
	if len(after) != len(before) {
		t.Fatalf("%d rows after the migration, want %d", len(after), len(before))
	}
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("row %d:\nbefore %s\n after %s", i, before[i], after[i])
		}
	}
	want := []engChunkRange{{long, 1, 1000}, {long, 1001, 1199}, {long, 1201, 2000}, {long, 2001, 2500},
		{short, 1, 2}, {short, 5, 5}}
	if got := engStoredChunks(t, db, long, short, empty); !reflect.DeepEqual(got, want) {
		t.Fatalf("chunks %v, want %v", got, want)
	}
	if n := db.count(t, `select count(*) from pg_class where relname = 'decisions' and relkind = 'v'`); n != 1 {
		t.Fatal("decisions is not a view")
	}

	// The stores go on from what was moved.
	s := persistence.NewSessions(pool)
	if err := s.AppendDecisions(ctx, engSeqs(short, 5, 6, 7)); err != nil {
		t.Fatal(err)
	}
	if got := engStoredChunks(t, db, short); !reflect.DeepEqual(got, []engChunkRange{{short, 1, 2}, {short, 5, 5},
		{short, 6, 7}}) {
		t.Fatalf("short's chunks after a write: %v", got)
	}
	vs, err := s.SampleVectors(ctx, long, engPtr(int64(1001)))
	if err != nil {
		t.Fatal(err)
	}
	// int4send(1001) || int4send(1065353216): big-endian ints, read back as little-endian float32s.
	wantVec, err := persistence.DecodeVector([]byte{0, 0, 0x03, 0xe9, 0x3f, 0x80, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Key != "kf:1" || !reflect.DeepEqual(vs[0].Vector, wantVec) {
		t.Fatalf("vector 1001: %+v", vs)
	}
}

// engDumpRows returns every row of query as its text form.
func engDumpRows(t *testing.T, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	rows, err := pool.Query(engCtx(t), `select t::text from (`+query+`) t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Migration 005: where the server has lz4, snapshots and the compressible chunk columns are stored with it, and
// the vectors stay uncompressed (004).
func TestCompressionMethods(t *testing.T) {
	db := engNewDB(t)
	if db.count(t, `select count(*) from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)`) == 0 {
		t.Skip("this PostgreSQL server was built without lz4")
	}
	if n := db.count(t, `select count(*) from pg_attribute where attrelid = 'session_snapshots'::regclass
		and attname = 'snapshot' and attcompression = 'l'`); n != 1 {
		t.Fatal("session_snapshots.snapshot is not compressed with lz4")
	}
	if n := db.count(t, `select count(*) from pg_attribute where attrelid = 'decision_chunks'::regclass
		and attnum > 0 and not attisdropped and attstorage = 'x' and attcompression <> 'l'`); n != 0 {
		t.Fatalf("%d compressible decision_chunks columns are not compressed with lz4", n)
	}
	if n := db.count(t, `select count(*) from pg_attribute where attrelid = 'decision_chunks'::regclass
		and attname = 'vectors' and attstorage = 'e'`); n != 1 {
		t.Fatal("decision_chunks.vectors may be compressed")
	}
}

// Chunks go to Postgres as a binary COPY, whose values must have the columns' own types: a decision_chunks column
// of another type than the writer encodes fails the write with an error naming it, and stores nothing.
func TestWriteRefusesUnknownChunkTypes(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	a := db.addSession(t, time.Hour)
	db.exec(t, `drop view decisions`) // it depends on the column's type
	db.exec(t, `alter table decision_chunks alter column latencies type bigint[]`)
	_, err := persistence.NewSessions(db.pool).Write(ctx, persistence.WriteBatch{Decisions: engSeqs(a, 1, 2)})
	if err == nil || !strings.Contains(err.Error(), "decision_chunks.latencies") {
		t.Fatalf("write: %v; want an error naming decision_chunks.latencies", err)
	}
	if n := db.count(t, `select count(*) from decision_chunks`); n != 0 {
		t.Fatalf("%d chunks stored", n)
	}
}
