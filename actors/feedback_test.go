package actors_test

import (
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/persistence"
)

// TestFeedback: `fraud` feedback on an impostor's session makes the same impostor's next samples score higher,
// near the known fraud; `genuine` feedback (adaptation "feedback", the default) adds the session's samples to
// the owner's templates.
func TestFeedback(t *testing.T) {
	h := startNode(t, nil)
	u := h.newUser(t)
	owner := newTypist(400, len(secret), 95, 180)
	first := h.newSession(t, u)
	first.enroll(t, owner, enrollN)
	for i := 0; i < 5; i++ {
		first.enter(t, owner, secret)
	}

	t.Run("fraud", func(t *testing.T) {
		thief := newTypist(401, len(secret), 75, 260)
		a := h.newSession(t, u)
		var before []float64
		for i := 0; i < 4; i++ {
			d := a.enter(t, thief, secret)
			if d.Sample.Status != "scored" || has(d.Reasons, "near_known_fraud") {
				t.Fatalf("before the feedback: %v", d)
			}
			before = append(before, d.Sample.Risk)
		}
		id, err := h.eng.SubmitFeedback(testCtx(t), persistence.Feedback{SessionID: a.id, Label: persistence.FeedbackFraud, ByOperator: true})
		if err != nil {
			t.Fatal(err)
		}
		h.waitApplied(t, id)

		// The thief comes back, three times: every sample is now near the known fraud and riskier than any
		// before, and each new session is blocked at its first sample.
		var after []float64
		for visit := 0; visit < 3; visit++ {
			b := h.newSession(t, u)
			d := b.enter(t, thief, secret)
			if d.Sample.Status != "scored" || !has(d.Reasons, "near_known_fraud") || !has(d.Reasons, "keystroke_timing_far") || d.Action != actors.ActionBlock {
				t.Fatalf("visit %d after the feedback: %v", visit, d)
			}
			after = append(after, d.Sample.Risk)
		}
		t.Logf("thief's sample risks: before %.3f, after %.3f", before, after)
		if minOf(after) <= maxOf(before) {
			t.Fatalf("after the fraud feedback the thief's samples score %.3f, before %.3f", after, before)
		}

		// The owner is not near the fraud.
		o := h.newSession(t, u)
		for i := 0; i < 10; i++ {
			if d := o.enter(t, owner, secret); has(d.Reasons, "near_known_fraud") {
				t.Fatalf("owner sample %d near the known fraud: %v", i, d)
			}
		}
	})

	t.Run("genuine", func(t *testing.T) {
		n0, _ := h.fieldSamples(t, u.id)
		g := h.newSession(t, u)
		const scored = 6
		for i := 0; i < scored; i++ {
			if d := g.enter(t, owner, secret); d.Sample.Status != "scored" {
				t.Fatalf("owner sample %d: %v", i, d)
			}
		}
		if n, _ := h.fieldSamples(t, u.id); n != n0 {
			t.Fatalf("scored samples changed the templates without feedback: %d -> %d", n0, n)
		}
		id, err := h.eng.SubmitFeedback(testCtx(t), persistence.Feedback{SessionID: g.id, Label: persistence.FeedbackGenuine})
		if err != nil {
			t.Fatal(err)
		}
		h.waitApplied(t, id)
		if n, _ := h.fieldSamples(t, u.id); n != n0+scored {
			t.Fatalf("genuine feedback on %d scored samples: templates %d -> %d", scored, n0, n)
		}
		// The adapted profile goes on scoring the owner.
		if d := g.enter(t, owner, secret); d.Sample.Status != "scored" || d.Mode != actors.ModeScoring {
			t.Fatalf("after the adaptation: %v", d)
		}

		// Genuine feedback on the session that enrolled adds only its scored samples: the enrolled ones are
		// templates already, and a template twice would shrink the user's calibrated spread.
		n1, _ := h.fieldSamples(t, u.id)
		id, err = h.eng.SubmitFeedback(testCtx(t), persistence.Feedback{SessionID: first.id, Label: persistence.FeedbackGenuine})
		if err != nil {
			t.Fatal(err)
		}
		h.waitApplied(t, id)
		if n, _ := h.fieldSamples(t, u.id); n != n1+5 {
			t.Fatalf("genuine feedback on a session of %d enrolled and 5 scored samples: templates %d -> %d", enrollN, n1, n)
		}
		// The same feedback again (a client retry) is stored once and adds nothing.
		again, err := h.eng.SubmitFeedback(testCtx(t), persistence.Feedback{SessionID: first.id, Label: persistence.FeedbackGenuine})
		if err != nil || again != id {
			t.Fatalf("the same feedback again: %q, %v; want %q", again, err, id)
		}
		if n, _ := h.fieldSamples(t, u.id); n != n1+5 {
			t.Fatalf("genuine feedback given twice: templates %d -> %d", n1+5, n)
		}
	})
}

// waitApplied waits until the feedback has been applied by the profile.
func (h *harness) waitApplied(tb testing.TB, id string) {
	tb.Helper()
	eventually(tb, 15*time.Second, "feedback "+id+" applied", func() bool {
		pending, err := h.fb.Pending(testCtx(tb), 1000)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range pending {
			if p.ID == id {
				return false
			}
		}
		return true
	})
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs[1:] {
		m = max(m, x)
	}
	return m
}
