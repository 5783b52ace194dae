package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/persistence"
)

// Cluster kinds hosted by the engine.
const (
	KindSession = "session"
	KindProfile = "profile"
)

// Deps are what the engine needs from the rest of the node.
type Deps struct {
	Logger   *slog.Logger
	System   *actor.ActorSystem
	Sessions *persistence.Sessions
	Profiles *persistence.Profiles
	Feedback *persistence.FeedbackStore
	Meter    metric.MeterProvider
	// Tracer makes the spans of actor requests (nil: none).
	Tracer trace.TracerProvider
	// Ping checks Postgres for the health watcher.
	Ping func(context.Context) error
	// OnBlock revokes the tokens of a blocked session's login and audits it.
	OnBlock func(ctx context.Context, userID, loginID, sessionID, why string) error
	// OnEnd audits the end of a session.
	OnEnd func(ctx context.Context, userID, sessionID, reason string)
	// NodeName names this node in status answers and the operator view.
	NodeName string
}

// Engine owns the engine's actors on this node and is the transport's one door into them: each method sends
// one message to one actor and waits for its answer within the caller's deadline.
type Engine struct {
	log       *slog.Logger
	system    *actor.ActorSystem
	cluster   *cluster.Cluster
	policy    config.Policy
	idx       config.Index
	reqTO     time.Duration
	dbTimeout time.Duration
	nodeName  string

	sessions *persistence.Sessions
	profiles *persistence.Profiles
	feedback *persistence.FeedbackStore
	onBlock  func(ctx context.Context, userID, loginID, sessionID, why string) error
	onEnd    func(ctx context.Context, userID, sessionID, reason string)
	ping     func(context.Context) error

	tracer   trace.Tracer
	health   *Health
	writer   *Writer
	pool     *IndexPool
	registry *registry
	// dispatcher runs the mailboxes of this engine's actors on reused goroutines.
	dispatcher *workerDispatcher
	// replies are the reusable reply addresses of the engine's requests to actors.
	replies *replies
	// topology counts cluster topology changes: a cachedPID from an older one is looked up again.
	topology atomic.Uint64
	members  members
	metrics  *engineMetrics
	handoff  sync.Map // session id -> handoff from a crashed incarnation
	stats    counters

	rateMu                  sync.Mutex
	rateAt                  time.Time
	rateEvents, rateSamples int64
	faults                  func(kind string, msg any)

	bg     sync.WaitGroup
	cancel context.CancelFunc
}

// Option adjusts the engine.
type Option func(*Engine)

// WithFaultHook calls f with every message a session or profile actor receives, before it is handled. Tests
// use it to make an actor crash; production nodes never set it.
func WithFaultHook(f func(kind string, msg any)) Option { return func(e *Engine) { e.faults = f } }

// New builds the engine. Kinds gives the cluster kinds to register; Start begins its background work once the
// cluster member runs.
func New(cfg config.Config, d Deps, opts ...Option) (*Engine, error) {
	e := &Engine{
		log: d.Logger.With("component", "engine"), system: d.System, policy: cfg.Policy, idx: cfg.Index,
		reqTO: cfg.Cluster.RequestTimeout, dbTimeout: 3 * time.Second, nodeName: d.NodeName,
		sessions: d.Sessions, profiles: d.Profiles, feedback: d.Feedback,
		onBlock: d.OnBlock, onEnd: d.OnEnd, ping: d.Ping,
		health: &Health{}, registry: newRegistry(),
		dispatcher: newWorkerDispatcher(300, 64),
	}
	e.replies = newReplies(d.System, e.dispatcher, 1024)
	e.stats.startedAt = time.Now()
	for _, o := range opts {
		o(e)
	}
	tp := d.Tracer
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	e.tracer = tp.Tracer("github.com/behaviorauth/engine/actors")
	e.writer = NewWriter(d.Sessions, e.health, e.log, 50*time.Millisecond, 1_000_000)
	d.System.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			e.members.set(t)
			e.topology.Add(1)
		}
	})
	m, err := newEngineMetrics(d.Meter, e)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	e.pool = newIndexPool(e, cfg.Index)
	return e, nil
}

