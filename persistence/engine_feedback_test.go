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

func TestFeedbackInsertIdempotent(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	f := persistence.NewFeedbackStore(db.pool)
	sid := db.addSession(t, time.Hour)

	fraud3 := persistence.Feedback{SessionID: sid, DecisionSeq: engPtr(int64(3)), Label: persistence.FeedbackFraud}
	first, err := f.Insert(ctx, fraud3)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.Insert(ctx, fraud3); err != nil || again != first {
		t.Fatalf("same feedback again: %q, %v; want %q", again, err, first)
	}
	// The owner's id may be given; it must be the session's owner, and it is the same feedback.
	owned := fraud3
	owned.UserID = db.userID
	if again, err := f.Insert(ctx, owned); err != nil || again != first {
		t.Fatalf("same feedback with its owner: %q, %v; want %q", again, err, first)
	}

	distinct := []persistence.Feedback{
		{SessionID: sid, DecisionSeq: engPtr(int64(3)), Label: persistence.FeedbackGenuine},
		{SessionID: sid, DecisionSeq: engPtr(int64(3)), Label: persistence.FeedbackFraud, ByOperator: true},
		{SessionID: sid, Label: persistence.FeedbackFraud},
		{SessionID: sid, DecisionSeq: engPtr(int64(4)), Label: persistence.FeedbackFraud},
	}
	seen := map[string]bool{first: true}
	for _, fb := range distinct {
		id, err := f.Insert(ctx, fb)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("%+v got an id already given: %s", fb, id)
		}
		seen[id] = true
		if again, err := f.Insert(ctx, fb); err != nil || again != id {
			t.Fatalf("%+v again: %q, %v; want %q", fb, again, err, id)
		}
	}
	if n := db.count(t, `select count(*) from feedback`); n != 5 {
		t.Fatalf("%d rows, want 5", n)
	}

	// A caller-chosen id is kept; the same id on other feedback is a conflict.
	chosen := engRandomUUID()
	if id, err := f.Insert(ctx, persistence.Feedback{ID: chosen, SessionID: sid, DecisionSeq: engPtr(int64(9)),
		Label: persistence.FeedbackGenuine}); err != nil || id != chosen {
		t.Fatalf("chosen id: %q, %v", id, err)
	}
	if _, err := f.Insert(ctx, persistence.Feedback{ID: chosen, SessionID: sid, DecisionSeq: engPtr(int64(10)),
		Label: persistence.FeedbackGenuine}); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("id reused: %v, want ErrConflict", err)
	}

	other := db.addUser(t)
	refused := []struct {
		name string
		fb   persistence.Feedback
		want error
	}{
		{"unknown session", persistence.Feedback{SessionID: engRandomUUID(), Label: "fraud"}, persistence.ErrNotFound},
		{"not the owner", persistence.Feedback{SessionID: sid, UserID: other, Label: "fraud"}, persistence.ErrNotFound},
		{"bad label", persistence.Feedback{SessionID: sid, Label: "maybe"}, nil},
		{"decision 0", persistence.Feedback{SessionID: sid, DecisionSeq: engPtr(int64(0)), Label: "fraud"}, nil},
	}
	for _, tt := range refused {
		_, err := f.Insert(ctx, tt.fb)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestFeedbackPendingOrder(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	f := persistence.NewFeedbackStore(db.pool)
	sid := db.addSession(t, time.Hour)
	base := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

	// Inserted out of order: pending lists by acceptance time.
	var ids [3]string
	for _, i := range []int{2, 0, 1} {
		id, err := f.Insert(ctx, persistence.Feedback{SessionID: sid, DecisionSeq: engPtr(int64(i + 1)),
			Label: persistence.FeedbackGenuine, At: base.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	pending, err := f.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := engFeedbackIDs(pending); !reflect.DeepEqual(got, ids[:]) {
		t.Fatalf("pending %v, want %v", got, ids)
	}
	p0 := pending[0]
	if p0.SessionID != sid || p0.UserID != db.userID || p0.Label != "genuine" || p0.ByOperator ||
		p0.DecisionSeq == nil || *p0.DecisionSeq != 1 || !p0.At.Equal(base) || p0.AppliedAt != nil {
		t.Fatalf("pending[0] %+v", p0)
	}
	if first, err := f.Pending(ctx, 1); err != nil || len(first) != 1 || first[0].ID != ids[0] {
		t.Fatalf("limit 1: %+v, %v", first, err)
	}

	for range 2 {
		if err := f.MarkApplied(ctx, ids[1]); err != nil {
			t.Fatal(err)
		}
	}
	pending, err = f.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := engFeedbackIDs(pending); !reflect.DeepEqual(got, []string{ids[0], ids[2]}) {
		t.Fatalf("pending after applying %s: %v", ids[1], got)
	}
	if err := f.MarkApplied(ctx, engRandomUUID()); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown id: %v, want ErrNotFound", err)
	}
}

func engFeedbackIDs(fs []persistence.Feedback) []string {
	var ids []string
	for _, fb := range fs {
		ids = append(ids, fb.ID)
	}
	return ids
}

func TestFraudVectors(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	f := persistence.NewFeedbackStore(db.pool)
	sid := db.addSession(t, time.Hour)

	vecs := [][]float32{{1, 0}, {2, 0}, {3, 0}, {4, 0}, {5, 0}}
	for range 2 {
		if err := f.AddFraudVectors(ctx, "kf:payee", 2, vecs, sid); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.count(t, `select count(*) from fraud_vectors`); n != 5 {
		t.Fatalf("%d rows after adding the same vectors twice, want 5", n)
	}
	got, err := f.FraudVectors(ctx, "kf:payee", 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]float32{{5, 0}, {4, 0}, {3, 0}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("newest 3: %v, want %v", got, want)
	}

	// The same vector from another session, or from none, is another observation; other keys are apart.
	if err := f.AddFraudVectors(ctx, "kf:payee", 2, [][]float32{{1, 0}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.AddFraudVectors(ctx, "kf:payee", 2, [][]float32{{1, 0}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.AddFraudVectors(ctx, "pointer", 3, [][]float32{{7, 8, 9}}, sid); err != nil {
		t.Fatal(err)
	}
	if got, err := f.FraudVectors(ctx, "kf:payee", 100); err != nil || len(got) != 6 ||
		!reflect.DeepEqual(got[0], []float32{1, 0}) {
		t.Fatalf("kf:payee: %v, %v", got, err)
	}
	if got, err := f.FraudVectors(ctx, "pointer", 100); err != nil || !reflect.DeepEqual(got,
		[][]float32{{7, 8, 9}}) {
		t.Fatalf("pointer: %v, %v", got, err)
	}
	if got, err := f.FraudVectors(ctx, "motion", 100); err != nil || len(got) != 0 {
		t.Fatalf("motion: %v, %v", got, err)
	}

	refused := []struct {
		name string
		key  string
		dim  int
		vecs [][]float32
	}{
		{"length differs from dim", "k", 2, [][]float32{{1, 2}, {1, 2, 3}}},
		{"dim 0", "k", 0, [][]float32{{}}},
		{"infinite", "k", 1, [][]float32{{float32(math.Inf(1))}}},
		{"empty key", "", 1, [][]float32{{1}}},
	}
	for _, tt := range refused {
		if err := f.AddFraudVectors(ctx, tt.key, tt.dim, tt.vecs, sid); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if n := db.count(t, `select count(*) from fraud_vectors where key = 'k'`); n != 0 {
		t.Fatalf("%d rows from refused adds", n)
	}
}

// Identical feedback sent at once (a client retrying while the first request still runs) is stored once, and
// every sender gets its id.
func TestFeedbackConcurrentInsert(t *testing.T) {
	db := engNewDB(t)
	ctx := engCtx(t)
	f := persistence.NewFeedbackStore(db.pool)
	sid := db.addSession(t, time.Hour)
	const senders = 6

	ids := make([]string, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = f.Insert(ctx, persistence.Feedback{SessionID: sid, DecisionSeq: engPtr(int64(2)),
				Label: persistence.FeedbackFraud})
		}()
	}
	wg.Wait()
	for i := range senders {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Errorf("sender %d: %q, %v; want %q", i, ids[i], errs[i], ids[0])
		}
	}
	if n := db.count(t, `select count(*) from feedback`); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}
