package actors_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/node"
	"github.com/behaviorauth/engine/persistence"
)

// faults injects one crash at a time through actors.WithFaultHook: armed with a predicate, it panics in the
// first actor that receives a message matching it, then disarms.
type faults struct {
	mu    sync.Mutex
	match func(kind string, msg any) bool
	fired chan string
}

func newFaults() *faults { return &faults{fired: make(chan string, 8)} }

func (f *faults) hook(kind string, msg any) {
	f.mu.Lock()
	hit := f.match != nil && f.match(kind, msg)
	if hit {
		f.match = nil
	}
	f.mu.Unlock()
	if hit {
		f.fired <- kind
		panic(fmt.Sprintf("injected fault: %s actor on %T", kind, msg))
	}
}

func (f *faults) arm(match func(kind string, msg any) bool) {
	f.mu.Lock()
	f.match = match
	f.mu.Unlock()
}

// wait checks that the armed crash happened in an actor of kind.
func (f *faults) wait(tb testing.TB, kind string) {
	tb.Helper()
	select {
	case k := <-f.fired:
		if k != kind {
			tb.Fatalf("crash injected in a %s actor, want %s", k, kind)
		}
	case <-time.After(10 * time.Second):
		tb.Fatalf("no %s actor crashed", kind)
	}
}

// TestCrashRecovery: a session, profile or index actor that crashes is restarted by its supervisor with nothing
// acknowledged lost: the session's counts and last decisions are as acknowledged, a resent seq is applied once,
// every acknowledged decision reaches Postgres once, and scoring goes on (the index rebuilt from the templates).
func TestCrashRecovery(t *testing.T) {
	f := newFaults()
	h := startNode(t, nil, node.WithEngineOptions(actors.WithFaultHook(f.hook)))
	degraded := h.n.Config.Policy.DegradedAction

	type crash struct {
		kind string
		// match picks the message to crash on, given the session about to send seq.
		match func(s *session, seq int64) func(kind string, msg any) bool
		// lost: the crashed actor took the client's message with it (the client times out and resends);
		// otherwise the session answers in time with a degraded decision.
		lost bool
	}
	crashes := []crash{
		{actors.KindSession, func(s *session, seq int64) func(string, any) bool {
			return func(kind string, msg any) bool {
				m, ok := msg.(*enginepb.Events)
				return ok && kind == actors.KindSession && m.Seq == seq
			}
		}, true},
		{actors.KindProfile, func(s *session, _ int64) func(string, any) bool {
			return func(kind string, msg any) bool {
				m, ok := msg.(*enginepb.ScoreBatch)
				return ok && kind == actors.KindProfile && len(m.Samples) > 0 && m.Samples[0].SessionId == s.id
			}
		}, false},
		{actors.KindIndex, func(*session, int64) func(string, any) bool {
			return func(kind string, msg any) bool {
				return kind == actors.KindIndex && reflect.TypeOf(msg).String() == "*actors.poolReq"
			}
		}, false},
	}
	for i, c := range crashes {
		t.Run(c.kind, func(t *testing.T) {
			u := h.newUser(t)
			own := newTypist(800+uint64(i), len(secret), 95, 180)
			s := h.newSession(t, u)
			s.enroll(t, own, enrollN)
			for j := 0; j < 4; j++ {
				s.next(t, s.typed(own, secret))
			}
			// A connection's push receiver is attached, as the transport attaches one per WebSocket.
			pushes := make(chan *enginepb.Push, 16)
			sys := h.eng.System()
			sub := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
				if p, ok := c.Message().(*enginepb.Push); ok {
					pushes <- p
				}
			}))
			t.Cleanup(func() { sys.Root.Stop(sub) })
			if state, code, err := h.eng.Attach(testCtx(t), s.id, sub); err != nil || state != actors.StateActive || code != 0 {
				t.Fatalf("attach: %s %d %v", state, code, err)
			}
			before := s.status(t)

			// The message that meets the crash.
			seq, evs := s.seq+1, s.typed(own, secret)
			f.arm(c.match(s, seq))
			// The client waits less than the request timeout when the session is the one to crash, and long
			// enough for the session to give up on a crashed profile or index actor otherwise.
			wait := time.Second
			if !c.lost {
				wait = 2 * h.n.Config.Cluster.RequestTimeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			r, err := s.sendSeq(ctx, seq, evs)
			cancel()
			f.wait(t, c.kind)
			if c.lost {
				if !errors.Is(err, actors.ErrUnavailable) {
					t.Fatalf("the crashed session answered: %v, %v", r, err)
				}
				// Nothing of the lost message was applied; everything acknowledged is there.
				after := s.status(t)
				if after.LastSeq != before.LastSeq || after.Events != before.Events || after.Samples != before.Samples ||
					after.State != before.State || after.Risk != before.Risk || !sameDecisions(after.Decisions, before.Decisions) {
					t.Fatalf("after the crash: %v\nbefore: %v", after, before)
				}
				// The client resends it: applied now, once.
				r, err = s.sendSeq(testCtx(t), seq, evs)
				if err != nil || r.AckSeq != seq || r.Duplicate || len(r.Decisions) != 1 {
					t.Fatalf("resend of the lost message: %v, %v", r, err)
				}
				if d := r.Decisions[0]; d.Sample.Status != "scored" || d.Mode != actors.ModeScoring {
					t.Fatalf("resend of the lost message: %v", d)
				}
			} else {
				// The session answered in time without its profile's score: degraded, not lost.
				if err != nil || r.AckSeq != seq || len(r.Decisions) != 1 {
					t.Fatalf("message during the %s crash: %v, %v", c.kind, r, err)
				}
				d := r.Decisions[0]
				if d.Mode != actors.ModeDegraded || d.Action != degraded || !has(d.Reasons, "profile_unreachable") {
					t.Fatalf("decision during the %s crash: %v", c.kind, d)
				}
				if d.Action == actors.ActionChallenge {
					s.passChallenge(t)
				}
			}
			s.seq = seq
			s.acked = append(s.acked, r.Decisions...)

			// Old seqs resent (a reconnect) are acknowledged and not applied again.
			mid := s.status(t)
			for _, old := range []int64{1, seq - 1, seq} {
				r, err := s.sendSeq(testCtx(t), old, s.typed(own, secret))
				if err != nil || !r.Duplicate || r.AckSeq != old {
					t.Fatalf("resent seq %d: %v, %v", old, r, err)
				}
				// Its decisions come again (a reply lost with a connection is not lost), the same ones.
				for _, d := range r.Decisions {
					if d.EventSeq != old || !ackedDecision(s.acked, d) {
						t.Fatalf("resent seq %d answered a decision never acknowledged for it: %v", old, d)
					}
				}
			}
			if st := s.status(t); st.Events != mid.Events || st.Samples != mid.Samples || st.LastSeq != seq {
				t.Fatalf("resent seqs changed the session: %v\nbefore: %v", st, mid)
			}

			// Scoring goes on, through a rebuilt index when the crash took it.
			for j := 0; j < 3; j++ {
				if d := s.enter(t, own, secret); d.Mode != actors.ModeScoring || d.Sample.Status != "scored" {
					t.Fatalf("after the %s crash: %v", c.kind, d)
				}
			}

			// Every acknowledged decision is stored, once, as it was sent.
			h.waitDecisions(t, s.id, s.acked)
			if st := s.status(t); st.Samples != int64(len(s.acked)) {
				t.Fatalf("status counts %d samples, %d decisions were acknowledged", st.Samples, len(s.acked))
			}

			// The connection attached before the crash still gets the session's pushes: here, its end.
			if _, err := h.eng.End(testCtx(t), s.id, "logout"); err != nil {
				t.Fatal(err)
			}
			select {
			case p := <-pushes:
				if p.CloseCode != actors.CloseEnded {
					t.Fatalf("push after the end: %v", p)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the attached connection was not told of the end")
			}
		})
	}
}

