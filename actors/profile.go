package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/scoring"
)

// fraudRadius is the RMS distance, in the user's own standard deviations, at which a sample's closeness to a
// known fraud vector counts for half: an impostor's repetitions scatter about that much in the owner's units.
const fraudRadius = 1.0

// fraudLimit bounds the fraud vectors loaded per key.
const fraudLimit = 1000

// fraudRefresh is how often a profile reloads the global fraud vectors another user's feedback may have added.
const fraudRefresh = 30 * time.Second

// Local messages of the profile actor.
type (
	saveDone struct {
		version int64
		keys    map[string]int64 // key -> version saved at
		err     error
		by      *profileActor // the incarnation that started the save
	}
)

// fieldModel is one field's or modality's template set and its bookkeeping.
type fieldModel struct {
	key      string
	modality scoring.Modality
	set      *scoring.TemplateSet
	version  int64 // profile version this template was loaded or saved at (0: new)
	dirty    bool
	samples  int

	ix    scoring.Index // the templates' index in the pool (kept: building the handle allocates)
	ixDim int           // the length ix was made for

	fraudN      int              // fraud vectors in the fraud index (0: none)
	fraudLoaded time.Time        // when the fraud vectors were last loaded
	fraud       scoring.FraudSet // identity standardization: the index holds vectors already in the user's space
}

// profileActor is one user's behavioral profile (cluster kind "profile", identity = user id).
type profileActor struct {
	eng    *Engine
	log    *slog.Logger
	userID string
	self   *actor.PID

	loaded  bool
	retryAt time.Time
	version int64
	fields  map[string]*fieldModel
	saving  bool
	// inflight receives the outcome of the save in flight too, for a stop or restart that must wait for it.
	inflight chan saveDone
	learned  map[string]int64 // session id -> last sample seq learned, so a retried Score is learned once

	sc     *scoring.Scratch
	res    scoring.Result
	query  []float32
	recent []float64 // scoreBatch's copy of the session's recent scores
}

func newProfileActor(eng *Engine) actor.Actor {
	return &profileActor{
		eng: eng, log: eng.log, fields: make(map[string]*fieldModel), learned: make(map[string]int64),
		sc:    scoring.NewScratch(scoring.MaxDim, 64),
		query: make([]float32, scoring.MaxDim),
	}
}

func (p *profileActor) Receive(ctx actor.Context) {
	msg := ctx.Message()
	if p.eng.faults != nil {
		p.eng.faults(KindProfile, msg)
	}
	switch m := msg.(type) {
	case *actor.Started:
		p.self = ctx.Self()
		ctx.SetReceiveTimeout(p.eng.idx.IdleEvict)
	case *cluster.ClusterInit:
		p.userID = m.Identity.Identity
		p.log = p.eng.log.With("user_id", p.userID)
		p.load()
	case *enginepb.Score:
		ctx.Respond(p.score(m))
	case *enginepb.ScoreBatch:
		ctx.Respond(p.scoreBatch(m))
	case *enginepb.Feedback:
		ctx.Respond(p.feedback(m))
	case *enginepb.ProfileRequest:
		ctx.Respond(p.profile())
	case saveDone:
		if m.by == p { // a crashed incarnation's save was settled in its Restarting
			p.saved(m)
		}
	case *actor.ReceiveTimeout:
		if !p.saving && !p.anyDirty() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping, *actor.Restarting:
		// Let the save in flight land first: a save now would conflict with it (and be lost), and the next
		// activation, which loads from Postgres, would miss both.
		p.settleSave()
		p.saveSync()
		for _, f := range p.fields {
			p.eng.pool.Drop(p.indexKey(f.key))
			p.eng.pool.Drop(p.fraudKey(f.key))
		}
	}
}

func (p *profileActor) indexKey(key string) string { return "t/" + p.userID + "/" + key }
func (p *profileActor) fraudKey(key string) string { return "f/" + p.userID + "/" + key }

