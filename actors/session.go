package actors

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/features"
	"github.com/behaviorauth/engine/persistence"
)

// Session states (the wire's `state`).
const (
	StateActive     = "active"
	StateChallenged = "challenged"
	StateBlocked    = "blocked"
	StateEnded      = "ended"
)

// Decision actions and modes (the wire's `action` and `mode`).
const (
	ActionAllow     = "allow"
	ActionChallenge = "challenge"
	ActionBlock     = "block"

	ModeEnrolling = "enrolling"
	ModeScoring   = "scoring"
	ModeDegraded  = "degraded"
)

// WebSocket close codes the session asks for (PROTOCOL.md).
const (
	CloseBlocked = 4003
	CloseEnded   = 4004
)

const (
	keepDecisions = 20 // decisions kept in the session (the wire's "last 20")
	maxFields     = 64 // distinct typed fields per session
	maxKeysEntry  = 128
	freeTextKeys  = 40 // keys of free typing that make one free-text sample
)

// Local messages a session sends itself.
type (
	challengeExpired struct{ challengedAt int64 }
	snapshotTick     struct{}
)

// sample is one assembled behavioral sample waiting for its score.
type sample struct {
	field, modality, key string
	vec                  []float32
	fingerprint          uint64
	err                  error // assembly failed: the sample is rejected without a score
}

// sessionActor is one live session (cluster kind "session", identity = session id).
type sessionActor struct {
	eng      *Engine
	id       string
	st       *enginepb.Snapshot   // nil until the session is known (Start or Postgres)
	profile  cachedPID            // the user's profile activation, as last looked up
	scoreMsg *enginepb.Score      // the Score request of a sample scored alone, reused
	batch    *enginepb.ScoreBatch // the ScoreBatch request of a message's samples, reused with its Scores
	pending  []sample             // the samples of the message being applied, in order
	arena    []float32            // their vectors
	kept     []float32            // room for the copies of their vectors that the write-behind keeps

	win     window
	keys    map[string]*features.KeystrokeAccumulator
	free    *features.FreeTextAccumulator
	pointer *features.PointerAccumulator
	ptrKind string
	motion  *features.MotionAccumulator
	sub     *actor.PID
	self    *actor.PID
	// pendingCommit marks fields committed while a key was still down.
	pendingCommit map[string]bool
	dirty         bool
	snapArmd      bool
	timer         *time.Timer
}

func newSessionActor(eng *Engine) actor.Actor {
	return &sessionActor{eng: eng}
}

// logger is the engine's logger with the session's id. It is built when something is logged (rarely), not
// kept: a kept one costs every idle session about a kilobyte.
func (s *sessionActor) logger() *slog.Logger { return s.eng.log.With("session_id", s.id) }

// unknownLinger is how long an activation for an unknown session id stays after its last message.
const unknownLinger = 2 * time.Second

