package actors_test

import (
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
)

// A session keeps its profile's pid between samples. When that activation stops (passivated, or its member
// left), the next sample must find the new one and be scored, not answered as degraded.
func TestSessionFindsItsProfileAgainAfterItStopped(t *testing.T) {
	h := startNode(t, nil)
	u := h.newUser(t)
	own := newTypist(901, len(secret), 95, 180)
	s := h.newSession(t, u)
	s.enroll(t, own, enrollN)
	if d := s.enter(t, own, secret); d.Mode != actors.ModeScoring {
		t.Fatalf("after enrollment: mode %q, want %q", d.Mode, actors.ModeScoring)
	}

	c := h.n.Cluster()
	pid := c.Get(u.id, actors.KindProfile)
	if pid == nil {
		t.Fatal("no profile activation")
	}
	if err := h.eng.System().Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the stopped profile leaves the cluster's lookup", func() bool {
		p := c.Get(u.id, actors.KindProfile)
		return p != nil && !p.Equal(pid)
	})

	d := s.enter(t, own, secret)
	if d.Mode != actors.ModeScoring || has(d.Reasons, "profile_unreachable") {
		t.Fatalf("first sample after the profile stopped: mode %q reasons %v, want scored", d.Mode, d.Reasons)
	}
}