// fraudStoreKey is where fraud vectors of key are kept: a fixed text's vectors only mean something for the
// user whose secret it is; the other modalities share one global set.
func (p *profileActor) fraudStoreKey(f *fieldModel) string {
	if f.modality == scoring.ModalityKeystroke {
		return p.userID + "/" + f.key
	}
	return f.key
}

func (p *profileActor) scoringConfig() scoring.Config {
	return scoring.Config{
		EnrollmentSize: p.eng.policy.EnrollmentSamples,
		MaxTemplates:   p.eng.policy.MaxTemplates,
		K:              p.eng.idx.Neighbors,
	}
}

// load reads the user's templates from Postgres. On failure the profile answers "unavailable" (sessions decide
// in degraded mode) and retries on later messages.
func (p *profileActor) load() bool {
	if p.loaded {
		return true
	}
	if time.Now().Before(p.retryAt) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.eng.dbTimeout)
	defer cancel()
	prof, err := p.eng.profiles.Load(ctx, p.userID)
	if err != nil {
		p.retryAt = time.Now().Add(time.Second)
		p.log.Warn("profile load failed; scoring degraded until it succeeds", "err", err)
		return false
	}
	p.version = prof.Version
	for _, t := range prof.Templates {
		mod, ok := parseModality(t.Modality)
		if !ok {
			p.log.Error("profile template of unknown modality skipped", "key", t.Key, "modality", t.Modality)
			continue
		}
		set, err := scoring.NewTemplateSet(mod, p.scoringConfig())
		if err == nil {
			err = set.UnmarshalBinary(t.Data)
		}
		if err != nil {
			p.log.Error("profile template unreadable; it enrolls again", "key", t.Key, "err", err)
			continue
		}
		p.fields[t.Key] = &fieldModel{key: t.Key, modality: mod, set: set, version: t.Version, samples: t.Samples}
	}
	p.loaded = true
	return true
}

func parseModality(s string) (scoring.Modality, bool) {
	for m := scoring.ModalityKeystroke; m <= scoring.ModalityMotion; m++ {
		if m.String() == s {
			return m, true
		}
	}
	return 0, false
}

func (p *profileActor) field(key, modality string) (*fieldModel, error) {
	if f, ok := p.fields[key]; ok {
		return f, nil
	}
	mod, ok := parseModality(modality)
	if !ok {
		return nil, fmt.Errorf("modality %q: %w", modality, ErrInvalid)
	}
	set, err := scoring.NewTemplateSet(mod, p.scoringConfig())
	if err != nil {
		return nil, err
	}
	f := &fieldModel{key: key, modality: mod, set: set}
	p.fields[key] = f
	return f, nil
}

// withIndex runs op on the field's index in the pool, rebuilding the index from the templates once if the pool
// lost it (evicted, or its actor crashed).
func (p *profileActor) withIndex(f *fieldModel, op func(scoring.Index) error) error {
	if f.ix == nil || f.ixDim != f.set.Dim() {
		f.ix, f.ixDim = p.eng.pool.Handle(p.indexKey(f.key), f.set.Dim()), f.set.Dim()
	}
	h := f.ix
	err := op(h)
	if err == nil || !errors.Is(err, ErrIndexMissing) {
		return err
	}
	if err := f.set.LoadIndex(h); err != nil {
		return fmt.Errorf("rebuild index of %s: %w", f.key, err)
	}
	return op(h)
}

