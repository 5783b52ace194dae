package actors_test

import (
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// TestPostgresOutage: with Postgres stopped mid-stream the engine keeps answering, in degraded mode with the
// configured action; when Postgres is back, decisions return to scoring by themselves, and every decision made
// during the outage is in Postgres (the write-behind kept them). The outage is of a private server, so the
// shared one other packages' tests use is left alone.
func TestPostgresOutage(t *testing.T) {
	srv := pgtest.NewServer(t)
	h := startNodeOn(t, srv.URL(), nil)
	policy := h.n.Config.Policy
	own := newTypist(900, len(secret), 95, 180)
	s := h.newSession(t, h.newUser(t))
	s.enroll(t, own, enrollN)
	for i := 0; i < 3; i++ {
		if d := s.enter(t, own, secret); d.Mode != actors.ModeScoring {
			t.Fatalf("before the outage: %v", d)
		}
	}

	srv.Stop()
	outageStart := len(s.acked)
	// The engine learns of the outage from its next write or its next ping (every second); until then a
	// decision may still be made in scoring mode, and none is lost either way.
	var d *enginepb.Decision
	deadline := time.Now().Add(10 * time.Second)
	for d = s.enter(t, own, secret); d.Mode != actors.ModeDegraded; d = s.enter(t, own, secret) {
		if time.Now().After(deadline) {
			t.Fatalf("no degraded decision 10s into the outage: %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if h.eng.Health().PostgresUp() {
		t.Fatal("degraded decisions while the engine holds Postgres up")
	}
	for i := 0; i < 5; i++ {
		if i > 0 {
			d = s.enter(t, own, secret)
		}
		if d.Mode != actors.ModeDegraded || d.Action != policy.DegradedAction || !has(d.Reasons, "postgres_unavailable") {
			t.Fatalf("decision %d during the outage: %v", i, d)
		}
	}

	srv.Start()
	// Back to scoring by itself, within the health check's interval and the write-behind's backoff.
	deadline = time.Now().Add(15 * time.Second)
	for d = s.enter(t, own, secret); d.Mode != actors.ModeScoring; d = s.enter(t, own, secret) {
		if d.Mode != actors.ModeDegraded {
			t.Fatalf("recovering: %v", d)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still degraded 15s after Postgres came back: %v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := s.status(t); st.State == actors.StateChallenged {
		s.passChallenge(t) // the degraded action stepped the session up meanwhile
	}
	for i := 0; i < 3; i++ {
		if d := s.enter(t, own, secret); d.Mode != actors.ModeScoring || d.Sample.Status != "scored" {
			t.Fatalf("after the outage: %v", d)
		}
	}

	// Every decision, those of the outage included, reached Postgres once, as acknowledged.
	h.waitDecisions(t, s.id, s.acked)
	var modes []string
	for _, d := range s.acked[outageStart:] {
		modes = append(modes, d.Mode+"/"+d.Action)
	}
	t.Logf("decisions from the stop on, all stored: %v", modes)
}
