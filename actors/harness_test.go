package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/behaviorauth/engine/actors"
	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/auth"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/node"
	"github.com/behaviorauth/engine/node/nodetest"
	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
)

// secret is the key sequence of the synthetic users' fixed field (opaque codes, as the SDK sends them).
var secret = []uint64{11, 22, 33, 44, 55, 66, 77, 88, 99, 111}

const (
	field    = "payee"
	password = "correct horse battery"
	mpin     = "482916"
)

// typist produces fixed-text keystroke events with a personal rhythm: a mean hold time per key and a mean
// flight (down-down) time per key pair, each repetition varied by a relative jitter.
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

// robot types every key with the same hold and flight times: machine-regular timing.
func robot(n int) *typist {
	t := &typist{rng: rand.New(rand.NewPCG(7, 7))}
	for i := 0; i < n; i++ {
		t.hold = append(t.hold, 80)
		t.flight = append(t.flight, 150)
	}
	return t
}

// entry types codes into field from t0 and commits; it returns the events and the time after them.
func (ty *typist) entry(field string, codes []uint64, t0 float64) ([]*enginepb.Event, float64) {
	var evs []*enginepb.Event
	t := t0
	for i, c := range codes {
		h := ty.hold[i%len(ty.hold)] * (1 + ty.jitter*ty.rng.NormFloat64())
		evs = append(evs,
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t, Phase: enginepb.Phase_PHASE_DOWN, Code: c, Field: field},
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t + h, Phase: enginepb.Phase_PHASE_UP, Code: c, Field: field})
		t += ty.flight[i%len(ty.flight)] * (1 + ty.jitter*ty.rng.NormFloat64())
	}
	t += 200
	evs = append(evs, &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: t, Field: field})
	return evs, t + 500
}

// testNode is a running node (nodetest.StartWith: ready once /readyz answers 200, which reads the member count
// from topology events, race-free) and its configuration.
type testNode struct {
	*nodetest.Node
	Config config.Config
}

func startTestNode(tb testing.TB, cfg config.Config, opts ...node.Option) *testNode {
	tb.Helper()
	return &testNode{Node: nodetest.StartWith(tb, cfg, opts...), Config: cfg}
}

// harness is one real node (Postgres, FAISS, cluster member) and a direct view of its database.
type harness struct {
	n        *testNode
	eng      *actors.Engine
	db       *persistence.Sessions
	fb       *persistence.FeedbackStore
	profiles *persistence.Profiles
	dbURL    string
	phones   atomic.Int64
}

// testConfig is a node configuration for these tests: the auth rate limits are out of the way (the tests
// register many users from one address), everything else as configured by default.
func testConfig(tb testing.TB, dbURL string, mutate func(*config.Config)) config.Config {
	cfg := nodetest.Config(tb, dbURL)
	cfg.Auth.RatePerAddress = 1 << 20
	cfg.Auth.RatePerAccount = 1 << 20
	if mutate != nil {
		mutate(&cfg)
	}
	return cfg
}

// startNode starts a node on a fresh database of the shared PostgreSQL.
func startNode(tb testing.TB, mutate func(*config.Config), opts ...node.Option) *harness {
	tb.Helper()
	return startNodeOn(tb, pgtest.URL(tb), mutate, opts...)
}

