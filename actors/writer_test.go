package actors_test

import (
	"io"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/persistence"
)

// A row the store refuses is dropped on its own: the rows beside it are written, Postgres is not taken for
// down, and nothing is left to block later flushes.
func TestWriterDropsRowsTheStoreRefuses(t *testing.T) {
	h := startNode(t, nil)
	s := h.newSession(t, h.newUser(t))
	at := time.Now().UTC().Truncate(time.Millisecond)
	good := func(seq int64) persistence.Decision {
		return persistence.Decision{SessionID: s.id, Seq: 1000 + seq, EventSeq: 1, At: at, Action: "allow",
			Mode: "learning", Modality: "keystroke", Status: "ok", Reasons: []string{"timing_ok"}}
	}
	tests := []struct {
		name string
		bad  func() persistence.Decision
	}{
		{"risk out of range", func() persistence.Decision { d := good(2); d.Risk = 2; return d }},
		{"NaN vector", func() persistence.Decision {
			d := good(3)
			d.VectorKey, d.Vector = "kf:payee", []float32{1, float32(math.NaN())}
			return d
		}},
		{"reason holding the separator", func() persistence.Decision {
			d := good(4)
			d.Reasons = []string{"a" + persistence.ReasonSeparator + "b"}
			return d
		}},
		{"malformed session id", func() persistence.Decision { d := good(5); d.SessionID = "nope"; return d }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			health := &actors.Health{}
			w := actors.NewWriter(h.db, health, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour, 1000)
			ok := good(int64(10 * (i + 1)))
			w.Add(tc.bad(), ok)
			if err := w.Flush(testCtx(t)); err != nil {
				t.Fatalf("flush: %v", err)
			}
			if got := w.Invalid(); got != 1 {
				t.Fatalf("invalid rows %d, want 1", got)
			}
			if w.Pending() != 0 || !health.PostgresUp() {
				t.Fatalf("pending %d, postgres up %v: want 0, true", w.Pending(), health.PostgresUp())
			}
			ds, err := h.db.DecisionsForSession(testCtx(t), s.id)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range ds {
				found = found || d.Seq == ok.Seq
			}
			if !found {
				t.Fatalf("the valid decision %d beside the refused one was not written", ok.Seq)
			}
		})
	}
}