// Receive handles one message at a time; nothing in it panics on client input.
func (s *sessionActor) Receive(ctx actor.Context) {
	msg := ctx.Message()
	if s.eng.faults != nil {
		s.eng.faults(KindSession, msg)
	}
	defer func() {
		// A message for a session nobody started (a probe of a random id) must not keep an activation alive
		// for long. It lingers a moment rather than stopping at once: a message that reaches an actor after it
		// stopped is dropped without an answer (Proto.Actor does not dead-letter a stopped mailbox), so a second
		// request close behind the first would wait out its whole timeout instead of hearing "not found".
		if s.st == nil {
			switch msg.(type) {
			case *enginepb.Events, *enginepb.StatusRequest, *enginepb.Attach, *enginepb.ChallengeResult, *enginepb.End:
				ctx.SetReceiveTimeout(unknownLinger)
			}
		}
	}()
	switch m := msg.(type) {
	case *actor.Started:
		s.self = ctx.Self()
		ctx.SetReceiveTimeout(s.eng.policy.IdleTimeout)
	case *cluster.ClusterInit:
		s.id = m.Identity.Identity
		s.restore()
	case *enginepb.Start:
		ctx.Respond(s.start(m))
	case *enginepb.Events:
		ctx.Respond(s.events(ctx, m))
	case *enginepb.Attach:
		ctx.Respond(s.attach(m))
	case *enginepb.Detach:
		if s.sub != nil && s.sub.Address == m.Address && s.sub.Id == m.Id {
			s.sub = nil
		}
	case *enginepb.StatusRequest:
		ctx.Respond(s.status())
	case *enginepb.ChallengeResult:
		ctx.Respond(s.challengeResult(ctx, m))
	case *enginepb.End:
		ctx.Respond(s.end(ctx, m.Reason))
	case challengeExpired:
		s.challengeExpired(ctx, m)
	case snapshotTick:
		s.snapArmd = false
		s.snapshot()
	case *actor.ReceiveTimeout:
		if s.st != nil && s.st.State != StateEnded && s.st.State != StateBlocked {
			s.end(ctx, "idle")
		}
		ctx.Poison(ctx.Self())
	case *actor.Restarting:
		// A crash: hand the state as of the last acknowledged message, and the attached connection, to the
		// next incarnation.
		if s.st != nil {
			s.st.Window = s.win.toProto()
			s.eng.handoff.Store(s.id, handoff{st: proto.Clone(s.st).(*enginepb.Snapshot), sub: s.sub})
		}
		s.stopTimer()
	case *actor.Stopping:
		s.snapshot()
		s.stopTimer()
	case *actor.Stopped:
		s.eng.registry.remove(s.id)
	}
}

// handoff is what a crashed session incarnation leaves to the next one on the same node.
type handoff struct {
	st  *enginepb.Snapshot
	sub *actor.PID // the attached connection's push receiver, nil if none
}

func (s *sessionActor) stopTimer() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// restore loads the session as it was: from the previous incarnation after a crash, else from Postgres (its row
// and last snapshot). A session unknown to both stays nil until Start.
func (s *sessionActor) restore() {
	if v, ok := s.eng.handoff.LoadAndDelete(s.id); ok {
		h := v.(handoff)
		s.adopt(h.st)
		s.sub = h.sub
		s.logger().Info("session restored from the crashed incarnation", "last_seq", s.st.LastSeq)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.eng.dbTimeout)
	defer cancel()
	row, err := s.eng.sessions.Get(ctx, s.id)
	if err != nil {
		if !errors.Is(err, persistence.ErrNotFound) {
			s.logger().Warn("session restore: postgres unavailable; waiting for Start", "err", err)
		}
		return
	}
	st := &enginepb.Snapshot{
		SessionId: row.ID, UserId: row.UserID, LoginId: row.LoginID, State: StateActive,
		StartedAtMs: row.CreatedAt.UnixMilli(), ExpiresAtMs: row.ExpiresAt.UnixMilli(),
	}
	if row.SnapshotVersion > 0 {
		if snap, err := s.eng.sessions.LoadSnapshot(ctx, s.id); err == nil && len(snap.Data) > 0 {
			var saved enginepb.Snapshot
			if err := proto.Unmarshal(snap.Data, &saved); err == nil {
				st = &saved
			} else {
				s.logger().Error("session snapshot unreadable; starting from the row", "err", err)
			}
		}
	}
	if row.EndedAt != nil {
		if st.State != StateBlocked {
			st.State = StateEnded
		}
		if row.Summary != nil {
			st.Events, st.Samples, st.DecisionSeq, st.Risk = row.Summary.Events, row.Summary.Samples, row.Summary.Decisions, row.Summary.FinalRisk
		}
	}
	s.adopt(st)
}

func (s *sessionActor) adopt(st *enginepb.Snapshot) {
	s.st = st
	s.win = newWindow(s.eng.policy.WindowEvents, float64(s.eng.policy.WindowDuration.Milliseconds()))
	s.keys = nil
	for _, e := range st.Window {
		w := weventOf(e)
		s.win.add(w)
		// Typing in progress (keys since a field's last commit) resumes where it was.
		switch w.kind {
		case enginepb.EventKind_EVENT_KIND_KEY:
			if acc := s.keyAcc(w.field); acc != nil {
				if w.phase == enginepb.Phase_PHASE_DOWN {
					acc.KeyDown(w.code, w.t)
				} else {
					acc.KeyUp(w.code, w.t)
				}
			}
		case enginepb.EventKind_EVENT_KIND_COMMIT:
			if acc := s.keys[w.field]; acc != nil {
				acc.Reset()
			}
		}
	}
	st.Window = nil
	s.publish()
}

