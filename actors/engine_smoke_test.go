package actors_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node/nodetest"
)

// typist produces fixed-text keystroke events with a personal rhythm.
type typist struct {
	hold, flight []float64 // per key, ms
	jitter       float64
	rng          *rand.Rand
}

func newTypist(seed uint64, n int, holdMean, flightMean float64) *typist {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e37))
	t := &typist{jitter: 0.08, rng: rng}
	for i := 0; i < n; i++ {
		t.hold = append(t.hold, holdMean*(0.7+0.6*rng.Float64()))
		t.flight = append(t.flight, flightMean*(0.6+0.8*rng.Float64()))
	}
	return t
}

func (ty *typist) entry(field string, codes []uint64, t0 float64) ([]*enginepb.Event, float64) {
	var evs []*enginepb.Event
	t := t0
	for i, c := range codes {
		h := ty.hold[i] * (1 + ty.jitter*ty.rng.NormFloat64())
		evs = append(evs,
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t, Phase: enginepb.Phase_PHASE_DOWN, Code: c, Field: field},
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t + h, Phase: enginepb.Phase_PHASE_UP, Code: c, Field: field})
		t += ty.flight[i] * (1 + ty.jitter*ty.rng.NormFloat64())
	}
	t += 200
	evs = append(evs, &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: t, Field: field})
	return evs, t + 500
}

func TestEngineEnrollsThenScores(t *testing.T) {
	n := nodetest.Start(t, func(c *config.Config) { c.Policy.EnrollmentSamples = 8 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := n.Auth()
	uid, err := a.Register(ctx, auth.RegisterRequest{Phone: "+919876543210", Password: "correct horse battery", MPIN: "482916"}, auth.Client{Addr: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Login(ctx, auth.LoginRequest{Phone: "+919876543210", Password: "correct horse battery"}, auth.Client{Addr: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := a.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	grant, err := a.StartSession(ctx, claims, "482916", auth.Client{Addr: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	eng := n.Engine()
	if err := eng.StartSession(ctx, grant.SessionID, uid, claims.LoginID, grant.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	codes := []uint64{11, 22, 33, 44, 55, 66, 77, 88, 99, 111}
	owner := newTypist(1, len(codes), 95, 180)
	other := newTypist(2, len(codes), 60, 320)
	tm, seq := 0.0, int64(0)
	send := func(ty *typist) *enginepb.Decision {
		t.Helper()
		evs, next := ty.entry("payee", codes, tm)
		tm = next
		seq++
		r, err := eng.Events(ctx, grant.SessionID, &enginepb.Events{Seq: seq, Events: evs, ReceivedAtNs: time.Now().UnixNano()})
		if err != nil {
			t.Fatal(err)
		}
		if r.AckSeq != seq {
			t.Fatalf("seq %d: reply %v", seq, r)
		}
		for _, d := range r.Decisions {
			if d.Sample.Modality == "keystroke" {
				return d
			}
		}
		t.Fatalf("seq %d: no keystroke decision in %v", seq, r)
		return nil
	}
	for i := 0; i < 8; i++ {
		d := send(owner)
		if d.Mode != "enrolling" || d.Action != "allow" || d.Sample.Status != "enrolled" {
			t.Fatalf("enrollment sample %d: %v", i, d)
		}
	}
	for i := 0; i < 5; i++ {
		d := send(owner)
		t.Logf("owner: %s risk=%.2f sample=%.2f %v", d.Action, d.Risk, d.Sample.Risk, d.Reasons)
		if d.Mode != "scoring" || d.Sample.Status != "scored" {
			t.Fatalf("owner sample: %v", d)
		}
	}
	var last *enginepb.Decision
	for i := 0; i < 4; i++ {
		last = send(other)
		t.Logf("other: %s risk=%.2f sample=%.2f %v", last.Action, last.Risk, last.Sample.Risk, last.Reasons)
		if last.Action == "block" {
			break
		}
	}
	if last.Action == "allow" {
		t.Fatalf("another typist was allowed: %v", last)
	}
}