// Kinds returns the cluster kinds this node hosts, as its roles say.
func (e *Engine) Kinds(roles func(string) bool) []*cluster.Kind {
	var ks []*cluster.Kind
	if roles(KindSession) {
		ks = append(ks, cluster.NewKind(KindSession, actor.PropsFromProducer(func() actor.Actor { return newSessionActor(e) }, actor.WithDispatcher(e.dispatcher))))
	}
	if roles(KindProfile) {
		ks = append(ks, cluster.NewKind(KindProfile, actor.PropsFromProducer(func() actor.Actor { return newProfileActor(e) }, actor.WithDispatcher(e.dispatcher))))
	}
	return ks
}

// Start begins the engine's background work (write-behind, health watch, index pool) on a running member.
func (e *Engine) Start(c *cluster.Cluster) {
	e.cluster = c
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.pool.start()
	if _, err := e.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &opsActor{e: e} }), opsName); err != nil {
		e.log.Error("operator actor not started", "err", err)
	}
	e.bg.Add(3)
	go func() { defer e.bg.Done(); e.writer.Run(ctx) }()
	go func() { defer e.bg.Done(); e.applyPending(ctx, 10*time.Second) }()
	go func() { defer e.bg.Done(); e.health.watchPostgres(ctx, time.Second, e.ping) }()
}

// Stop flushes what the write-behind holds and stops the background work.
func (e *Engine) Stop() {
	if e.cancel != nil {
		e.cancel()
		e.bg.Wait()
	}
	e.pool.shutdown()
	e.dispatcher.stop()
}

// Health is the engine's view of its dependencies.
func (e *Engine) Health() *Health { return e.health }

// pid finds the activation of identity of kind, through the cluster's cache.
func (e *Engine) pid(identity, kind string) *actor.PID {
	if pid, ok := e.cluster.PidCache.Get(identity, kind); ok && pid != nil {
		return pid
	}
	pid := e.cluster.Get(identity, kind)
	if pid != nil {
		e.cluster.PidCache.Set(identity, kind, pid)
	}
	return pid
}

// request sends msg to the actor identity of kind and waits for the answer until ctx's deadline (at most the
// cluster request timeout). A dead activation (its member left, or it stopped) is looked up once more.
func (e *Engine) request(ctx context.Context, identity, kind string, msg any) (any, error) {
	timeout := e.within(ctx, e.reqTO)
	// A span per request inside a traced call (REST). The event path (EventsWithin) takes none: it is measured by
	// metrics, and a span per frame would cost more than the frame.
	if trace.SpanContextFromContext(ctx).IsValid() {
		var span trace.Span
		_, span = e.tracer.Start(ctx, "actor "+kind+" "+fmt.Sprintf("%T", msg), trace.WithAttributes(
			attribute.String("actor.kind", kind), attribute.String("actor.identity", identity)))
		defer span.End()
	}
	return e.requestWithin(identity, kind, msg, timeout, nil)
}

// within is how long a request may wait: d, at most the cluster request timeout, and never past ctx's deadline.
func (e *Engine) within(ctx context.Context, d time.Duration) time.Duration {
	d = min(d, e.reqTO)
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	return d
}

// cachedPID is a caller's own memory of the activation it asks again and again (a session its user's profile),
// sparing the cluster lookup per request. It holds only within one cluster topology, and until a request fails.
type cachedPID struct {
	pid *actor.PID
	gen uint64 // Engine.topology when pid was looked up
}