func (s *sessionActor) start(m *enginepb.Start) *enginepb.StartReply {
	if s.st == nil {
		s.adopt(&enginepb.Snapshot{
			SessionId: m.SessionId, UserId: m.UserId, LoginId: m.LoginId, State: StateActive,
			StartedAtMs: time.Now().UnixMilli(), ExpiresAtMs: m.ExpiresAtMs,
		})
		s.markDirty()
	}
	return &enginepb.StartReply{State: s.st.State}
}

func (s *sessionActor) closedCode() (int32, string) {
	switch s.st.State {
	case StateBlocked:
		return CloseBlocked, "session blocked"
	case StateEnded:
		return CloseEnded, "session ended"
	}
	return 0, ""
}

func (s *sessionActor) attach(m *enginepb.Attach) *enginepb.AttachReply {
	if s.st == nil {
		return &enginepb.AttachReply{Error: codeNotFound}
	}
	code, _ := s.closedCode()
	if code == 0 {
		s.sub = actor.NewPID(m.Address, m.Id)
	}
	return &enginepb.AttachReply{State: s.st.State, CloseCode: code}
}

// events applies one client message: every event into the window and the sample assemblers, one decision per
// completed sample, in order, then the ack. A seq already applied is acknowledged again and not re-applied.
func (s *sessionActor) events(ctx actor.Context, m *enginepb.Events) *enginepb.EventsReply {
	if s.st == nil {
		return &enginepb.EventsReply{Error: codeNotFound}
	}
	if code, reason := s.closedCode(); code != 0 {
		return &enginepb.EventsReply{CloseCode: code, CloseReason: reason}
	}
	if m.Seq <= s.st.LastSeq {
		// Applied before: the client did not see the ack (its connection dropped). Its decisions go again, from
		// the ones the session keeps, so a reply lost with the connection is not lost to the client.
		r := &enginepb.EventsReply{AckSeq: m.Seq, Duplicate: true}
		for _, d := range s.st.Decisions {
			if d.EventSeq == m.Seq {
				r.Decisions = append(r.Decisions, d)
			}
		}
		return r
	}
	if m.Seq != s.st.LastSeq+1 {
		return &enginepb.EventsReply{Errors: []*enginepb.EventError{{
			Index: -1, Code: "invalid_seq", Message: "expected seq " + itoa(s.st.LastSeq+1) + " (resend the missing messages first)",
		}}}
	}
	reply := &enginepb.EventsReply{AckSeq: m.Seq, Errors: m.Rejected}
	s.eng.stats.events.Add(int64(len(m.Events)))
	// Every event first (the samples it completes wait in pending), then the samples' decisions, in order. So
	// the events after a sample that blocks are still counted and checked, but their samples are not decided.
	s.arena, s.pending = s.arena[:0], s.pending[:0]
	for i, e := range m.Events {
		s.st.Events++
		s.win.add(weventOf(e))
		smp, ok, evErr := s.assemble(e)
		if evErr != nil {
			reply.Errors = append(reply.Errors, &enginepb.EventError{Index: int32(i), Code: "invalid_event", Message: evErr.Error()})
			continue
		}
		if ok {
			s.pending = append(s.pending, smp)
		}
	}
	s.decideAll(ctx, m, reply)
	clear(s.pending) // their vectors: the arena is reused
	s.st.LastSeq = m.Seq
	s.markDirty()
	s.publish()
	return reply
}

func (s *sessionActor) keyAcc(field string) *features.KeystrokeAccumulator {
	if acc, ok := s.keys[field]; ok {
		return acc
	}
	if len(s.keys) >= maxFields {
		return nil
	}
	if s.keys == nil {
		s.keys = make(map[string]*features.KeystrokeAccumulator, 4)
	}
	acc := features.NewKeystrokeAccumulator(maxKeysEntry)
	s.keys[field] = acc
	return acc
}

