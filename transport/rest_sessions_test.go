package transport_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/node/nodetest"
)

// typing drives a session's events straight into the engine (the WebSocket has tests of its own), to give the
// REST endpoints sessions with decisions, enrolled fields and pending challenges.
type typing struct {
	n     *nodetest.Node
	id    string
	seq   int64
	clock float64
	rng   *rand.Rand
	// decisions counts the decisions the session took.
	decisions int64
}

func newTyping(n *nodetest.Node, sessionID string) *typing {
	return &typing{n: n, id: sessionID, clock: 1000, rng: rand.New(rand.NewPCG(1, 2))}
}

// typingCodes is the key sequence of the typed field (already-hashed codes, as the engine receives them).
var typingCodes = []uint64{101, 102, 103, 104, 105, 106, 107, 108, 109, 110}

// entry types the field once and commits it: human timing (varied) or machine-regular timing. It returns the
// entry's decision.
func (ty *typing) entry(tb testing.TB, machine bool) *enginepb.Decision {
	tb.Helper()
	var evs []*enginepb.Event
	t := ty.clock
	for _, c := range typingCodes {
		hold, flight := 80.0, 150.0
		if !machine {
			hold, flight = 70+40*ty.rng.Float64(), 120+90*ty.rng.Float64()
		}
		evs = append(evs,
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t, Phase: enginepb.Phase_PHASE_DOWN, Code: c, Field: "password"},
			&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t + hold, Phase: enginepb.Phase_PHASE_UP, Code: c, Field: "password"})
		t += flight
	}
	t += 200
	evs = append(evs, &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: t, Field: "password"})
	ty.clock = t + 500
	ty.seq++
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ty.n.Engine().Events(ctx, ty.id, &enginepb.Events{Seq: ty.seq, Events: evs, ReceivedAtNs: time.Now().UnixNano()})
	if err != nil {
		tb.Fatalf("events: %v", err)
	}
	// The entry completes one keystroke sample; the session may also close a free-text sample from the keys
	// seen so far.
	var out *enginepb.Decision
	for _, d := range r.Decisions {
		if d.GetSample().GetModality() == "keystroke" {
			out = d
		}
	}
	if out == nil {
		tb.Fatalf("events: no keystroke decision in %v", r)
	}
	ty.decisions += int64(len(r.Decisions))
	return out
}

// challenge puts the session in the challenged state: one human entry fixes the field's key sequence, then a
// machine-timed entry asks for a step-up.
func (ty *typing) challenge(tb testing.TB) {
	tb.Helper()
	if d := ty.entry(tb, false); d.Action != "allow" {
		tb.Fatalf("first entry: %v", d)
	}
	if d := ty.entry(tb, true); d.Action != "challenge" {
		tb.Fatalf("machine-timed entry: %v, want challenge", d)
	}
}

// party is a user logged in with a live session.
type party struct {
	user
	tok tokens
	g   grant
}

func (a *api) party(tb testing.TB) party {
	tb.Helper()
	u := a.register(tb)
	tok := a.login(tb, u)
	return party{user: u, tok: tok, g: a.verify(tb, tok.AccessToken, u.MPIN)}
}

