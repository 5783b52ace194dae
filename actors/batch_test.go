package actors_test

import (
	"slices"
	"testing"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/config"
)

// TestBatchedSamplesDecideAsOneByOne: a message's samples are scored by one request to the profile
// (ScoreBatch). Their decisions, and what the profile learns from them, must be exactly those of the same
// samples sent one message each. Two users with the same enrollment type the same entries (the owner's, then
// a thief's, then the owner's again) with adaptation "auto": one user one entry per message, the other all in
// one message. Learning must stop in the batch where the one-by-one session was challenged.
func TestBatchedSamplesDecideAsOneByOne(t *testing.T) {
	h := startNode(t, func(c *config.Config) {
		c.Policy.Adaptation = "auto"
		c.Policy.MaxTemplates = 1000
		c.Policy.BlockThreshold = 0.99
	})
	// plan is who types each entry after enrollment: o the owner, x the thief, i the owner leaving the last key
	// held at the commit (the next entry's first key closes it as an incomplete sample, decided unscored).
	const plan = "oooiooooxxooiooxo"
	type run struct {
		s     *session
		u     user
		own   *typist
		thief *typist
		base  int // templates once settled
	}
	start := func() run {
		u := h.newUser(t)
		r := run{s: h.newSession(t, u), u: u, own: newTypist(910, len(secret), 95, 180), thief: newTypist(911, len(secret), 70, 300)}
		r.s.enroll(t, r.own, enrollN)
		// The first sample after enrollment is often far (ten templates say little yet): its challenge is
		// passed before the plan starts, one entry in one message in both runs.
		if d := r.s.enter(t, r.own, secret); d.Action == actors.ActionChallenge {
			r.s.passChallenge(t)
		}
		r.base, _ = h.fieldSamples(t, u.id)
		return r
	}
	entries := func(r run) [][]*enginepb.Event {
		var out [][]*enginepb.Event
		for _, who := range plan {
			ty := r.own
			if who == 'x' {
				ty = r.thief
			}
			evs := r.s.typed(ty, secret)
			if who == 'i' {
				evs = append(evs[:len(evs)-2], evs[len(evs)-1]) // no release of the last key
			}
			out = append(out, evs)
		}
		return out
	}

	one := start()
	var oneByOne []*enginepb.Decision
	for _, evs := range entries(one) {
		oneByOne = append(oneByOne, one.s.next(t, evs).Decisions...)
	}
	batched := start()
	var all []*enginepb.Event
	for _, evs := range entries(batched) {
		all = append(all, evs...)
	}
	inOne := batched.s.next(t, all).Decisions

	if len(inOne) != len(oneByOne) {
		t.Fatalf("%d decisions in one message, %d one by one", len(inOne), len(oneByOne))
	}
	learnedBefore, challenged, incomplete := 0, false, 0
	for i, a := range oneByOne {
		b := inOne[i]
		if a.Seq != b.Seq || a.Action != b.Action || a.Mode != b.Mode || a.Risk != b.Risk ||
			a.Sample.GetStatus() != b.Sample.GetStatus() || a.Sample.GetRisk() != b.Sample.GetRisk() ||
			!slices.Equal(a.Reasons, b.Reasons) {
			t.Fatalf("decision %d differs:\n one by one: %v\n in one:     %v", i, a, b)
		}
		if a.Action == actors.ActionChallenge {
			challenged = true
		}
		if has(a.Reasons, "incomplete_keystrokes") {
			incomplete++
		}
		if !challenged && a.Sample.GetRisk() < 0.25 && len(a.Reasons) == 1 && a.Reasons[0] == "keystroke_timing_close" {
			learnedBefore++
		}
	}
	if !challenged || learnedBefore == 0 || incomplete != 2 {
		t.Fatalf("the plan did not exercise learning (%d samples), then a challenge (%v), and two incomplete samples (%d)",
			learnedBefore, challenged, incomplete)
	}
	n1, _ := h.fieldSamples(t, one.u.id)
	n2, _ := h.fieldSamples(t, batched.u.id)
	if n1-one.base != learnedBefore || n2-batched.base != learnedBefore {
		t.Fatalf("templates learned: %d one by one, %d in one message; want %d", n1-one.base, n2-batched.base,
			learnedBefore)
	}
	t.Logf("%d decisions alike; %d samples learned before the challenge", len(inOne), learnedBefore)
}
