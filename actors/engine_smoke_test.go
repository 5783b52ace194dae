package actors_test

import (
	"testing"

	"github.com/behaviorauth/engine/config"
)

func TestEngineEnrollsThenScores(t *testing.T) {
	h := startNode(t, func(c *config.Config) { c.Policy.EnrollmentSamples = 8 })
	s := h.newSession(t, h.newUser(t))
	owner := newTypist(1, len(secret), 95, 180)
	other := newTypist(2, len(secret), 60, 320)
	s.enroll(t, owner, 8)
	for i := 0; i < 5; i++ {
		d := s.enter(t, owner, secret)
		t.Logf("owner: %s risk=%.2f sample=%.2f %v", d.Action, d.Risk, d.Sample.Risk, d.Reasons)
		if d.Mode != "scoring" || d.Sample.Status != "scored" {
			t.Fatalf("owner sample: %v", d)
		}
	}
	last := s.enter(t, other, secret)
	for i := 0; i < 3 && last.Action != "block"; i++ {
		last = s.enter(t, other, secret)
		t.Logf("other: %s risk=%.2f sample=%.2f %v", last.Action, last.Risk, last.Sample.Risk, last.Reasons)
	}
	if last.Action == "allow" {
		t.Fatalf("another typist was allowed: %v", last)
	}
}