// requestWithin is request with its wait given as a duration: the event path's requests carry no context.
// cached, when not nil, is the caller's cachedPID for identity.
func (e *Engine) requestWithin(identity, kind string, msg any, timeout time.Duration, cached *cachedPID) (any, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, identity, ErrUnavailable)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			// The activation stopped (idle, or its member left): give the lookup a moment to notice.
			time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
		}
		var pid *actor.PID
		gen := e.topology.Load()
		if cached != nil && cached.pid != nil && cached.gen == gen && attempt == 0 {
			pid = cached.pid
		} else {
			pid = e.pid(identity, kind)
			if cached != nil {
				*cached = cachedPID{pid: pid, gen: gen}
			}
		}
		if pid == nil {
			lastErr = errors.New("no activation")
			e.cluster.PidCache.Remove(identity, kind)
			continue
		}
		res, err := e.replies.request(pid, msg, timeout)
		if err == nil {
			return res, nil
		}
		lastErr = err
		e.cluster.PidCache.Remove(identity, kind)
		if cached != nil {
			*cached = cachedPID{}
		}
		if !errors.Is(err, actor.ErrDeadLetter) {
			break
		}
	}
	return nil, fmt.Errorf("%s %s: %v: %w", kind, identity, lastErr, ErrUnavailable)
}

// askProfile sends m to the user's profile actor and returns its answer of type R; called from a session actor,
// so it waits at most half the request timeout, leaving the session time to answer its own caller.
func askProfile[R any](e *Engine, userID string, m any, cached *cachedPID) (R, error) {
	var zero R
	res, err := e.requestWithin(userID, KindProfile, m, e.reqTO/2, cached)
	if err != nil {
		return zero, err
	}
	r, ok := res.(R)
	if !ok {
		return zero, fmt.Errorf("profile %s: unexpected answer %T: %w", userID, res, ErrUnavailable)
	}
	return r, nil
}

// score asks the user's profile for one sample's score.
func (e *Engine) score(userID string, m *enginepb.Score, cached *cachedPID) (*enginepb.ScoreReply, error) {
	r, err := askProfile[*enginepb.ScoreReply](e, userID, m, cached)
	if err == nil && r.Error != "" {
		return nil, profileRefused(userID, r.Error)
	}
	return r, err
}

// profileRefused is the error of a score the profile answered with an error code.
func profileRefused(userID, code string) error {
	return fmt.Errorf("profile %s: %s: %w", userID, code, ErrUnavailable)
}

// scoreBatch asks the user's profile for the scores of a message's samples (see enginepb.ScoreBatch).
func (e *Engine) scoreBatch(userID string, m *enginepb.ScoreBatch, cached *cachedPID) (*enginepb.ScoreBatchReply, error) {
	return askProfile[*enginepb.ScoreBatchReply](e, userID, m, cached)
}

// blocked revokes the login's tokens (in the background, retried, so a slow database does not hold the actor).
func (e *Engine) blocked(userID, loginID, sessionID, why string) {
	if e.onBlock == nil {
		return
	}
	go func() {
		for attempt := 0; attempt < 10; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), e.dbTimeout)
			err := e.onBlock(ctx, userID, loginID, sessionID, why)
			cancel()
			if err == nil {
				return
			}
			e.log.Warn("revoking a blocked session's login failed; retrying", "session_id", sessionID, "err", err)
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
		}
	}()
}

func (e *Engine) ended(userID, sessionID, reason string) {
	if e.onEnd == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.dbTimeout)
		defer cancel()
		e.onEnd(ctx, userID, sessionID, reason)
	}()
}

// StartSession activates the session actor of a session that the accounts service has just created.
func (e *Engine) StartSession(ctx context.Context, sessionID, userID, loginID string, expiresAt time.Time) error {
	res, err := e.request(ctx, sessionID, KindSession, &enginepb.Start{
		SessionId: sessionID, UserId: userID, LoginId: loginID, ExpiresAtMs: expiresAt.UnixMilli(),
	})
	if err != nil {
		return err
	}
	if r, ok := res.(*enginepb.StartReply); !ok || r.Error != "" {
		return fmt.Errorf("start session %s: %w", sessionID, ErrUnavailable)
	}
	return nil
}

// Events sends one client `events` message to its session.
func (e *Engine) Events(ctx context.Context, sessionID string, m *enginepb.Events) (*enginepb.EventsReply, error) {
	return e.EventsWithin(ctx, sessionID, m, e.reqTO)
}

