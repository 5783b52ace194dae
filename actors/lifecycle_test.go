package actors_test

import (
	"errors"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/persistence"
)

// TestEndIsIdempotent: ending a session answers its summary, stores it with every decision, and ending it again
// (with any reason) answers the same summary; the ended session takes no more events or step-ups.
func TestEndIsIdempotent(t *testing.T) {
	h := startNode(t, nil)
	u := h.newUser(t)
	s := h.newSession(t, u)
	own := newTypist(500, len(secret), 95, 180)
	s.enroll(t, own, 3)
	ctx := testCtx(t)

	first, err := h.eng.End(ctx, s.id, "logout")
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := int64(3 * (2*len(secret) + 1))
	if first.SessionId != s.id || first.Events != wantEvents || first.Samples != 3 || first.Decisions != 3 || first.Reason != "logout" || first.EndedAtMs == 0 {
		t.Fatalf("summary: %v", first)
	}
	for _, reason := range []string{"logout", "idle", "blocked"} {
		again, err := h.eng.End(ctx, s.id, reason)
		if err != nil {
			t.Fatal(err)
		}
		if again.Events != first.Events || again.Samples != first.Samples || again.Decisions != first.Decisions ||
			again.FinalRisk != first.FinalRisk || again.EndedAtMs != first.EndedAtMs || again.Reason != "logout" {
			t.Fatalf("End again (%s): %v, first %v", reason, again, first)
		}
	}

	r, err := s.sendSeq(ctx, s.seq+1, s.typed(own, secret))
	if err != nil || r.CloseCode != actors.CloseEnded || len(r.Decisions) != 0 {
		t.Fatalf("events after the end: %v, %v", r, err)
	}
	if _, err := h.eng.Challenge(ctx, s.id, true); !errors.Is(err, actors.ErrSessionEnded) {
		t.Fatalf("step-up after the end: %v", err)
	}
	if st := s.status(t); st.State != actors.StateEnded || st.Samples != 3 {
		t.Fatalf("status after the end: %v", st)
	}

	row, err := h.db.Get(ctx, s.id)
	if err != nil {
		t.Fatal(err)
	}
	if row.EndedAt == nil || row.Summary == nil || row.Summary.Reason != "logout" || row.Summary.Decisions != 3 || row.Summary.Events != wantEvents {
		t.Fatalf("stored session: ended %v summary %+v", row.EndedAt, row.Summary)
	}
	ds, err := h.db.DecisionsForSession(ctx, s.id)
	if err != nil || len(ds) != 3 {
		t.Fatalf("stored decisions: %d, %v", len(ds), err)
	}
	for i, d := range ds {
		if d.Seq != int64(i+1) || d.Mode != actors.ModeEnrolling || d.Status != "enrolled" || d.Action != actors.ActionAllow {
			t.Fatalf("stored decision %d: %+v", i, d)
		}
	}
}

// TestIdleTimeoutEndsSession: a session that receives nothing for policy.idle_timeout ends by itself with its
// summary stored; it then answers as ended, on a new activation too.
func TestIdleTimeoutEndsSession(t *testing.T) {
	h := startNode(t, func(c *config.Config) { c.Policy.IdleTimeout = time.Second })
	s := h.newSession(t, h.newUser(t))
	s.enroll(t, newTypist(600, len(secret), 95, 180), 2)

	var row persistence.Session
	eventually(t, 15*time.Second, "the idle session ended", func() bool {
		var err error
		row, err = h.db.Get(testCtx(t), s.id)
		return err == nil && row.EndedAt != nil
	})
	if row.Summary == nil || row.Summary.Reason != "idle" || row.Summary.Samples != 2 || row.Summary.Decisions != 2 || row.EndReason != "idle" {
		t.Fatalf("stored end: reason %q summary %+v", row.EndReason, row.Summary)
	}
	if st := s.status(t); st.State != actors.StateEnded || st.Samples != 2 {
		t.Fatalf("status after the idle end: %v", st)
	}
	sum, err := h.eng.End(testCtx(t), s.id, "logout")
	if err != nil || sum.Reason != "idle" || sum.Samples != 2 {
		t.Fatalf("End after the idle end: %v, %v", sum, err)
	}
	r, err := s.sendSeq(testCtx(t), s.seq+1, nil)
	if err != nil || r.CloseCode != actors.CloseEnded {
		t.Fatalf("events after the idle end: %v, %v", r, err)
	}
}

// TestAutoAdaptation: with adaptation "auto", confidently genuine samples (well inside the owner's spread, no
// other signal) join the templates, others do not, and the profile stays bounded by policy.max_templates.
func TestAutoAdaptation(t *testing.T) {
	const maxTemplates = enrollN + 4
	h := startNode(t, func(c *config.Config) {
		c.Policy.Adaptation = "auto"
		c.Policy.MaxTemplates = maxTemplates
	})
	u := h.newUser(t)
	own := newTypist(700, len(secret), 95, 180)
	s := h.newSession(t, u)
	s.enroll(t, own, enrollN)

	// Another typist's samples are far: none is learned.
	imp, thief := h.newSession(t, u), newTypist(701, len(secret), 70, 300)
	for i := 0; i < 4; i++ {
		d := imp.enter(t, thief, secret)
		if d.Action == actors.ActionBlock {
			break
		}
	}
	if n, _ := h.fieldSamples(t, u.id); n != enrollN {
		t.Fatalf("an impostor's samples were learned: %d templates", n)
	}

	// The owner's: each confident one (sample risk under 0.25, its only reason keystroke_timing_close) adds a
	// template until the bound, and no other sample does.
	want, learned, atBound := enrollN, 0, 0
	for i := 0; i < 80 && atBound < 10; i++ {
		d := s.enter(t, own, secret)
		if d.Action == actors.ActionChallenge {
			s.passChallenge(t)
		}
		if d.Sample.Risk < 0.25 && len(d.Reasons) == 1 && d.Reasons[0] == "keystroke_timing_close" {
			learned++
			if want == maxTemplates {
				atBound++
			}
			want = min(want+1, maxTemplates)
		}
		if n, _ := h.fieldSamples(t, u.id); n != want {
			t.Fatalf("owner sample %d (%v): %d templates, want %d", i, d, n, want)
		}
	}
	if want != maxTemplates || atBound < 10 {
		t.Fatalf("the bound was not exercised: %d templates, %d confident samples at the bound", want, atBound)
	}
	t.Logf("%d confident samples learned; templates bounded at %d", learned, maxTemplates)

	// The bounded profile is what Postgres keeps.
	eventually(t, 10*time.Second, "templates saved", func() bool {
		p, err := h.profiles.Load(testCtx(t), u.id)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range p.Templates {
			if tp.Key == "kf:"+field {
				return tp.Samples == maxTemplates && tp.Enrolled
			}
		}
		return false
	})
}
