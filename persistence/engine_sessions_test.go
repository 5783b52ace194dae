package persistence_test

import (
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/behaviorauth/engine/persistence"
)

func engDecision(sessionID string, seq int64) persistence.Decision {
	d := persistence.Decision{
		SessionID: sessionID, Seq: seq, EventSeq: seq + 10,
		At:     time.Date(2025, 3, 1, 10, 0, int(seq), 123456000, time.UTC),
		Action: "allow", Risk: 0.25, Mode: "scoring", Field: "password", Modality: "keystroke", Status: "scored",
		SampleRisk: engPtr(0.5), Reasons: []string{"keystroke_timing_close", "machine regular timing"},
		LatencyUS: 410, VectorKey: "kf:password", Vector: []float32{float32(seq), 0.5, -1.25},
	}
	switch seq {
	case 1:
		d.Mode, d.Status, d.SampleRisk, d.Reasons = "enrolling", "enrolled", nil, nil
	case 2:
		// An incomplete sample: no vector.
		d.Status, d.SampleRisk, d.Reasons, d.VectorKey, d.Vector = "rejected", nil, []string{"incomplete"}, "", nil
	}
	return d
}

// engWant is how a decision reads back: reals at float32 precision, no reasons as an empty list.
func engWant(d persistence.Decision) persistence.Decision {
	d.Risk = float64(float32(d.Risk))
	if d.SampleRisk != nil {
		d.SampleRisk = engPtr(float64(float32(*d.SampleRisk)))
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	return d
}

func engSameDecisions(t *testing.T, got, want []persistence.Decision) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d decisions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], engWant(want[i])
		if !g.At.Equal(w.At) {
			t.Errorf("decision %d: at %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("decision %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestSessionsGet(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	got, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != id || got.UserID != db.userID || got.LoginID != db.loginID || got.EndedAt != nil ||
		got.Summary != nil || got.SnapshotVersion != 0 || got.State != "" {
		t.Fatalf("got %+v", got)
	}
	if d := got.ExpiresAt.Sub(got.CreatedAt); d != time.Hour {
		t.Fatalf("expires %v after creation, want 1h", d)
	}

	if err := s.SaveSnapshot(ctx, persistence.Snapshot{SessionID: id, Version: 3, LastSeq: 9, State: "challenged",
		Risk: 0.75, Events: 120, Samples: 7, Decisions: 7, Data: []byte{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.SnapshotVersion != 3 || got.State != "challenged" || got.Risk != 0.75 || got.Events != 120 ||
		got.Samples != 7 || got.Decisions != 7 {
		t.Fatalf("snapshot head: %+v", got)
	}

	for _, bad := range []string{engRandomUUID(), "not-a-uuid", ""} {
		if _, err := s.Get(ctx, bad); !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", bad, err)
		}
	}
}

func TestAppendDecisionsIdempotent(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)

	batch := []persistence.Decision{engDecision(a, 1), engDecision(a, 2), engDecision(b, 1), engDecision(a, 3)}
	for range 2 {
		if err := s.AppendDecisions(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.count(t, `select count(*) from decisions`); n != 4 {
		t.Fatalf("%d rows after the same batch twice, want 4", n)
	}
	// A different row under a stored seq does not replace the one the client was sent.
	changed := engDecision(a, 2)
	changed.Action = "block"
	if err := s.AppendDecisions(ctx, []persistence.Decision{changed}); err != nil {
		t.Fatal(err)
	}

	all, err := s.DecisionsForSession(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	engSameDecisions(t, all, []persistence.Decision{engDecision(a, 1), engDecision(a, 2), engDecision(a, 3)})

	recent, err := s.RecentDecisions(ctx, a, 2)
	if err != nil {
		t.Fatal(err)
	}
	engSameDecisions(t, recent, []persistence.Decision{engDecision(a, 2), engDecision(a, 3)})

	recent, err = s.RecentDecisions(ctx, b, 20)
	if err != nil {
		t.Fatal(err)
	}
	engSameDecisions(t, recent, []persistence.Decision{engDecision(b, 1)})

	none, err := s.RecentDecisions(ctx, engRandomUUID(), 20)
	if err != nil || len(none) != 0 {
		t.Fatalf("unknown session: %v, %v", none, err)
	}
	if _, err := s.RecentDecisions(ctx, a, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func TestAppendDecisionsRefused(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	mod := func(f func(*persistence.Decision)) persistence.Decision {
		d := engDecision(id, 2)
		f(&d)
		return d
	}
	tests := []struct {
		name string
		d    persistence.Decision
		want error
	}{
		{"seq 0", mod(func(d *persistence.Decision) { d.Seq = 0 }), nil},
		{"risk over 1", mod(func(d *persistence.Decision) { d.Risk = 1.5 }), nil},
		{"risk NaN", mod(func(d *persistence.Decision) { d.Risk = math.NaN() }), nil},
		{"sample risk negative", mod(func(d *persistence.Decision) { d.SampleRisk = engPtr(-0.1) }), nil},
		{"negative latency", mod(func(d *persistence.Decision) { d.LatencyUS = -1 }), nil},
		{"unknown action", mod(func(d *persistence.Decision) { d.Action = "maybe" }), nil},
		{"negative event seq", mod(func(d *persistence.Decision) { d.EventSeq = -1 }), nil},
		{"field with NUL", mod(func(d *persistence.Decision) { d.Field = "a\x00b" }), nil},
		{"mode not UTF-8", mod(func(d *persistence.Decision) { d.Mode = "\xff" }), nil},
		{"reason with NUL", mod(func(d *persistence.Decision) { d.Reasons = []string{"a\x00"} }), nil},
		{"malformed session id", mod(func(d *persistence.Decision) { d.SessionID = "x" }), persistence.ErrNotFound},
		{"empty reason", mod(func(d *persistence.Decision) { d.Reasons = []string{"a", ""} }), nil},
		{"reason with the separator", mod(func(d *persistence.Decision) {
			d.Reasons = []string{"a" + persistence.ReasonSeparator + "b"}
		}), nil},
		{"reason not UTF-8", mod(func(d *persistence.Decision) { d.Reasons = []string{"a\xff"} }), nil},
		{"vector without key", mod(func(d *persistence.Decision) { d.VectorKey, d.Vector = "", []float32{1} }), nil},
		{"key without vector", mod(func(d *persistence.Decision) { d.VectorKey, d.Vector = "k", nil }),
			persistence.ErrInvalidVector},
		{"vector NaN", mod(func(d *persistence.Decision) { d.VectorKey, d.Vector = "k", []float32{float32(math.NaN())} }),
			persistence.ErrInvalidVector},
		{"vector infinite", mod(func(d *persistence.Decision) {
			d.VectorKey, d.Vector = "k", []float32{1, float32(math.Inf(-1))}
		}), persistence.ErrInvalidVector},
		{"vector too long", mod(func(d *persistence.Decision) {
			d.VectorKey, d.Vector = "k", make([]float32, persistence.MaxVectorDim+1)
		}), persistence.ErrInvalidVector},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A good row rides along: a refused batch writes nothing at all.
			err := s.AppendDecisions(ctx, []persistence.Decision{engDecision(id, 1), tt.d})
			if err == nil {
				t.Fatal("accepted")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("%v, want %v", err, tt.want)
			}
			// The store refuses them before sending anything.
			if !errors.Is(err, persistence.ErrInvalid) {
				t.Fatalf("%v, want ErrInvalid", err)
			}
			if n := db.count(t, `select count(*) from decisions`); n != 0 {
				t.Fatalf("%d rows written by a refused batch", n)
			}
		})
	}
}

func TestAppendDecisionsGoneSession(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	live := db.addSession(t, time.Hour)
	gone := engRandomUUID()

	err := s.AppendDecisions(ctx, []persistence.Decision{engDecision(live, 1), engDecision(gone, 1)})
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("%v, want ErrNotFound", err)
	}
	if n := db.count(t, `select count(*) from decisions where session_id = $1`, live); n != 1 {
		t.Fatalf("%d rows of the live session, want 1", n)
	}
}

func TestSnapshotVersionGuard(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	if _, err := s.LoadSnapshot(ctx, id); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("no snapshot yet: %v, want ErrNotFound", err)
	}
	snap := func(v int64, data string) persistence.Snapshot {
		return persistence.Snapshot{SessionID: id, Version: v, LastSeq: v * 10, State: "active", Risk: 0.125,
			Events: v * 100, Samples: v, Decisions: v, Data: []byte(data)}
	}
	steps := []struct {
		name string
		sn   persistence.Snapshot
		want error
	}{
		{"first", snap(1, "one"), nil},
		{"newer", snap(2, "two"), nil},
		{"stale", snap(1, "one"), persistence.ErrConflict},
		{"retry of the stored one", snap(2, "two"), nil},
		{"same version other data", snap(2, "other"), persistence.ErrConflict},
		{"jump ahead", snap(5, "five"), nil},
		{"stale again", snap(4, "four"), persistence.ErrConflict},
	}
	for _, st := range steps {
		if err := s.SaveSnapshot(ctx, st.sn); !errors.Is(err, st.want) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	got, err := s.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := snap(5, "five")
	if got.UpdatedAt.IsZero() || time.Since(got.UpdatedAt) > time.Minute {
		t.Errorf("updated at %v", got.UpdatedAt)
	}
	got.UpdatedAt = time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n %+v\nwant %+v", got, want)
	}

	if err := s.SaveSnapshot(ctx, persistence.Snapshot{SessionID: engRandomUUID(), Version: 1, State: "active",
		Data: []byte{}}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown session: %v, want ErrNotFound", err)
	}
	for _, bad := range []persistence.Snapshot{
		{SessionID: id, Version: 0, State: "active"},
		{SessionID: id, Version: 9, State: "active", Risk: 2},
	} {
		if err := s.SaveSnapshot(ctx, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestWriteBatch(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	a, b := db.addSession(t, time.Hour), db.addSession(t, time.Hour)
	gone := engRandomUUID()
	if err := s.SaveSnapshot(ctx, persistence.Snapshot{SessionID: b, Version: 7, State: "active",
		Data: []byte("b7")}); err != nil {
		t.Fatal(err)
	}

	w := persistence.WriteBatch{
		Decisions: []persistence.Decision{engDecision(a, 1), engDecision(a, 2), engDecision(gone, 1)},
		Snapshots: []persistence.Snapshot{
			{SessionID: a, Version: 1, State: "active", Data: []byte("a1")},
			{SessionID: b, Version: 6, State: "active", Data: []byte("b6")},
			{SessionID: gone, Version: 1, State: "active", Data: []byte("g1")},
		},
	}
	for i := range 2 {
		res, err := s.Write(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		wantStale := []string{b}
		if i == 0 && (!reflect.DeepEqual(res.Stale, wantStale) || !reflect.DeepEqual(res.Gone, []string{gone})) {
			t.Fatalf("first write: %+v, want stale %v gone %v", res, wantStale, gone)
		}
		if i == 1 && (!reflect.DeepEqual(res.Stale, wantStale) || len(res.Gone) != 1) {
			t.Fatalf("retried write: %+v", res)
		}
	}
	if n := db.count(t, `select count(*) from decisions`); n != 2 {
		t.Fatalf("%d decisions, want 2", n)
	}
	if n := db.count(t, `select count(*) from decisions where vector is not null`); n != 1 {
		t.Fatalf("%d vectors, want 1", n)
	}
	if sn, err := s.LoadSnapshot(ctx, b); err != nil || sn.Version != 7 || string(sn.Data) != "b7" {
		t.Fatalf("b's snapshot after a stale write: %+v, %v", sn, err)
	}
	if res, err := s.Write(ctx, persistence.WriteBatch{}); err != nil || res.Stale != nil || res.Gone != nil {
		t.Fatalf("empty batch: %+v, %v", res, err)
	}
}

func TestSampleVectors(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id, other := db.addSession(t, time.Hour), db.addSession(t, time.Hour)

	ds := []persistence.Decision{engDecision(id, 3), engDecision(id, 1), engDecision(id, 2), engDecision(other, 1)}
	ds[0].VectorKey, ds[0].Vector = "pointer", []float32{0.5, -1}
	for range 2 {
		if err := s.AppendDecisions(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.SampleVectors(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Decision 2 answered no sample; the other session's vector is not this one's.
	want := []persistence.SampleVector{
		{SessionID: id, Seq: 1, Key: "kf:password", Vector: []float32{1, 0.5, -1.25}, At: ds[1].At},
		{SessionID: id, Seq: 3, Key: "pointer", Vector: []float32{0.5, -1}, At: ds[0].At},
	}
	engSameVectors(t, all, want)

	one, err := s.SampleVectors(ctx, id, engPtr(int64(3)))
	if err != nil {
		t.Fatal(err)
	}
	engSameVectors(t, one, want[1:])
	for _, tc := range []struct {
		id  string
		seq *int64
	}{{id, engPtr(int64(2))}, {id, engPtr(int64(9))}, {engRandomUUID(), nil}} {
		if none, err := s.SampleVectors(ctx, tc.id, tc.seq); err != nil || len(none) != 0 {
			t.Errorf("session %s decision %v: %+v, %v", tc.id, tc.seq, none, err)
		}
	}
	if _, err := s.SampleVectors(ctx, "not-a-uuid", nil); !errors.Is(err, persistence.ErrNotFound) {
		t.Errorf("malformed id: %v, want ErrNotFound", err)
	}

	// A vector that storage cannot have come from the store is reported, not handed to an index.
	db.exec(t, `update decision_chunks set vectors[3 - first_seq + 1] = '\x0000c07f'::bytea
		where session_id = $1 and 3 between first_seq and last_seq`, id)
	if _, err := s.SampleVectors(ctx, id, nil); !errors.Is(err, persistence.ErrInvalidVector) {
		t.Errorf("NaN stored: %v, want ErrInvalidVector", err)
	}
	if _, err := s.DecisionsForSession(ctx, id); !errors.Is(err, persistence.ErrInvalidVector) {
		t.Errorf("NaN stored, decisions: %v, want ErrInvalidVector", err)
	}
}

func engSameVectors(t *testing.T, got, want []persistence.SampleVector) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d vectors, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.At.Equal(w.At) {
			t.Errorf("vector %d at %v, want %v", i, g.At, w.At)
		}
		g.At, w.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("vector %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestEndIdempotent(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)

	first, err := s.End(ctx, id, "client_end", persistence.Summary{Events: 300, Samples: 12, Decisions: 12,
		FinalRisk: 0.125})
	if err != nil {
		t.Fatal(err)
	}
	if first.SessionID != id || first.Reason != "client_end" || first.Events != 300 || first.Samples != 12 ||
		first.Decisions != 12 || first.FinalRisk != 0.125 || time.Since(first.EndedAt) > time.Minute {
		t.Fatalf("first end: %+v", first)
	}
	again, err := s.End(ctx, id, "blocked", persistence.Summary{Events: 999, FinalRisk: 1,
		EndedAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !engSameSummary(again, first) {
		t.Fatalf("second end changed the summary:\n got %+v\nwant %+v", again, first)
	}

	got, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.EndedAt == nil || !got.EndedAt.Equal(first.EndedAt) || got.EndReason != "client_end" ||
		got.Summary == nil || !engSameSummary(*got.Summary, first) {
		t.Fatalf("stored session: %+v (summary %+v)", got, got.Summary)
	}

	// A session whose login was revoked has ended already: it keeps that time and reason and gets its summary.
	revoked := db.addSession(t, time.Hour)
	at := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	db.exec(t, `update sessions set ended_at = $2, end_reason = 'logout' where id = $1`, revoked, at)
	sum, err := s.End(ctx, revoked, "idle", persistence.Summary{Events: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.EndedAt.Equal(at) || sum.Reason != "logout" || sum.Events != 5 {
		t.Fatalf("revoked session's summary: %+v", sum)
	}

	if _, err := s.End(ctx, engRandomUUID(), "x", persistence.Summary{}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown session: %v, want ErrNotFound", err)
	}
	if _, err := s.End(ctx, db.addSession(t, time.Hour), "", persistence.Summary{}); err == nil {
		t.Fatal("empty reason accepted")
	}
}

func engSameSummary(a, b persistence.Summary) bool {
	if !a.EndedAt.Equal(b.EndedAt) {
		return false
	}
	a.EndedAt, b.EndedAt = time.Time{}, time.Time{}
	return a == b
}

func TestListLive(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	now := time.Now()
	older := db.addSessionAt(t, now.Add(-2*time.Minute), time.Hour)
	newer := db.addSessionAt(t, now.Add(-time.Minute), time.Hour)
	db.addSessionAt(t, now.Add(-2*time.Hour), time.Hour) // expired
	ended := db.addSession(t, time.Hour)
	if _, err := s.End(ctx, ended, "client_end", persistence.Summary{}); err != nil {
		t.Fatal(err)
	}

	live, err := s.ListLive(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range live {
		ids = append(ids, l.ID)
	}
	if !reflect.DeepEqual(ids, []string{newer, older}) {
		t.Fatalf("live %v, want %v", ids, []string{newer, older})
	}
	if live, err := s.ListLive(ctx, 1); err != nil || len(live) != 1 || live[0].ID != newer {
		t.Fatalf("limit 1: %+v, %v", live, err)
	}
}

// A retried save racing the original (same version, same data) is not stale; of different versions racing, the
// newest is what stays.
func TestSnapshotConcurrentSaves(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	s := persistence.NewSessions(db.pool)
	id := db.addSession(t, time.Hour)
	const writers = 6

	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SaveSnapshot(ctx, persistence.Snapshot{SessionID: id, Version: 1, State: "active",
				Data: []byte("same")})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("identical save %d: %v", i, err)
		}
	}

	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SaveSnapshot(ctx, persistence.Snapshot{SessionID: id, Version: int64(2 + i),
				State: "active", Data: []byte{byte(i)}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, persistence.ErrConflict) {
			t.Errorf("save of version %d: %v", 2+i, err)
		}
	}
	if errs[writers-1] != nil {
		t.Errorf("the newest version was refused: %v", errs[writers-1])
	}
	if sn, err := s.LoadSnapshot(ctx, id); err != nil || sn.Version != writers+1 {
		t.Fatalf("stored %+v, %v; want version %d", sn, err, writers+1)
	}
}