// scratch returns room for a vector of n in the arena of the message being applied.
func (s *sessionActor) scratch(n int) []float32 {
	if cap(s.arena)-len(s.arena) < n {
		// A new array: the samples assembled so far keep theirs.
		s.arena = make([]float32, 0, max(2*cap(s.arena), n, 128))
	}
	at := len(s.arena)
	s.arena = s.arena[:at+n]
	return s.arena[at : at+n : at+n]
}

// assemble feeds one event to its modality's accumulator and returns a sample when the event completes one.
func (s *sessionActor) assemble(e *enginepb.Event) (sample, bool, error) {
	switch e.Kind {
	case enginepb.EventKind_EVENT_KIND_KEY:
		acc := s.keyAcc(e.Field)
		if acc == nil {
			return sample{}, false, errTooManyFields
		}
		if s.free == nil {
			s.free = features.NewFreeTextAccumulator(freeTextKeys)
		}
		if e.Phase == enginepb.Phase_PHASE_DOWN {
			if s.pendingCommit[e.Field] {
				// The entry committed while a key was held never saw that key's release: close it as it is
				// (rejected as incomplete) before the next entry starts.
				smp := s.commitSample(e.Field, acc)
				acc.KeyDown(e.Code, e.T)
				s.free.KeyDown(e.Code, e.T)
				return smp, true, nil
			}
			acc.KeyDown(e.Code, e.T)
			s.free.KeyDown(e.Code, e.T)
			return sample{}, false, nil
		}
		acc.KeyUp(e.Code, e.T)
		s.free.KeyUp(e.Code, e.T)
		if s.pendingCommit[e.Field] && acc.Pending() == 0 {
			return s.commitSample(e.Field, acc), true, nil
		}
		if s.free.Ready() {
			v := s.scratch(features.FreeTextDim)
			err := s.free.Flush(v)
			s.free.Reset()
			if err == nil {
				return sample{field: "", modality: "free_text", key: "kt", vec: v}, true, nil
			}
		}
		return sample{}, false, nil
	case enginepb.EventKind_EVENT_KIND_COMMIT:
		acc := s.keys[e.Field]
		if acc == nil || acc.Len() == 0 {
			return sample{}, false, errEmptyCommit
		}
		if acc.Pending() > 0 {
			// A commit often arrives before the last key's release (Enter pressed while the last letter is
			// still down): the sample completes with that release.
			if s.pendingCommit == nil {
				s.pendingCommit = make(map[string]bool, 2)
			}
			s.pendingCommit[e.Field] = true
			return sample{}, false, nil
		}
		return s.commitSample(e.Field, acc), true, nil
	case enginepb.EventKind_EVENT_KIND_POINTER:
		if s.pointer == nil {
			s.pointer = features.NewPointerAccumulator(features.PointerConfig{})
		}
		phase := features.PhaseMove
		switch e.Phase {
		case enginepb.Phase_PHASE_DOWN:
			phase = features.PhaseDown
		case enginepb.Phase_PHASE_UP:
			phase = features.PhaseUp
		}
		kind := s.ptrKind
		if phase == features.PhaseDown || kind == "" {
			s.ptrKind = e.Pointer
		}
		if !s.pointer.Append(features.Point{T: e.T, X: e.X, Y: e.Y, Pressure: e.Pressure}, phase) {
			return sample{}, false, nil
		}
		v := s.scratch(features.PointerDim)
		if err := s.pointer.Flush(v); err != nil {
			return sample{}, false, nil // a tap or a twitch: not a sample
		}
		mod := "pointer"
		if kind == "touch" {
			mod = "touch"
		}
		return sample{modality: mod, key: mod, vec: v}, true, nil
	case enginepb.EventKind_EVENT_KIND_MOTION:
		if s.motion == nil {
			s.motion = features.NewMotionAccumulator(features.MotionConfig{})
		}
		if !s.motion.Append(features.Motion{T: e.T, AX: e.Ax, AY: e.Ay, AZ: e.Az, GX: e.Gx, GY: e.Gy, GZ: e.Gz}) {
			return sample{}, false, nil
		}
		v := s.scratch(features.MotionDim)
		if err := s.motion.Flush(v); err != nil {
			return sample{}, false, nil
		}
		return sample{modality: "motion", key: "motion", vec: v}, true, nil
	}
	return sample{}, false, nil
}

