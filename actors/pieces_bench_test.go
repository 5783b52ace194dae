package actors

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/behaviorauth/engine/actors/enginepb"
	"github.com/behaviorauth/engine/config"
	"github.com/behaviorauth/engine/persistence"
	"github.com/behaviorauth/engine/persistence/pgtest"
	"github.com/behaviorauth/engine/scoring"
)

// benchEntries returns n typed entries of a keys-long fixed text by one typist (a personal mean per key, 8%
// jitter), each as its key events and the commit, on a clock that keeps growing.
func benchEntries(n, keys int) [][]*enginepb.Event {
	rng := rand.New(rand.NewPCG(1, 2))
	hold, flight := make([]float64, keys), make([]float64, keys)
	for i := range hold {
		hold[i], flight[i] = 95*(0.7+0.6*rng.Float64()), 180*(0.6+0.8*rng.Float64())
	}
	out := make([][]*enginepb.Event, n)
	t := 0.0
	for e := range out {
		evs := make([]*enginepb.Event, 0, 2*keys+1)
		for i := 0; i < keys; i++ {
			code := uint64(100 + i)
			evs = append(evs,
				&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t, Phase: enginepb.Phase_PHASE_DOWN, Code: code, Field: "payee"},
				&enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_KEY, T: t + hold[i]*(1+0.08*rng.NormFloat64()), Phase: enginepb.Phase_PHASE_UP, Code: code, Field: "payee"})
			t += flight[i] * (1 + 0.08*rng.NormFloat64())
		}
		t += 200
		evs = append(evs, &enginepb.Event{Kind: enginepb.EventKind_EVENT_KIND_COMMIT, T: t, Field: "payee"})
		t += 500
		out[e] = evs
	}
	return out
}

// BenchmarkSessionAssemble: the session's sample assembly, one entry (its key events and the commit) into one
// fixed-text keystroke vector, free-text accumulation included.
func BenchmarkSessionAssemble(b *testing.B) {
	for _, keys := range []int{10, 40} {
		b.Run("keys="+itoa(int64(keys)), func(b *testing.B) {
			entries := benchEntries(256, keys)
			s := &sessionActor{}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for _, e := range entries[i%len(entries)] {
					if _, _, err := s.assemble(e); err != nil {
						b.Fatal(err)
					}
				}
				i++
			}
		})
	}
}

// benchEngine is an engine with its index pool running (real FAISS) and stores on a fresh database, without a
// cluster: enough for a profile actor's scoring path.
func benchEngine(b testing.TB) *Engine {
	b.Helper()
	pool := pgtest.Pool(b)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }))
	e, err := New(config.Default(), Deps{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), System: sys, Meter: noop.NewMeterProvider(),
		Sessions: persistence.NewSessions(pool), Profiles: persistence.NewProfiles(pool), Feedback: persistence.NewFeedbackStore(pool),
		Ping: pool.Ping,
	})
	if err != nil {
		b.Fatal(err)
	}
	e.pool.start()
	b.Cleanup(func() {
		e.pool.shutdown()
		sys.Shutdown()
	})
	return e
}

// trainedProfile returns a profile actor (outside any actor system: the benchmark calls its handler directly)
// with one field enrolled from vecs, its index built in the pool, and the remaining vectors to score.
func trainedProfile(b *testing.B, e *Engine, userID string, vecs [][]float32, fp uint64) *profileActor {
	b.Helper()
	p := newProfileActor(e).(*profileActor)
	p.userID, p.loaded = userID, true
	f, err := p.field("kf:payee", "keystroke")
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range vecs[:e.policy.EnrollmentSamples] {
		if _, err := f.set.Enroll(scoring.Sample{Vec: v, Fingerprint: fp}); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.withIndex(f, f.set.Train); err != nil {
		b.Fatal(err)
	}
	return p
}

// sampleVectors assembles entries into their keystroke vectors and the key-sequence fingerprint.
func sampleVectors(b *testing.B, entries [][]*enginepb.Event) ([][]float32, uint64) {
	b.Helper()
	s := &sessionActor{}
	var out [][]float32
	var fp uint64
	for _, entry := range entries {
		for _, e := range entry {
			smp, ok, err := s.assemble(e)
			if err != nil {
				b.Fatal(err)
			}
			if ok && smp.modality == "keystroke" {
				out = append(out, append([]float32(nil), smp.vec...))
				fp = smp.fingerprint
			}
		}
	}
	return out, fp
}

// BenchmarkProfileScore: the profile actor's score of one fixed-text sample against an enrolled field: the
// checks, the k-nearest-neighbour search in the field's FAISS index through the pool actor that owns it, the
// scaled Manhattan distance, calibration and the fraud check.
func BenchmarkProfileScore(b *testing.B) {
	e := benchEngine(b)
	for _, keys := range []int{10, 40} {
		b.Run("keys="+itoa(int64(keys)), func(b *testing.B) {
			vecs, fp := sampleVectors(b, benchEntries(1024, keys))
			p := trainedProfile(b, e, "user-"+itoa(int64(keys)), vecs, fp)
			probe := vecs[e.policy.EnrollmentSamples:]
			msg := &enginepb.Score{SessionId: "bench", Key: "kf:payee", Modality: "keystroke", Fingerprint: fp}
			msg.Vector = probe[0]
			if r := p.score(msg); r.Error != "" || r.Status != "scored" {
				b.Fatalf("score: %v", r)
			}
			b.ReportAllocs()
			i := 1
			for b.Loop() {
				msg.Vector = probe[i%len(probe)] // more distinct samples than the replay memory holds
				if r := p.score(msg); r.Error != "" {
					b.Fatal(r.Error)
				}
				i++
			}
		})
	}
}

// BenchmarkPoolSearch: one k-nearest-neighbour search through the index pool (a message to the owning actor and
// its answer), on an index of 200 templates.
func BenchmarkPoolSearch(b *testing.B) {
	e := benchEngine(b)
	const dim, n, k = 28, 200, 3
	rng := rand.New(rand.NewPCG(3, 4))
	vecs := make([]float32, n*dim)
	ids := make([]int64, n)
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	for i := range ids {
		ids[i] = int64(i)
	}
	h := e.pool.Handle("bench", dim)
	if err := h.Reset(); err != nil {
		b.Fatal(err)
	}
	if err := h.AddWithIDs(vecs, ids); err != nil {
		b.Fatal(err)
	}
	q, dist, labels := vecs[:dim], make([]float32, k), make([]int64, k)
	b.ReportAllocs()
	for b.Loop() {
		if err := h.SearchInto(q, k, dist, labels); err != nil {
			b.Fatal(err)
		}
	}
}
