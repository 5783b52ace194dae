package scoring

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/behaviorauth/engine/features"
)

// typist draws fixed-text keystroke vectors (ms) around a personal rhythm, with the
// layout of features.FixedText: holds, then down-down latencies, then up-down latencies.
type typist struct {
	rng        *rand.Rand
	hold, dd   []float64
	holdJitter float64
	ddJitter   float64
}

func newTypist(seed uint64, keys int) *typist {
	rng := rand.New(rand.NewPCG(seed, 7))
	t := &typist{rng: rng, hold: make([]float64, keys), dd: make([]float64, keys-1), holdJitter: 0.12, ddJitter: 0.2}
	for i := range t.hold {
		t.hold[i] = 80 + 40*rng.Float64()
	}
	for i := range t.dd {
		t.dd[i] = 120 + 300*rng.Float64()
	}
	return t
}

func (t *typist) sample() []float32 {
	n := len(t.hold)
	v := make([]float32, features.FixedDim(n))
	for i := 0; i < n; i++ {
		h := t.hold[i] * math.Exp(t.holdJitter*t.rng.NormFloat64())
		v[i] = float32(h)
		if i+1 < n {
			d := t.dd[i] * math.Exp(t.ddJitter*t.rng.NormFloat64())
			v[features.FixedDDOffset(n)+i] = float32(d)
			v[features.FixedUDOffset(n)+i] = float32(d - h)
		}
	}
	return v
}

const testFP = 0xfeedface

// trainedSet enrolls n samples of ty into a new keystroke set and trains it on a fresh
// ExactSearcher.
func trainedSet(tb testing.TB, ty *typist, cfg Config, n int) (*TemplateSet, *ExactSearcher) {
	tb.Helper()
	ts, err := NewTemplateSet(ModalityKeystroke, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := ts.Enroll(Sample{Vec: ty.sample(), Fingerprint: testFP}); err != nil {
			tb.Fatalf("enroll %d: %v", i, err)
		}
	}
	idx := NewExactSearcher(len(ty.hold)*3 - 2)
	if err := ts.Train(idx); err != nil {
		tb.Fatal(err)
	}
	return ts, idx
}