// score enrolls or scores one sample.
func (p *profileActor) score(m *enginepb.Score) *enginepb.ScoreReply {
	if !p.load() {
		return &enginepb.ScoreReply{Error: codeUnavailable}
	}
	f, err := p.field(m.Key, m.Modality)
	if err != nil {
		return &enginepb.ScoreReply{Error: codeInvalid}
	}
	s := scoring.Sample{Vec: m.Vector, Fingerprint: m.Fingerprint}
	learn := m.Learn && p.firstTime(m.SessionId, m.SampleSeq)

	if !f.set.Ready() {
		if !learn {
			return &enginepb.ScoreReply{Status: "rejected", Mode: ModeEnrolling, Reasons: []string{string(scoring.ReasonNotEnoughEvidence)}}
		}
		prog, err := f.set.Enroll(s)
		if err != nil {
			return &enginepb.ScoreReply{Status: "rejected", Mode: ModeEnrolling, Reasons: []string{enrollReason(f.modality, err)}}
		}
		f.samples++
		f.dirty = true
		if prog.Done() {
			if err := p.withIndex(f, f.set.Train); err != nil {
				p.log.Error("training failed; enrollment goes on", "key", f.key, "err", err)
			} else {
				p.log.Info("field enrolled", "key", f.key, "samples", f.set.Len())
			}
		}
		p.saveAsync()
		return &enginepb.ScoreReply{Status: "enrolled", Mode: ModeEnrolling, Reasons: []string{string(scoring.ReasonNotEnoughEvidence)}}
	}

	err = p.withIndex(f, func(idx scoring.Index) error { return f.set.Score(s, idx, p.sc, &p.res) })
	if err != nil {
		if errors.Is(err, scoring.ErrDimension) || errors.Is(err, scoring.ErrInvalidSample) {
			return &enginepb.ScoreReply{Status: "rejected", Mode: ModeScoring, Reasons: []string{enrollReason(f.modality, err)}}
		}
		p.log.Warn("scoring failed", "key", f.key, "err", err)
		return &enginepb.ScoreReply{Error: codeUnavailable}
	}
	if p.res.Status == scoring.StatusScored {
		p.fraudCheck(f, s)
	}
	reply := &enginepb.ScoreReply{Status: statusWire(p.res.Status), Mode: ModeScoring}
	for _, r := range p.res.Reasons() {
		reply.Reasons = append(reply.Reasons, string(r))
	}
	if p.res.Status == scoring.StatusScored {
		reply.Risk, reply.HasRisk = wireRisk(p.res.Risk, p.res.RiskThreshold), true
		if learn && p.eng.policy.Adaptation == "auto" && reply.Risk < 0.25 && len(p.res.Reasons()) == 1 {
			p.adapt(f, s)
		}
	}
	return reply
}

// scoreBatch scores a message's samples in order, exactly as the session's requests one per sample would be
// answered: it follows the session's fused risk from m.Recent, learns only until a sample's decision would not
// be allow (the session then leaves the active state, and its later requests would not ask to learn), and stops
// after a sample that would block (the session stops there) or that fails (the session decides it degraded and
// scores the rest alone). A rejected sample (no vector) is not scored, but its decision counts like the others'.
func (p *profileActor) scoreBatch(m *enginepb.ScoreBatch) *enginepb.ScoreBatchReply {
	r := &enginepb.ScoreBatchReply{Replies: make([]*enginepb.ScoreReply, 0, len(m.Samples))}
	recent := append(p.recent[:0], m.Recent...)
	learn := true
	for _, q := range m.Samples {
		var v string
		if q.Rejected {
			// Not scored: the session decides it at the risk so far, for a reason that is not suspicious.
			r.Replies = append(r.Replies, &enginepb.ScoreReply{})
			v = verdict(&p.eng.policy, fuse(recent), false, nil)
		} else {
			q.Learn = q.Learn && learn
			sc := p.score(q)
			r.Replies = append(r.Replies, sc)
			if sc.Error != "" {
				break
			}
			if sc.HasRisk {
				recent = fuseAppend(recent, sc.Risk)
			}
			v = verdict(&p.eng.policy, fuse(recent), false, sc.Reasons)
		}
		if v == ActionBlock {
			break
		}
		learn = learn && v == ActionAllow
	}
	p.recent = recent
	return r
}

// wireRisk maps a calibrated risk to the session's scale, where the user's own threshold sits at 0.5: the
// owner's samples fall mostly in [0, 0.5], and only samples beyond the owner's usual spread rise above it.
// The map is increasing, so it keeps the detector's ranking (and its error rates).
func wireRisk(r, thr float64) float64 {
	if !(thr > 0 && thr < 1) {
		return r
	}
	if r <= thr {
		return 0.5 * r / thr
	}
	return min(1, 0.5+0.5*(r-thr)/(1-thr))
}