// commitSample closes the typed entry of field into a keystroke sample.
func (s *sessionActor) commitSample(field string, acc *features.KeystrokeAccumulator) sample {
	delete(s.pendingCommit, field)
	v := s.scratch(max(acc.Dim(), 1))
	dim, fp, err := acc.Flush(v)
	acc.Reset()
	smp := sample{field: field, modality: "keystroke", key: "kf:" + field, fingerprint: fp}
	if err != nil {
		smp.err = err
		return smp
	}
	smp.vec = v[:dim]
	return smp
}

// decideAll decides the message's samples in order, until one blocks the session. Their scores come from one
// request to the profile (scoreBatch), which answers as one request per sample would have; a sample that its
// answer leaves out (the profile stopped at a failure) is scored alone, as it would have been.
func (s *sessionActor) decideAll(ctx actor.Context, m *enginepb.Events, reply *enginepb.EventsReply) {
	if len(s.pending) == 0 {
		return
	}
	scores, batchErr := s.scoreBatch()
	reply.Decisions = make([]*enginepb.Decision, 0, len(s.pending))
	// The copies of the vectors that go to the write-behind share one array per message.
	n := 0
	for _, smp := range s.pending {
		n += len(smp.vec)
	}
	s.kept = make([]float32, n)
	for i, smp := range s.pending {
		var pre scored
		if smp.err == nil {
			switch {
			case i < len(scores):
				pre = scored{reply: scores[i], ok: true}
				if e := scores[i].Error; e != "" {
					pre = scored{err: profileRefused(s.st.UserId, e), ok: true}
				}
			case batchErr != nil:
				// The profile did not answer the batch: each sample is decided without its score, rather than
				// waiting out a request of its own, so that a message's handling is bounded by one timeout.
				pre = scored{err: batchErr, ok: true}
			}
		}
		d := s.decide(ctx, m.Seq, m.ReceivedAtNs, smp, pre)
		reply.Decisions = append(reply.Decisions, d)
		if s.st.State == StateBlocked {
			reply.CloseCode, reply.CloseReason = CloseBlocked, "session blocked"
			return
		}
	}
}

// decisionCell is a decision and its sample, allocated together.
type decisionCell struct {
	d enginepb.Decision
	s enginepb.Sample
}

// scored is a sample's score obtained before its decision (ok), or a failure to obtain it.
type scored struct {
	reply *enginepb.ScoreReply
	err   error
	ok    bool
}

// scoreBatch asks the profile for the scores of the pending samples, in one request: all of them, the rejected
// ones (no vector) only so that the profile can follow their decisions. The profile learns from them while the
// session would stay active, as decide's requests one by one would. Nothing is asked when no sample has a vector.
func (s *sessionActor) scoreBatch() ([]*enginepb.ScoreReply, error) {
	if s.batch == nil {
		s.batch = &enginepb.ScoreBatch{}
	}
	b := s.batch
	b.Recent = append(b.Recent[:0], s.st.RecentScores...)
	all := b.Samples[:cap(b.Samples)]
	b.Samples = b.Samples[:0]
	learn := s.eng.health.PostgresUp() && s.st.State == StateActive
	seq := s.st.DecisionSeq
	scorable := false
	for _, smp := range s.pending {
		seq++ // the decision seq decide gives it
		scorable = scorable || smp.err == nil
		var q *enginepb.Score
		if n := len(b.Samples); n < len(all) && all[n] != nil {
			q = all[n]
		} else {
			q = &enginepb.Score{}
		}
		s.scoreRequest(q, seq, smp, learn)
		b.Samples = append(b.Samples, q)
	}
	if !scorable {
		return nil, nil
	}
	r, err := s.eng.scoreBatch(s.st.UserId, b, &s.profile)
	if err != nil {
		// The profile may still read the request and the vectors after the deadline: neither is reused.
		s.batch, s.arena = nil, nil
		return nil, err
	}
	return r.Replies, nil
}