// startNodeOn starts a node on the database dbURL.
func startNodeOn(tb testing.TB, dbURL string, mutate func(*config.Config), opts ...node.Option) *harness {
	tb.Helper()
	n := startTestNode(tb, testConfig(tb, dbURL, mutate), opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := persistence.Open(ctx, dbURL, persistence.PoolConfig{MaxConns: 4, ConnectTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	return &harness{n: n, eng: n.Engine(), db: persistence.NewSessions(pool), fb: persistence.NewFeedbackStore(pool),
		profiles: persistence.NewProfiles(pool), dbURL: dbURL}
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

type user struct {
	id    string
	phone string
}

var client = auth.Client{Addr: "127.0.0.1"}

// newUser registers a user.
func (h *harness) newUser(tb testing.TB) user {
	tb.Helper()
	phone := fmt.Sprintf("+9198%08d", h.phones.Add(1))
	id, err := h.n.Auth().Register(testCtx(tb), auth.RegisterRequest{Phone: phone, Password: password, MPIN: mpin}, client)
	if err != nil {
		tb.Fatalf("register: %v", err)
	}
	return user{id: id, phone: phone}
}

// session is a live behavioral session as a client drives it: its own login, seq and clock.
type session struct {
	h           *harness
	id          string
	userID      string
	accessToken string
	seq         int64
	clock       float64
	acked       []*enginepb.Decision // every decision acknowledged to this client, in order
}

// newSession logs in (a login of its own, so that blocking this session revokes no other), verifies the MPIN
// (which creates the session) and activates its actor.
func (h *harness) newSession(tb testing.TB, u user) *session {
	tb.Helper()
	ctx := testCtx(tb)
	a := h.n.Auth()
	tok, err := a.Login(ctx, auth.LoginRequest{Phone: u.phone, Password: password}, client)
	if err != nil {
		tb.Fatalf("login: %v", err)
	}
	claims, err := a.VerifyAccess(ctx, tok.AccessToken)
	if err != nil {
		tb.Fatalf("verify access: %v", err)
	}
	grant, err := a.StartSession(ctx, claims, mpin, client)
	if err != nil {
		tb.Fatalf("mpin verify: %v", err)
	}
	if err := h.eng.StartSession(ctx, grant.SessionID, u.id, claims.LoginID, grant.ExpiresAt); err != nil {
		tb.Fatalf("start session: %v", err)
	}
	return &session{h: h, id: grant.SessionID, userID: u.id, accessToken: tok.AccessToken}
}

// loginRevoked reports whether the session's login no longer verifies.
func (s *session) loginRevoked(tb testing.TB) bool {
	_, err := s.h.n.Auth().VerifyAccess(testCtx(tb), s.accessToken)
	return errors.Is(err, auth.ErrTokenRevoked)
}

// next sends events as the next message and checks its ack.
func (s *session) next(tb testing.TB, evs []*enginepb.Event) *enginepb.EventsReply {
	tb.Helper()
	r, err := s.sendSeq(testCtx(tb), s.seq+1, evs)
	if err != nil {
		tb.Fatalf("events seq %d: %v", s.seq+1, err)
	}
	if r.AckSeq != s.seq+1 || r.Duplicate {
		tb.Fatalf("events seq %d: reply %v", s.seq+1, r)
	}
	s.seq++
	s.acked = append(s.acked, r.Decisions...)
	return r
}

// sendSeq sends events under an explicit seq (a resend, or a message whose ack was lost).
func (s *session) sendSeq(ctx context.Context, seq int64, evs []*enginepb.Event) (*enginepb.EventsReply, error) {
	return s.h.eng.Events(ctx, s.id, &enginepb.Events{Seq: seq, Events: evs, ReceivedAtNs: time.Now().UnixNano()})
}

// typed returns the events of one entry of the secret by ty, on the session's clock.
func (s *session) typed(ty *typist, codes []uint64) []*enginepb.Event {
	evs, next := ty.entry(field, codes, s.clock)
	s.clock = next
	return evs
}

// enter types one entry of codes and returns its keystroke decision.
func (s *session) enter(tb testing.TB, ty *typist, codes []uint64) *enginepb.Decision {
	tb.Helper()
	return keystroke(tb, s.next(tb, s.typed(ty, codes)))
}

// keystroke returns the reply's one keystroke decision.
func keystroke(tb testing.TB, r *enginepb.EventsReply) *enginepb.Decision {
	tb.Helper()
	var out *enginepb.Decision
	for _, d := range r.Decisions {
		if d.Sample.GetModality() == "keystroke" {
			if out != nil {
				tb.Fatalf("two keystroke decisions in one reply: %v", r)
			}
			out = d
		}
	}
	if out == nil {
		tb.Fatalf("no keystroke decision in %v", r)
	}
	return out
}

// enroll types n enrollment entries and checks each is answered allow / enrolling / enrolled.
func (s *session) enroll(tb testing.TB, ty *typist, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		d := s.enter(tb, ty, secret)
		if d.Action != actors.ActionAllow || d.Mode != actors.ModeEnrolling || d.Sample.Status != "enrolled" || d.Sample.HasRisk {
			tb.Fatalf("enrollment sample %d: %v", i+1, d)
		}
	}
}

// passChallenge answers a pending step-up as the owner would.
func (s *session) passChallenge(tb testing.TB) {
	tb.Helper()
	state, err := s.h.eng.Challenge(testCtx(tb), s.id, true)
	if err != nil || state != actors.StateActive {
		tb.Fatalf("challenge answer: %q %v", state, err)
	}
}

func (s *session) status(tb testing.TB) *enginepb.Status {
	tb.Helper()
	st, err := s.h.eng.Status(testCtx(tb), s.id)
	if err != nil {
		tb.Fatalf("status: %v", err)
	}
	return st
}

// fieldSamples returns the profile's template count for the secret's field.
func (h *harness) fieldSamples(tb testing.TB, userID string) (samples int, enrolled bool) {
	tb.Helper()
	p, err := h.eng.Profile(testCtx(tb), userID)
	if err != nil {
		tb.Fatalf("profile: %v", err)
	}
	for _, f := range p.Fields {
		if f.Field == field {
			return int(f.Samples), f.Enrolled
		}
	}
	return 0, false
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	nodetest.WaitFor(tb, timeout, cond, what)
}

func has(reasons []string, r string) bool { return slices.Contains(reasons, r) }