func statusWire(s scoring.Status) string {
	switch s {
	case scoring.StatusScored:
		return "scored"
	case scoring.StatusRejected:
		return "rejected"
	}
	return "enrolled"
}

// enrollReason names why a sample was refused. A fixed field's entry of another length is another key
// sequence (a key more or less) and is named like one of the same length in another order.
func enrollReason(m scoring.Modality, err error) string {
	switch {
	case m == scoring.ModalityKeystroke && errors.Is(err, scoring.ErrDimension):
		return string(scoring.ReasonKeySequenceMismatch)
	case errors.Is(err, scoring.ErrSequenceMismatch):
		return string(scoring.ReasonKeySequenceMismatch)
	case errors.Is(err, scoring.ErrReplayed):
		return string(scoring.ReasonReplayedSample)
	case errors.Is(err, scoring.ErrMachineTiming):
		return string(scoring.ReasonMachineRegularTiming)
	case errors.Is(err, scoring.ErrDimension):
		return "sample_shape_mismatch"
	}
	return "sample_invalid"
}

// firstTime reports whether this session's sample seq was not learned yet (a Score retried after a timeout
// must not enroll the same sample twice).
func (p *profileActor) firstTime(sessionID string, seq int64) bool {
	if last, ok := p.learned[sessionID]; ok && seq <= last {
		return false
	}
	if len(p.learned) > 1024 {
		clear(p.learned)
	}
	p.learned[sessionID] = seq
	return true
}

// adapt adds a genuine sample to a trained set and brings the index and calibration in step.
func (p *profileActor) adapt(f *fieldModel, s scoring.Sample) {
	u, err := f.set.AddGenuine(s)
	if err != nil {
		p.log.Warn("adaptation refused", "key", f.key, "err", err)
		return
	}
	err = p.withIndex(f, func(idx scoring.Index) error {
		if err := scoring.ApplyIndexUpdate(idx, u); err != nil {
			return err
		}
		return f.set.Calibrate(idx)
	})
	if err != nil {
		p.log.Warn("adaptation: index update failed; it is rebuilt on next use", "key", f.key, "err", err)
		p.eng.pool.Drop(p.indexKey(f.key))
	}
	f.samples++
	f.dirty = true
	p.saveAsync()
}

// isTemplate reports whether s is one of f's templates already: its standardized vector is at distance zero from
// one in the index. Adding a template twice would give it a twin at distance zero and make the user's calibrated
// spread narrower than their typing.
func (p *profileActor) isTemplate(f *fieldModel, s scoring.Sample) bool {
	q := p.query[:f.set.Dim()]
	if f.set.Query(s, q) != nil {
		return false
	}
	var dist [1]float32
	var label [1]int64
	err := p.withIndex(f, func(idx scoring.Index) error { return idx.SearchInto(q, 1, dist[:], label[:]) })
	return err == nil && label[0] >= 0 && dist[0] <= 1e-9
}

// fraudCheck raises the risk of a sample close to vectors labeled fraud for this field (its own fixed text) or
// modality (every user's), compared in the user's standardized space.
func (p *profileActor) fraudCheck(f *fieldModel, s scoring.Sample) {
	if time.Since(f.fraudLoaded) > fraudRefresh {
		p.loadFraud(f)
	}
	if f.fraudN == 0 {
		return
	}
	q := p.query[:f.set.Dim()]
	if err := f.set.Query(s, q); err != nil {
		return
	}
	h := p.eng.pool.Handle(p.fraudKey(f.key), len(q))
	match, err := f.fraud.Match(q, h, p.sc)
	if errors.Is(err, ErrIndexMissing) {
		p.loadFraud(f)
		match, err = f.fraud.Match(q, h, p.sc)
	}
	if err != nil {
		p.log.Warn("fraud search failed", "key", f.key, "err", err)
		return
	}
	p.res.AddFraud(match)
}