// scoreRequest fills q to ask for the score of smp, the session's decision seq, learning from it or not.
func (s *sessionActor) scoreRequest(q *enginepb.Score, seq int64, smp sample, learn bool) {
	q.SessionId, q.SampleSeq, q.Key, q.Modality = s.id, seq, smp.key, smp.modality
	q.Vector, q.Fingerprint, q.Learn, q.Rejected = smp.vec, smp.fingerprint, learn, smp.err != nil
}

// decide fuses one sample's score (pre, or one asked for now) into the session risk, applies the policy and
// records the decision.
func (s *sessionActor) decide(ctx actor.Context, eventSeq, receivedAtNs int64, smp sample, pre scored) *enginepb.Decision {
	s.st.Samples++
	s.st.DecisionSeq++
	c := &decisionCell{}
	c.s.Field, c.s.Modality = smp.field, smp.modality
	d := &c.d
	d.Seq, d.EventSeq, d.AtMs, d.Sample = s.st.DecisionSeq, eventSeq, time.Now().UnixMilli(), &c.s
	degraded := !s.eng.health.PostgresUp()
	if smp.err != nil {
		d.Sample.Status = "rejected"
		d.Reasons = append(d.Reasons, "incomplete_keystrokes")
		d.Mode = ModeScoring
	} else {
		sc, err := pre.reply, pre.err
		if !pre.ok {
			// One request message per session, reused: the profile is done with it once it has answered (a
			// remote one had it serialized before). A request that got no answer may still be read (and the
			// vector in the arena with it), so both are dropped.
			if s.scoreMsg == nil {
				s.scoreMsg = &enginepb.Score{}
			}
			s.scoreRequest(s.scoreMsg, d.Seq, smp, !degraded && s.st.State == StateActive)
			sc, err = s.eng.score(s.st.UserId, s.scoreMsg, &s.profile)
			if err != nil {
				s.scoreMsg, s.arena = nil, nil
			}
		}
		if err != nil {
			degraded = true
			d.Reasons = append(d.Reasons, "profile_unreachable")
			d.Sample.Status = "rejected"
		} else {
			d.Sample.Status, d.Mode, d.Reasons = sc.Status, sc.Mode, sc.Reasons
			if sc.HasRisk {
				d.Sample.Risk, d.Sample.HasRisk = sc.Risk, true
				s.st.RecentScores = fuseAppend(s.st.RecentScores, sc.Risk)
				s.st.Risk = fuse(s.st.RecentScores)
			}
		}
	}
	d.Risk = s.st.Risk

	if degraded {
		if !s.eng.health.PostgresUp() {
			d.Reasons = append(d.Reasons, "postgres_unavailable")
		}
		d.Mode = ModeDegraded
		d.Action = s.eng.policy.DegradedAction
	} else {
		d.Action = verdict(&s.eng.policy, s.st.Risk, s.st.State == StateChallenged, d.Reasons)
	}
	if receivedAtNs > 0 {
		d.LatencyUs = (time.Now().UnixNano() - receivedAtNs) / 1e3
	}
	s.apply(ctx, d)
	s.record(d, smp)
	return d
}

// verdict is the policy's action, the session not degraded: at its fused risk, challenged or not, for a sample
// with these reasons. The profile applies it too, to stop a batch's learning where the session would
// (profileActor.scoreBatch).
func verdict(p *config.Policy, risk float64, challenged bool, reasons []string) string {
	switch {
	case risk >= p.BlockThreshold:
		return ActionBlock
	case risk >= p.ChallengeThreshold || challenged || suspicious(reasons):
		return ActionChallenge
	}
	return ActionAllow
}

// suspicious reports reasons that ask for a step-up whatever the distance says.
func suspicious(reasons []string) bool {
	for _, r := range reasons {
		if r == "replayed_sample" || r == "machine_regular_timing" || r == "near_known_fraud" {
			return true
		}
	}
	return false
}

// apply moves the session's state by the decision's action.
func (s *sessionActor) apply(ctx actor.Context, d *enginepb.Decision) {
	s.st.LastAction = d.Action
	switch d.Action {
	case ActionChallenge:
		if s.st.State == StateActive {
			s.st.State = StateChallenged
			s.st.ChallengedAtMs = time.Now().UnixMilli()
			at, self, sys := s.st.ChallengedAtMs, ctx.Self(), ctx.ActorSystem()
			time.AfterFunc(s.eng.policy.ChallengeTimeout, func() { sys.Root.Send(self, challengeExpired{challengedAt: at}) })
		}
	case ActionBlock:
		s.block(ctx, "risk")
	}
}