// TestRESTSessions covers the session, feedback, profile, stats and operator rows of PROTOCOL.md's REST table,
// with who may call each, on one real node.
func TestRESTSessions(t *testing.T) {
	n, a := startNode(t, generous)
	const op = nodetest.OperatorKey
	alice, bob := a.party(t), a.party(t)
	ty := newTyping(n, alice.g.SessionID)
	ty.entry(t, false)
	second := ty.entry(t, false)
	unknown := uuid.NewString()
	path := "/v1/sessions/" + alice.g.SessionID

	t.Run("status by owner", func(t *testing.T) {
		var raw map[string]json.RawMessage
		a.get(path, alice.tok.AccessToken).decode(t, http.StatusOK, &raw)
		for _, k := range []string{"session_id", "user_id", "state", "risk", "events", "samples", "decisions", "node"} {
			if _, ok := raw[k]; !ok {
				t.Fatalf("status lacks %q: %v", k, raw)
			}
		}
		var st sessionStatus
		a.get(path, alice.tok.AccessToken).decode(t, http.StatusOK, &st)
		if st.SessionID != alice.g.SessionID || st.UserID != alice.ID || st.State != "active" || st.Node == "" ||
			st.Events != int64(2*(2*len(typingCodes)+1)) || st.Samples != 2 || len(st.Decisions) != 2 {
			t.Fatalf("status %+v", st)
		}
		d := st.Decisions[1]
		for _, k := range []string{"seq", "decision_seq", "action", "risk", "mode", "sample", "reasons", "reason_codes", "latency_us", "at"} {
			if _, ok := d[k]; !ok {
				t.Fatalf("decision lacks %q: %v", k, d)
			}
		}
		if d["seq"] != float64(second.EventSeq) || d["decision_seq"] != float64(second.Seq) || d["action"] != second.Action || d["mode"] != second.Mode {
			t.Fatalf("decision %v, engine said %v", d, second)
		}
		if _, err := time.Parse(time.RFC3339, d["at"].(string)); err != nil {
			t.Fatalf("at: %v", err)
		}
		smp, _ := d["sample"].(map[string]any)
		if smp["field"] != "password" || smp["modality"] != "keystroke" || smp["status"] != second.Sample.Status {
			t.Fatalf("sample %v", smp)
		}
		if _, hasRisk := smp["risk"]; hasRisk != second.Sample.HasRisk {
			t.Fatalf("sample risk present %v, engine has_risk %v", hasRisk, second.Sample.HasRisk)
		}
	})

	t.Run("status keeps the last 20 decisions", func(t *testing.T) {
		p := a.party(t)
		ty := newTyping(n, p.g.SessionID)
		for i := 0; i < 23; i++ {
			ty.entry(t, false)
		}
		var st sessionStatus
		a.get("/v1/sessions/"+p.g.SessionID, p.g.SessionToken).decode(t, http.StatusOK, &st)
		last := ty.decisions
		if len(st.Decisions) != 20 || st.Decisions[0]["decision_seq"] != float64(last-19) || st.Decisions[19]["decision_seq"] != float64(last) {
			t.Fatalf("%d decisions, from %v to %v; want 20, the last %d", len(st.Decisions), st.Decisions[0]["decision_seq"],
				st.Decisions[len(st.Decisions)-1]["decision_seq"], last)
		}
	})

	t.Run("status access", func(t *testing.T) {
		tests := []struct {
			name   string
			path   string
			token  string
			status int
			code   string
		}{
			{"session token", path, alice.g.SessionToken, 200, ""},
			{"operator", path, op, 200, ""},
			{"stranger's access token", path, bob.tok.AccessToken, 403, "forbidden"},
			{"another session's token", path, bob.g.SessionToken, 403, "forbidden"},
			{"owner's token of another session", "/v1/sessions/" + bob.g.SessionID, alice.g.SessionToken, 403, "forbidden"},
			{"unknown session, user", "/v1/sessions/" + unknown, alice.tok.AccessToken, 403, "forbidden"},
			{"unknown session, operator", "/v1/sessions/" + unknown, op, 404, "not_found"},
			{"malformed id", "/v1/sessions/not-a-uuid", alice.tok.AccessToken, 404, "not_found"},
			{"no token", path, "", 401, "unauthorized"},
			{"refresh token", path, alice.tok.RefreshToken, 401, "unauthorized"},
			{"garbage token", path, "eyJhbGciOiJub25lIn0.e30.", 401, "unauthorized"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := a.get(tc.path, tc.token)
				if tc.code == "" {
					r.decode(t, tc.status, nil)
					return
				}
				r.wantError(t, tc.status, tc.code, "")
			})
		}
	})

	t.Run("challenge not pending", func(t *testing.T) {
		a.post(path+"/challenge", alice.g.SessionToken, map[string]string{"mpin": alice.MPIN}).
			wantError(t, http.StatusConflict, "conflict", "")
	})

	t.Run("challenge access and body", func(t *testing.T) {
		a.post(path+"/challenge", alice.tok.AccessToken, map[string]string{"mpin": alice.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post(path+"/challenge", bob.g.SessionToken, map[string]string{"mpin": bob.MPIN}).
			wantError(t, http.StatusForbidden, "forbidden", "")
		a.post(path+"/challenge", "", map[string]string{"mpin": alice.MPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post(path+"/challenge", alice.g.SessionToken, map[string]string{"pin": alice.MPIN}).
			wantError(t, http.StatusBadRequest, "invalid_request", "pin")
		a.post(path+"/challenge", alice.g.SessionToken, "").
			wantError(t, http.StatusBadRequest, "invalid_request", "")
	})

	t.Run("challenge answered", func(t *testing.T) {
		p := a.party(t)
		ty := newTyping(n, p.g.SessionID)
		ty.challenge(t)
		sp := "/v1/sessions/" + p.g.SessionID
		var st sessionStatus
		a.get(sp, p.g.SessionToken).decode(t, http.StatusOK, &st)
		if st.State != "challenged" {
			t.Fatalf("state %q, want challenged", st.State)
		}
		// A malformed MPIN is refused without counting.
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": "12"}).
			wantError(t, http.StatusBadRequest, "invalid_request", "mpin")
		// A wrong MPIN: 401 naming the field, and the session stays challenged (one failure of three).
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": wrongMPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "mpin")
		a.get(sp, p.g.SessionToken).decode(t, http.StatusOK, &st)
		if st.State != "challenged" {
			t.Fatalf("after a wrong answer: state %q", st.State)
		}
		var ok struct {
			State string `json:"state"`
		}
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": p.MPIN}).decode(t, http.StatusOK, &ok)
		if ok.State != "active" {
			t.Fatalf("answer: %+v", ok)
		}
		a.get(sp, p.g.SessionToken).decode(t, http.StatusOK, &st)
		if st.State != "active" {
			t.Fatalf("after the right answer: state %q", st.State)
		}
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": p.MPIN}).
			wantError(t, http.StatusConflict, "conflict", "")
	})

	t.Run("challenge failed blocks", func(t *testing.T) {
		p := a.party(t)
		newTyping(n, p.g.SessionID).challenge(t)
		sp := "/v1/sessions/" + p.g.SessionID
		fails := n.Config.Policy.ChallengeFailures
		for i := 1; i < fails; i++ {
			a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": wrongMPIN}).
				wantError(t, http.StatusUnauthorized, "unauthorized", "mpin")
		}
		e := a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": wrongMPIN}).
			wantError(t, http.StatusUnauthorized, "unauthorized", "mpin")
		if !strings.Contains(e.Error.Message, "blocked") {
			t.Fatalf("last wrong answer: %q, want it to say the session is blocked", e.Error.Message)
		}
		// Blocked: the login's tokens stop working (revoked in the background, so poll).
		nodetest.WaitFor(t, 10*time.Second, func() bool {
			return a.get(sp, p.g.SessionToken).Status == http.StatusUnauthorized
		}, "the blocked session's token to stop working")
		a.get("/v1/users/"+p.ID+"/profile", p.tok.AccessToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		var st sessionStatus
		a.get(sp, op).decode(t, http.StatusOK, &st)
		if st.State != "blocked" {
			t.Fatalf("state %q, want blocked", st.State)
		}
	})

	t.Run("challenge with the mpin locked", func(t *testing.T) {
		p := a.party(t)
		newTyping(n, p.g.SessionID).challenge(t)
		// Four wrong MPINs elsewhere (verify) leave one before the lock; the step-up's wrong answer sets it.
		other := a.login(t, p.user)
		for i := 0; i < 4; i++ {
			a.post("/v1/auth/mpin/verify", other.AccessToken, map[string]string{"mpin": wrongMPIN}).
				wantError(t, http.StatusUnauthorized, "unauthorized", "")
		}
		sp := "/v1/sessions/" + p.g.SessionID
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": wrongMPIN}).
			wantError(t, http.StatusLocked, "locked", "")
		e := a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": p.MPIN}).
			wantError(t, http.StatusLocked, "locked", "")
		if e.Error.RetryAfterS < 1 {
			t.Fatalf("retry_after_s %d", e.Error.RetryAfterS)
		}
	})

	t.Run("end", func(t *testing.T) {
		p := a.party(t)
		ty := newTyping(n, p.g.SessionID)
		ty.entry(t, false)
		sp := "/v1/sessions/" + p.g.SessionID
		a.post(sp+"/end", bob.tok.AccessToken, nil).wantError(t, http.StatusForbidden, "forbidden", "")
		a.post(sp+"/end", bob.g.SessionToken, nil).wantError(t, http.StatusForbidden, "forbidden", "")
		a.post(sp+"/end", "", nil).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.post("/v1/sessions/"+unknown+"/end", p.tok.AccessToken, nil).wantError(t, http.StatusForbidden, "forbidden", "")

		r1 := a.post(sp+"/end", p.tok.AccessToken, nil)
		var s1 summary
		r1.decode(t, http.StatusOK, &s1)
		if s1.SessionID != p.g.SessionID || s1.Events != int64(2*len(typingCodes)+1) || s1.Samples != 1 || s1.Decisions != 1 {
			t.Fatalf("summary %+v", s1)
		}
		if at, err := time.Parse(time.RFC3339, s1.EndedAt); err != nil || time.Since(at) > time.Minute {
			t.Fatalf("ended_at %q: %v", s1.EndedAt, err)
		}
		// Idempotent: the same summary again, by the access token and by the session token.
		r2 := a.post(sp+"/end", p.tok.AccessToken, nil)
		r3 := a.post(sp+"/end", p.g.SessionToken, nil)
		r2.decode(t, http.StatusOK, nil)
		r3.decode(t, http.StatusOK, nil)
		if string(r2.Body) != string(r1.Body) || string(r3.Body) != string(r1.Body) {
			t.Fatalf("end is not idempotent:\n%s\n%s\n%s", r1.Body, r2.Body, r3.Body)
		}
		var st sessionStatus
		a.get(sp, p.g.SessionToken).decode(t, http.StatusOK, &st)
		if st.State != "ended" {
			t.Fatalf("state %q after end", st.State)
		}
		a.post(sp+"/challenge", p.g.SessionToken, map[string]string{"mpin": p.MPIN}).
			wantError(t, http.StatusConflict, "conflict", "")
	})

	t.Run("feedback", func(t *testing.T) {
		sid := alice.g.SessionID
		var f1, f2, f3 struct {
			FeedbackID string `json:"feedback_id"`
		}
		body := map[string]any{"session_id": sid, "label": "genuine"}
		a.post("/v1/feedback", alice.tok.AccessToken, body).decode(t, http.StatusAccepted, &f1)
		if _, err := uuid.Parse(f1.FeedbackID); err != nil {
			t.Fatalf("feedback_id %q", f1.FeedbackID)
		}
		// The same feedback again is stored once.
		a.post("/v1/feedback", alice.tok.AccessToken, body).decode(t, http.StatusAccepted, &f2)
		if f2.FeedbackID != f1.FeedbackID {
			t.Fatalf("retry stored again: %s, %s", f1.FeedbackID, f2.FeedbackID)
		}
		a.post("/v1/feedback", op, map[string]any{"session_id": sid, "decision_seq": second.Seq, "label": "genuine"}).
			decode(t, http.StatusAccepted, &f3)
		if f3.FeedbackID == "" || f3.FeedbackID == f1.FeedbackID {
			t.Fatalf("operator feedback id %q", f3.FeedbackID)
		}
	})

	t.Run("feedback errors", func(t *testing.T) {
		sid := alice.g.SessionID
		tests := []struct {
			name   string
			token  string
			body   any
			status int
			code   string
			field  string
		}{
			{"stranger", bob.tok.AccessToken, map[string]any{"session_id": sid, "label": "fraud"}, 403, "forbidden", ""},
			{"unknown session, user", alice.tok.AccessToken, map[string]any{"session_id": unknown, "label": "fraud"}, 403, "forbidden", ""},
			{"unknown session, operator", op, map[string]any{"session_id": unknown, "label": "fraud"}, 404, "not_found", ""},
			{"session token", alice.g.SessionToken, map[string]any{"session_id": sid, "label": "fraud"}, 401, "unauthorized", ""},
			{"no token", "", map[string]any{"session_id": sid, "label": "fraud"}, 401, "unauthorized", ""},
			{"bad label", alice.tok.AccessToken, map[string]any{"session_id": sid, "label": "maybe"}, 400, "invalid_request", "label"},
			{"missing label", alice.tok.AccessToken, map[string]any{"session_id": sid}, 400, "invalid_request", "label"},
			{"bad session id", alice.tok.AccessToken, map[string]any{"session_id": "s-1", "label": "fraud"}, 400, "invalid_request", "session_id"},
			{"decision seq zero", alice.tok.AccessToken, map[string]any{"session_id": sid, "label": "fraud", "decision_seq": 0}, 400, "invalid_request", "decision_seq"},
			{"decision seq not a number", alice.tok.AccessToken, map[string]any{"session_id": sid, "label": "fraud", "decision_seq": "12"}, 400, "invalid_request", "decision_seq"},
			{"unknown field", alice.tok.AccessToken, map[string]any{"session_id": sid, "label": "fraud", "note": "x"}, 400, "invalid_request", "note"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a.post("/v1/feedback", tc.token, tc.body).wantError(t, tc.status, tc.code, tc.field)
			})
		}
	})

	t.Run("profile", func(t *testing.T) {
		var p struct {
			UserID string `json:"user_id"`
			Fields []struct {
				Field     string   `json:"field"`
				Samples   int      `json:"samples"`
				Enrolled  bool     `json:"enrolled"`
				Threshold *float64 `json:"threshold"`
			} `json:"fields"`
			Version *int64 `json:"version"`
		}
		a.get("/v1/users/"+alice.ID+"/profile", alice.tok.AccessToken).decode(t, http.StatusOK, &p)
		if p.UserID != alice.ID || p.Version == nil || len(p.Fields) != 1 {
			t.Fatalf("profile %+v", p)
		}
		if f := p.Fields[0]; f.Field != "password" || f.Samples < 1 || f.Enrolled || f.Threshold != nil {
			t.Fatalf("field %+v (enrollment needs %d samples)", f, n.Config.Policy.EnrollmentSamples)
		}
		a.get("/v1/users/"+alice.ID+"/profile", op).decode(t, http.StatusOK, nil)
		// A user with no templates yet has an empty profile.
		var empty struct {
			Fields []any `json:"fields"`
		}
		a.get("/v1/users/"+bob.ID+"/profile", bob.tok.AccessToken).decode(t, http.StatusOK, &empty)
		if empty.Fields == nil || len(empty.Fields) != 0 {
			t.Fatalf("empty profile fields %v", empty.Fields)
		}
		a.get("/v1/users/"+alice.ID+"/profile", bob.tok.AccessToken).wantError(t, http.StatusForbidden, "forbidden", "")
		a.get("/v1/users/"+alice.ID+"/profile", alice.g.SessionToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/users/"+alice.ID+"/profile", "").wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/users/nobody/profile", alice.tok.AccessToken).wantError(t, http.StatusForbidden, "forbidden", "")
		a.get("/v1/users/nobody/profile", op).wantError(t, http.StatusNotFound, "not_found", "")
	})

	t.Run("stats", func(t *testing.T) {
		var s struct {
			LiveSessions      int              `json:"live_sessions"`
			EventsPerSecond   float64          `json:"events_per_second"`
			DecisionsByAction map[string]int64 `json:"decisions_by_action"`
			LatencyUs         struct {
				P50 int64 `json:"p50"`
				P99 int64 `json:"p99"`
			} `json:"latency_us"`
			Nodes []struct {
				Node            string         `json:"node"`
				LiveSessions    int            `json:"live_sessions"`
				SessionsByState map[string]int `json:"sessions_by_state"`
				Events          int64          `json:"events"`
				Samples         int64          `json:"samples"`
				PostgresUp      bool           `json:"postgres_up"`
			} `json:"nodes"`
		}
		a.get("/v1/stats", op).decode(t, http.StatusOK, &s)
		if s.LiveSessions < 2 || len(s.Nodes) != 1 || s.Nodes[0].LiveSessions != s.LiveSessions || s.Nodes[0].Node == "" {
			t.Fatalf("stats %+v", s)
		}
		if s.DecisionsByAction["allow"] < 2 || s.LatencyUs.P50 <= 0 || s.LatencyUs.P99 < s.LatencyUs.P50 {
			t.Fatalf("decisions %v, latency %+v", s.DecisionsByAction, s.LatencyUs)
		}
		n := s.Nodes[0]
		if s.EventsPerSecond <= 0 || n.Events <= 0 || n.Samples < 2 || !n.PostgresUp || n.SessionsByState["active"] < 1 {
			t.Fatalf("totals, rates and states: %+v", s)
		}
		a.get("/v1/stats", "").wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/stats", alice.tok.AccessToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/stats", op+"x").wantError(t, http.StatusUnauthorized, "unauthorized", "")
	})

	t.Run("ops sessions", func(t *testing.T) {
		var o struct {
			Sessions []struct {
				SessionID string `json:"session_id"`
				UserID    string `json:"user_id"`
				State     string `json:"state"`
			} `json:"sessions"`
		}
		a.get("/v1/ops/sessions", op).decode(t, http.StatusOK, &o)
		found := false
		for _, s := range o.Sessions {
			found = found || (s.SessionID == alice.g.SessionID && s.UserID == alice.ID)
		}
		if !found {
			t.Fatalf("alice's session not listed: %+v", o.Sessions)
		}
		a.get("/v1/ops/sessions", "").wantError(t, http.StatusUnauthorized, "unauthorized", "")
		a.get("/v1/ops/sessions", bob.tok.AccessToken).wantError(t, http.StatusUnauthorized, "unauthorized", "")
	})

	t.Run("health, readiness and metrics", func(t *testing.T) {
		a.get("/healthz", "").decode(t, http.StatusOK, nil)
		var rd struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		a.get("/readyz", "").decode(t, http.StatusOK, &rd)
		if (rd.Status != "ready" && rd.Status != "degraded") || len(rd.Checks) == 0 {
			t.Fatalf("readyz %+v", rd)
		}
		m := a.get("/metrics", "")
		if m.Status != http.StatusOK || !strings.Contains(string(m.Body), "# TYPE ") {
			t.Fatalf("metrics: %d %.200s", m.Status, m.Body)
		}
	})
}