// loadFraud (re)builds the field's fraud index from Postgres, standardized like the user's templates.
func (p *profileActor) loadFraud(f *fieldModel) {
	f.fraudLoaded = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), p.eng.dbTimeout)
	defer cancel()
	vecs, err := p.eng.feedback.FraudVectors(ctx, p.fraudStoreKey(f), fraudLimit)
	if err != nil {
		p.log.Warn("fraud vectors not loaded", "key", f.key, "err", err)
		return
	}
	dim := f.set.Dim()
	if len(f.fraud.Mean) != dim {
		f.fraud = scoring.FraudSet{Modality: f.modality, Mean: zeros(dim), Std: ones(dim), Radius: fraudRadius}
	}
	flat := make([]float32, 0, len(vecs)*dim)
	ids := make([]int64, 0, len(vecs))
	z := make([]float32, dim)
	for i, v := range vecs {
		if len(v) != dim || f.set.Query(scoring.Sample{Vec: v, Fingerprint: f.set.Fingerprint()}, z) != nil {
			continue
		}
		flat = append(flat, z...)
		ids = append(ids, int64(i))
	}
	h := p.eng.pool.Handle(p.fraudKey(f.key), dim)
	if err := h.Reset(); err != nil {
		p.log.Warn("fraud index reset failed", "key", f.key, "err", err)
		return
	}
	if len(ids) > 0 {
		if err := h.AddWithIDs(flat, ids); err != nil {
			p.log.Warn("fraud index fill failed", "key", f.key, "err", err)
			return
		}
	}
	f.fraudN = len(ids)
}

func zeros(n int) []float32 { return make([]float32, n) }

func ones(n int) []float32 {
	o := make([]float32, n)
	for i := range o {
		o[i] = 1
	}
	return o
}

// feedback applies a label to a session's sample vectors: genuine ones adapt the templates (unless adaptation
// is off), fraud ones join the fraud vectors so that close samples score riskier from the next one on.
func (p *profileActor) feedback(m *enginepb.Feedback) *enginepb.FeedbackReply {
	if !p.load() {
		return &enginepb.FeedbackReply{Error: codeUnavailable}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*p.eng.dbTimeout)
	defer cancel()
	var seq *int64
	if m.DecisionSeq > 0 {
		seq = &m.DecisionSeq
	}
	vecs, err := p.eng.sessions.SampleVectors(ctx, m.SessionId, seq)
	if err != nil {
		p.log.Warn("feedback: sample vectors not loaded", "session_id", m.SessionId, "err", err)
		return &enginepb.FeedbackReply{Error: codeUnavailable}
	}
	byKey := map[string][][]float32{}
	for _, v := range vecs {
		byKey[v.Key] = append(byKey[v.Key], v.Vector)
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		f, ok := p.fields[key]
		if !ok || !f.set.Ready() {
			continue
		}
		switch m.Label {
		case persistence.FeedbackGenuine:
			if p.eng.policy.Adaptation == "off" {
				continue
			}
			for _, v := range byKey[key] {
				s := scoring.Sample{Vec: v, Fingerprint: f.set.Fingerprint()}
				if p.isTemplate(f, s) {
					continue // enrolled in this session, or feedback given twice: a twin would shrink the spread
				}
				p.adapt(f, s)
			}
		case persistence.FeedbackFraud:
			if err := p.eng.feedback.AddFraudVectors(ctx, p.fraudStoreKey(f), f.set.Dim(), byKey[key], m.SessionId); err != nil {
				p.log.Warn("feedback: fraud vectors not stored", "key", key, "err", err)
				return &enginepb.FeedbackReply{Error: codeUnavailable}
			}
			p.loadFraud(f)
		}
	}
	if m.FeedbackId != "" {
		if err := p.eng.feedback.MarkApplied(ctx, m.FeedbackId); err != nil {
			p.log.Warn("feedback applied but not marked", "feedback_id", m.FeedbackId, "err", err)
		}
	}
	return &enginepb.FeedbackReply{Applied: true}
}