// EventsWithin is Events waiting at most timeout (and never past ctx's deadline or the cluster request
// timeout): the transport's call per frame, which would otherwise build a deadline context (and its timer) per
// frame.
func (e *Engine) EventsWithin(ctx context.Context, sessionID string, m *enginepb.Events, timeout time.Duration) (*enginepb.EventsReply, error) {
	res, err := e.requestWithin(sessionID, KindSession, m, e.within(ctx, timeout), nil)
	if err != nil {
		return nil, err
	}
	r, ok := res.(*enginepb.EventsReply)
	if !ok {
		return nil, fmt.Errorf("session %s: unexpected answer %T: %w", sessionID, res, ErrUnavailable)
	}
	if r.Error != "" {
		return nil, fmt.Errorf("session %s: %w", sessionID, codeErr(r.Error))
	}
	return r, nil
}

// Attach makes sub receive the session's pushes. It answers the session's state and, when the session can no
// longer take events, the close code.
func (e *Engine) Attach(ctx context.Context, sessionID string, sub *actor.PID) (string, int32, error) {
	res, err := e.request(ctx, sessionID, KindSession, &enginepb.Attach{Address: sub.Address, Id: sub.Id})
	if err != nil {
		return "", 0, err
	}
	r, ok := res.(*enginepb.AttachReply)
	if !ok {
		return "", 0, fmt.Errorf("session %s: unexpected answer %T: %w", sessionID, res, ErrUnavailable)
	}
	return r.State, r.CloseCode, codeErr(r.Error)
}

// Detach stops pushes to sub (fire and forget).
func (e *Engine) Detach(sessionID string, sub *actor.PID) {
	if pid := e.pid(sessionID, KindSession); pid != nil {
		e.system.Root.Send(pid, &enginepb.Detach{Address: sub.Address, Id: sub.Id})
	}
}

// Status answers a session's state, risk, counts and last decisions.
func (e *Engine) Status(ctx context.Context, sessionID string) (*enginepb.Status, error) {
	res, err := e.request(ctx, sessionID, KindSession, &enginepb.StatusRequest{})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*enginepb.Status)
	if !ok {
		return nil, fmt.Errorf("session %s: unexpected answer %T: %w", sessionID, res, ErrUnavailable)
	}
	return r, codeErr(r.Error)
}

// Challenge tells the session how its step-up went and answers its new state.
func (e *Engine) Challenge(ctx context.Context, sessionID string, passed bool) (string, error) {
	res, err := e.request(ctx, sessionID, KindSession, &enginepb.ChallengeResult{Passed: passed})
	if err != nil {
		return "", err
	}
	r, ok := res.(*enginepb.ChallengeReply)
	if !ok {
		return "", fmt.Errorf("session %s: unexpected answer %T: %w", sessionID, res, ErrUnavailable)
	}
	return r.State, codeErr(r.Error)
}

// End ends a session (idempotent) and answers its summary.
func (e *Engine) End(ctx context.Context, sessionID, reason string) (*enginepb.Summary, error) {
	res, err := e.request(ctx, sessionID, KindSession, &enginepb.End{Reason: reason})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*enginepb.Summary)
	if !ok {
		return nil, fmt.Errorf("session %s: unexpected answer %T: %w", sessionID, res, ErrUnavailable)
	}
	return r, codeErr(r.Error)
}

// Feedback hands a stored feedback to the user's profile, which adapts from it.
func (e *Engine) Feedback(ctx context.Context, userID string, fb *enginepb.Feedback) error {
	res, err := e.request(ctx, userID, KindProfile, fb)
	if err != nil {
		return err
	}
	r, ok := res.(*enginepb.FeedbackReply)
	if !ok {
		return fmt.Errorf("profile %s: unexpected answer %T: %w", userID, res, ErrUnavailable)
	}
	return codeErr(r.Error)
}