func (s *sessionActor) block(ctx actor.Context, why string) {
	s.st.State = StateBlocked
	s.logger().Warn("session blocked", "user_id", s.st.UserId, "why", why, "risk", s.st.Risk)
	s.eng.blocked(s.st.UserId, s.st.LoginId, s.id, why)
	s.finish(ctx, "blocked")
}

func (s *sessionActor) record(d *enginepb.Decision, smp sample) {
	s.st.Decisions = append(s.st.Decisions, d)
	if over := len(s.st.Decisions) - keepDecisions; over > 0 {
		s.st.Decisions = append(s.st.Decisions[:0], s.st.Decisions[over:]...)
	}
	pd := persistence.Decision{
		SessionID: s.id, Seq: d.Seq, EventSeq: d.EventSeq, At: time.UnixMilli(d.AtMs), Action: d.Action,
		Risk: d.Risk, Mode: d.Mode, Field: d.Sample.Field, Modality: d.Sample.Modality, Status: d.Sample.Status,
		Reasons: d.Reasons, LatencyUS: int(d.LatencyUs),
	}
	if d.Sample.HasRisk {
		pd.SampleRisk = &d.Sample.Risk // the decision is never changed once taken
	}
	if n := len(smp.vec); n > 0 {
		if len(s.kept) < n {
			s.kept = make([]float32, n)
		}
		pd.VectorKey, pd.Vector = smp.key, s.kept[:n:n]
		copy(pd.Vector, smp.vec)
		s.kept = s.kept[n:]
	}
	s.eng.writer.Add(pd)
	s.eng.metrics.decision(d)
	s.eng.stats.decision(d.Action, d.Mode, d.LatencyUs)
}

func (s *sessionActor) challengeExpired(ctx actor.Context, m challengeExpired) {
	if s.st == nil || s.st.State != StateChallenged || s.st.ChallengedAtMs != m.challengedAt {
		return
	}
	s.st.DecisionSeq++
	d := &enginepb.Decision{
		Seq: s.st.DecisionSeq, EventSeq: s.st.LastSeq, Action: ActionBlock, Risk: s.st.Risk, Mode: ModeScoring,
		Reasons: []string{"challenge_expired"}, AtMs: time.Now().UnixMilli(), Sample: &enginepb.Sample{},
	}
	s.record(d, sample{})
	s.push(&enginepb.Push{Decision: d})
	s.block(ctx, "challenge_expired")
}

func (s *sessionActor) challengeResult(ctx actor.Context, m *enginepb.ChallengeResult) *enginepb.ChallengeReply {
	if s.st == nil {
		return &enginepb.ChallengeReply{Error: codeNotFound}
	}
	switch s.st.State {
	case StateBlocked:
		return &enginepb.ChallengeReply{State: s.st.State, Error: codeBlocked}
	case StateEnded:
		return &enginepb.ChallengeReply{State: s.st.State, Error: codeEnded}
	}
	if s.st.State != StateChallenged {
		return &enginepb.ChallengeReply{State: s.st.State, Error: codeNotChallenged}
	}
	if m.Passed {
		// The owner proved themselves: the evidence that raised the risk is set aside.
		s.st.State, s.st.ChallengeFailures, s.st.ChallengedAtMs = StateActive, 0, 0
		s.st.RecentScores = nil
		s.st.Risk = 0
	} else {
		s.st.ChallengeFailures++
		if int(s.st.ChallengeFailures) >= s.eng.policy.ChallengeFailures {
			s.block(ctx, "challenge_failed")
		}
	}
	s.markDirty()
	s.publish()
	return &enginepb.ChallengeReply{State: s.st.State}
}

// end ends the session (idempotent) and answers with its summary.
func (s *sessionActor) end(ctx actor.Context, reason string) *enginepb.Summary {
	if s.st == nil {
		return &enginepb.Summary{Error: codeNotFound}
	}
	if s.st.State != StateEnded && s.st.State != StateBlocked {
		s.st.State = StateEnded
		s.push(&enginepb.Push{CloseCode: CloseEnded, CloseReason: "session ended"})
	}
	return s.finish(ctx, reason)
}