func (p *profileActor) profile() *enginepb.Profile {
	if !p.load() {
		return &enginepb.Profile{Error: codeUnavailable}
	}
	out := &enginepb.Profile{UserId: p.userID, Version: p.version}
	keys := make([]string, 0, len(p.fields))
	for k := range p.fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := p.fields[k]
		name := f.modality.String()
		if after, ok := strings.CutPrefix(k, "kf:"); ok {
			name = after
		}
		_, thr := f.set.Threshold()
		fi := &enginepb.FieldInfo{Field: name, Modality: f.modality.String(), Samples: int32(f.set.Len()), Enrolled: f.set.Ready()}
		if f.set.Ready() {
			fi.Threshold = wireRisk(thr, thr)
		}
		out.Fields = append(out.Fields, fi)
	}
	return out
}

func (p *profileActor) anyDirty() bool {
	for _, f := range p.fields {
		if f.dirty {
			return true
		}
	}
	return false
}

// templates encodes the dirty template sets for a save.
func (p *profileActor) templates() ([]persistence.Template, map[string]int64) {
	var ts []persistence.Template
	keys := map[string]int64{}
	for _, f := range p.fields {
		if !f.dirty {
			continue
		}
		data, err := f.set.MarshalBinary()
		if err != nil {
			p.log.Error("template not encodable", "key", f.key, "err", err)
			continue
		}
		_, thr := f.set.Threshold()
		t := persistence.Template{
			Key: f.key, Modality: f.modality.String(), Samples: f.set.Len(), Enrolled: f.set.Ready(),
			Threshold: thr, Data: data, Version: f.version,
		}
		if fp := f.set.Fingerprint(); fp != 0 {
			v := int64(fp)
			t.SeqFingerprint = &v
		}
		ts = append(ts, t)
		keys[f.key] = f.version
		f.dirty = false
	}
	return ts, keys
}

// saveAsync writes the dirty templates behind the decision path; one save at a time per profile.
func (p *profileActor) saveAsync() {
	if p.saving || p.self == nil {
		return
	}
	ts, keys := p.templates()
	if len(ts) == 0 {
		return
	}
	p.saving = true
	done := make(chan saveDone, 1)
	p.inflight = done
	self, sys, store, user, timeout, by := p.self, p.eng.system, p.eng.profiles, p.userID, p.eng.dbTimeout, p
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		v, err := store.SaveTemplates(ctx, user, ts)
		r := saveDone{version: v, keys: keys, err: err, by: by}
		done <- r
		sys.Root.Send(self, r)
	}()
}

// settleSave waits, within the database timeout, for the save in flight and records its outcome.
func (p *profileActor) settleSave() {
	if !p.saving {
		return
	}
	select {
	case m := <-p.inflight:
		p.settle(m)
	case <-time.After(p.eng.dbTimeout):
		p.log.Warn("profile save still in flight at stop")
	}
}

// settle records a save's outcome: the versions saved at, or the templates dirty again after a failure (the
// next change, or the stop, saves them again).
func (p *profileActor) settle(m saveDone) {
	p.saving = false
	if m.err != nil {
		for k := range m.keys {
			if f, ok := p.fields[k]; ok {
				f.dirty = true
			}
		}
		return
	}
	p.version = m.version
	for k := range m.keys {
		if f, ok := p.fields[k]; ok {
			f.version = m.version
		}
	}
}

func (p *profileActor) saved(m saveDone) {
	p.settle(m)
	if m.err != nil {
		if errors.Is(m.err, persistence.ErrConflict) {
			p.log.Warn("profile changed elsewhere; reloading", "err", m.err)
			p.loaded, p.fields = false, make(map[string]*fieldModel)
			p.load()
			return
		}
		p.log.Warn("profile save failed; will retry", "err", m.err)
		return
	}
	if p.anyDirty() {
		p.saveAsync()
	}
}

// saveSync saves on stop, within a deadline.
func (p *profileActor) saveSync() {
	ts, _ := p.templates()
	if len(ts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.eng.dbTimeout)
	defer cancel()
	if _, err := p.eng.profiles.SaveTemplates(ctx, p.userID, ts); err != nil {
		p.log.Error("profile save on stop failed", "err", err)
	}
}