// Profile answers a user's enrollment state per field.
func (e *Engine) Profile(ctx context.Context, userID string) (*enginepb.Profile, error) {
	res, err := e.request(ctx, userID, KindProfile, &enginepb.ProfileRequest{})
	if err != nil {
		return nil, err
	}
	r, ok := res.(*enginepb.Profile)
	if !ok {
		return nil, fmt.Errorf("profile %s: unexpected answer %T: %w", userID, res, ErrUnavailable)
	}
	return r, codeErr(r.Error)
}

// LiveSession is what the operator view shows of a live session on this node.
type LiveSession struct {
	SessionID  string    `json:"session_id"`
	UserID     string    `json:"user_id"`
	State      string    `json:"state"`
	Risk       float64   `json:"risk"`
	LastAction string    `json:"last_action"`
	Events     int64     `json:"events"`
	Samples    int64     `json:"samples"`
	Node       string    `json:"node"`
	StartedAt  time.Time `json:"started_at"`
}

// LiveSessions lists this node's live sessions, newest first.
func (e *Engine) LiveSessions() []LiveSession { return e.registry.list() }

type registry struct {
	mu   sync.RWMutex
	live map[string]LiveSession
}

func newRegistry() *registry { return &registry{live: make(map[string]LiveSession)} }

func (r *registry) put(s LiveSession) {
	r.mu.Lock()
	r.live[s.SessionID] = s
	r.mu.Unlock()
}

func (r *registry) remove(id string) {
	r.mu.Lock()
	delete(r.live, id)
	r.mu.Unlock()
}

func (r *registry) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.live)
}

func (r *registry) list() []LiveSession {
	r.mu.RLock()
	out := make([]LiveSession, 0, len(r.live))
	for _, s := range r.live {
		out = append(out, s)
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	return out
}

// SubmitFeedback stores a feedback (so it is never lost once accepted) and hands it to the owner's profile. If
// the profile cannot take it now, it stays pending and the engine applies it later (see applyPending).
func (e *Engine) SubmitFeedback(ctx context.Context, fb persistence.Feedback) (string, error) {
	id, err := e.feedback.Insert(ctx, fb)
	if err != nil {
		return "", err
	}
	stored := fb
	stored.ID = id
	if stored.UserID == "" {
		if s, err := e.sessions.Get(ctx, fb.SessionID); err == nil {
			stored.UserID = s.UserID
		}
	}
	// The profile reads the session's sample vectors from Postgres: first write what this node's write-behind
	// still holds (the latest samples of a session that lives here), or feedback sent right after a decision
	// would miss the samples it is about.
	if err := e.writer.Flush(ctx); err != nil {
		e.log.Warn("feedback: write-behind not flushed; the newest samples may be left out", "feedback_id", id, "err", err)
	}
	if err := e.Feedback(ctx, stored.UserID, feedbackMsg(stored)); err != nil {
		e.log.Warn("feedback stored; the profile will apply it later", "feedback_id", id, "err", err)
	}
	return id, nil
}

func feedbackMsg(fb persistence.Feedback) *enginepb.Feedback {
	m := &enginepb.Feedback{FeedbackId: fb.ID, SessionId: fb.SessionID, Label: fb.Label}
	if fb.DecisionSeq != nil {
		m.DecisionSeq = *fb.DecisionSeq
	}
	return m
}

// applyPending retries feedback accepted while its profile could not take it, every interval until ctx ends.
func (e *Engine) applyPending(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, e.dbTimeout)
		pending, err := e.feedback.Pending(lctx, 100)
		cancel()
		if err != nil {
			continue
		}
		for _, fb := range pending {
			if time.Since(fb.At) < interval {
				continue // just submitted: its own request is still applying it
			}
			rctx, cancel := context.WithTimeout(ctx, e.reqTO)
			if err := e.Feedback(rctx, fb.UserID, feedbackMsg(fb)); err != nil {
				e.log.Debug("pending feedback not applied yet", "feedback_id", fb.ID, "err", err)
			}
			cancel()
		}
	}
}

// System is the node's actor system (the transport spawns its per-connection push receivers in it).
func (e *Engine) System() *actor.ActorSystem { return e.system }