// finish writes the session's decisions and summary (the first summary stored wins, so every answer agrees) and
// audits the end.
func (s *sessionActor) finish(ctx actor.Context, reason string) *enginepb.Summary {
	s.stopTimer()
	s.markDirty()
	s.snapshot()
	dctx, cancel := context.WithTimeout(context.Background(), s.eng.dbTimeout)
	defer cancel()
	if err := s.eng.writer.Flush(dctx); err != nil {
		s.logger().Warn("session end: decisions not yet written; the write-behind keeps them", "err", err)
	}
	sum, err := s.eng.sessions.End(dctx, s.id, reason, persistence.Summary{
		SessionID: s.id, Events: s.st.Events, Samples: s.st.Samples, Decisions: s.st.DecisionSeq,
		FinalRisk: s.st.Risk, EndedAt: time.Now(), Reason: reason,
	})
	if err != nil {
		s.logger().Error("session end: summary not stored", "err", err)
		return &enginepb.Summary{Error: codeUnavailable}
	}
	s.publish()
	if s.st.State == StateBlocked {
		s.push(&enginepb.Push{CloseCode: CloseBlocked, CloseReason: "session blocked"})
	}
	s.sub = nil
	s.eng.ended(s.st.UserId, s.id, reason)
	return &enginepb.Summary{
		SessionId: s.id, Events: sum.Events, Samples: sum.Samples, Decisions: sum.Decisions,
		FinalRisk: sum.FinalRisk, EndedAtMs: sum.EndedAt.UnixMilli(), Reason: sum.Reason,
	}
}

func (s *sessionActor) push(p *enginepb.Push) {
	if s.sub != nil {
		s.eng.system.Root.Send(s.sub, p)
	}
}

func (s *sessionActor) status() *enginepb.Status {
	if s.st == nil {
		return &enginepb.Status{Error: codeNotFound}
	}
	return &enginepb.Status{
		SessionId: s.id, UserId: s.st.UserId, State: s.st.State, Risk: s.st.Risk, Events: s.st.Events,
		Samples: s.st.Samples, Decisions: s.st.Decisions, Node: s.eng.nodeName, StartedAtMs: s.st.StartedAtMs,
		LastAction: s.st.LastAction, LastSeq: s.st.LastSeq,
	}
}

// markDirty schedules a snapshot within the snapshot interval; an idle session holds no timer.
func (s *sessionActor) markDirty() {
	s.dirty = true
	if s.snapArmd || s.self == nil {
		return
	}
	s.snapArmd = true
	self, sys := s.self, s.eng.system
	s.timer = time.AfterFunc(s.eng.policy.SnapshotInterval, func() { sys.Root.Send(self, snapshotTick{}) })
}

func (s *sessionActor) snapshot() {
	if !s.dirty || s.st == nil {
		return
	}
	s.dirty = false
	s.st.Version++
	s.st.Window = s.win.toProto()
	data, err := proto.Marshal(s.st)
	s.st.Window = nil
	if err != nil {
		s.logger().Error("session snapshot", "err", err)
		return
	}
	s.eng.writer.Snapshot(persistence.Snapshot{
		SessionID: s.id, Version: s.st.Version, LastSeq: s.st.LastSeq, State: s.st.State, Risk: s.st.Risk,
		Events: s.st.Events, Samples: s.st.Samples, Decisions: s.st.DecisionSeq, Data: data,
	})
}

// publish updates the node's registry of live sessions (the operator view).
func (s *sessionActor) publish() {
	if s.st == nil {
		return
	}
	s.eng.registry.put(LiveSession{
		SessionID: s.id, UserID: s.st.UserId, State: s.st.State, Risk: s.st.Risk, LastAction: s.st.LastAction,
		Events: s.st.Events, Samples: s.st.Samples, Node: s.eng.nodeName, StartedAt: time.UnixMilli(s.st.StartedAtMs),
	})
	if s.st.State == StateEnded || s.st.State == StateBlocked {
		s.eng.registry.remove(s.id)
	}
}