// sameDecisions compares two lists of decisions by what the client saw.
func sameDecisions(a, b []*enginepb.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Seq != b[i].Seq || a[i].Action != b[i].Action || a[i].Risk != b[i].Risk || a[i].Mode != b[i].Mode {
			return false
		}
	}
	return true
}

// waitDecisions waits until Postgres holds exactly the acknowledged decisions of the session, in order.
func (h *harness) waitDecisions(tb testing.TB, sessionID string, acked []*enginepb.Decision) {
	tb.Helper()
	var stored []persistence.Decision
	eventually(tb, 15*time.Second, "decisions stored", func() bool {
		var err error
		stored, err = h.db.DecisionsForSession(testCtx(tb), sessionID)
		return err == nil && len(stored) >= len(acked)
	})
	if len(stored) != len(acked) {
		tb.Fatalf("%d decisions stored, %d acknowledged", len(stored), len(acked))
	}
	for i, d := range acked {
		s := stored[i]
		if s.Seq != d.Seq || s.Action != d.Action || s.Mode != d.Mode || s.Status != d.Sample.Status ||
			float32(s.Risk) != float32(d.Risk) || s.EventSeq != d.EventSeq {
			tb.Fatalf("decision %d stored as %+v, acknowledged as %v", d.Seq, s, d)
		}
	}
}

// ackedDecision reports whether d is one of the acknowledged decisions (same number, seq and action).
func ackedDecision(acked []*enginepb.Decision, d *enginepb.Decision) bool {
	for _, a := range acked {
		if a.Seq == d.Seq && a.EventSeq == d.EventSeq && a.Action == d.Action {
			return true
		}
	}
	return false
}
