package scoring

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/behaviorauth/engine/features"
)

func TestTemplateSetLifecycle(t *testing.T) {
	owner := newTypist(1, 11)
	ts, err := NewTemplateSet(ModalityKeystroke, Config{EnrollmentSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	sc := NewScratch(64, ts.Config().K)
	idx := NewExactSearcher(31)
	var res Result
	if err := ts.Score(Sample{Vec: owner.sample(), Fingerprint: testFP}, idx, sc, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusNotEnoughEvidence || !res.Has(ReasonNotEnoughEvidence) {
		t.Fatalf("enrolling: status %v reasons %v", res.Status, res.Reasons())
	}
	for i := 0; i < 39; i++ {
		if p, err := ts.Enroll(Sample{Vec: owner.sample(), Fingerprint: testFP}); err != nil || p.Have != i+1 || p.Done() {
			t.Fatalf("enroll %d: %+v %v", i, p, err)
		}
	}
	if err := ts.Train(idx); !errors.Is(err, ErrNotEnoughSamples) || ts.Ready() {
		t.Fatalf("early train: %v ready %v", err, ts.Ready())
	}
	if p, _ := ts.Enroll(Sample{Vec: owner.sample(), Fingerprint: testFP}); !p.Done() || p.Fraction() != 1 {
		t.Fatalf("progress %+v", p)
	}
	if err := ts.Train(idx); err != nil {
		t.Fatal(err)
	}
	if !ts.Ready() || ts.NeedsCalibration() || idx.Len() != 40 {
		t.Fatalf("ready %v stale %v index %d", ts.Ready(), ts.NeedsCalibration(), idx.Len())
	}
	if _, thr := ts.Threshold(); thr < 0.9 || thr > 0.97 {
		t.Fatalf("risk threshold %v, want near the 0.95 quantile", thr)
	}
	if _, err := ts.Enroll(Sample{Vec: owner.sample(), Fingerprint: testFP}); !errors.Is(err, ErrAlreadyTrained) {
		t.Fatalf("enroll after training: %v", err)
	}

	// Owner and impostors: the owner's risks must be lower, and mostly "close".
	score := func(ty *typist, n int) (mean float64, far int) {
		for i := 0; i < n; i++ {
			if err := ts.Score(Sample{Vec: ty.sample(), Fingerprint: testFP}, idx, sc, &res); err != nil {
				t.Fatal(err)
			}
			if res.Status != StatusScored || res.Risk < 0 || res.Risk > 1 || math.IsNaN(res.Risk) {
				t.Fatalf("status %v risk %v", res.Status, res.Risk)
			}
			if res.Has(ReasonKeystrokeTimingFar) {
				far++
			} else if !res.Has(ReasonKeystrokeTimingClose) {
				t.Fatalf("no distance reason: %v", res.Reasons())
			}
			mean += res.Risk / float64(n)
		}
		return mean, far
	}
	ownerRisk, ownerFar := score(owner, 200)
	impRisk, impFar := score(newTypist(2, 11), 200)
	if !(ownerRisk < 0.7 && impRisk > 0.95) {
		t.Fatalf("owner mean risk %.3f, impostor %.3f", ownerRisk, impRisk)
	}
	if ownerFar > 40 || impFar < 190 {
		t.Fatalf("far verdicts: owner %d/200, impostor %d/200", ownerFar, impFar)
	}
}

func TestEnrollRefusals(t *testing.T) {
	owner := newTypist(3, 6)
	machine := owner.sample()
	n := 6
	for i := 0; i < n-1; i++ {
		machine[features.FixedDDOffset(n)+i] = 150 // fixed inter-key delay
	}
	nan := owner.sample()
	nan[2] = float32(math.NaN())
	tests := []struct {
		name string
		s    Sample
		err  error
	}{
		{"other dimension", Sample{Vec: newTypist(4, 7).sample(), Fingerprint: testFP}, ErrDimension},
		{"empty", Sample{Fingerprint: testFP}, ErrDimension},
		{"NaN", Sample{Vec: nan, Fingerprint: testFP}, ErrInvalidSample},
		{"other key sequence", Sample{Vec: owner.sample(), Fingerprint: testFP + 1}, ErrSequenceMismatch},
		{"machine timing", Sample{Vec: machine, Fingerprint: testFP}, ErrMachineTiming},
	}
	ts, _ := NewTemplateSet(ModalityKeystroke, Config{})
	first := Sample{Vec: owner.sample(), Fingerprint: testFP}
	if _, err := ts.Enroll(first); err != nil {
		t.Fatal(err)
	}
	if ts.Dim() != 16 || ts.Fingerprint() != testFP {
		t.Fatalf("dim %d fingerprint %x", ts.Dim(), ts.Fingerprint())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ts.Enroll(tt.s); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if ts.Len() != 1 {
				t.Fatalf("refused sample was kept: %d templates", ts.Len())
			}
		})
	}
	if _, err := ts.Enroll(first); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replayed enrollment: %v", err)
	}
}

func TestScoreFlags(t *testing.T) {
	owner := newTypist(5, 11)
	ts, idx := trainedSet(t, owner, Config{}, 30)
	sc := NewScratch(31, 3)
	var res Result

	v := owner.sample()
	if err := ts.Score(Sample{Vec: v, Fingerprint: testFP}, idx, sc, &res); err != nil || res.Has(ReasonReplayedSample) {
		t.Fatalf("first: %v %v", err, res.Reasons())
	}
	if err := ts.Score(Sample{Vec: v, Fingerprint: testFP}, idx, sc, &res); err != nil {
		t.Fatal(err)
	}
	if res.Reasons()[0] != ReasonReplayedSample || res.Risk != 1 {
		t.Fatalf("replay: risk %v reasons %v", res.Risk, res.Reasons())
	}
	// An enrollment vector played back is a replay too.
	vecs := ts.vecs[:ts.dim]
	if err := ts.Score(Sample{Vec: slices.Clone(vecs), Fingerprint: testFP}, idx, sc, &res); err != nil || !res.Has(ReasonReplayedSample) {
		t.Fatalf("template replay: %v %v", err, res.Reasons())
	}
	m := owner.sample()
	for i := 0; i < 10; i++ {
		m[features.FixedDDOffset(11)+i] = 200 + float32(i%2) // 0.25% jitter
	}
	if err := ts.Score(Sample{Vec: m, Fingerprint: testFP}, idx, sc, &res); err != nil {
		t.Fatal(err)
	}
	if !res.Has(ReasonMachineRegularTiming) || res.Risk != 1 {
		t.Fatalf("machine: risk %v reasons %v", res.Risk, res.Reasons())
	}
	if err := ts.Score(Sample{Vec: owner.sample(), Fingerprint: 1}, idx, sc, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusRejected || !res.Has(ReasonKeySequenceMismatch) {
		t.Fatalf("mismatch: %v %v", res.Status, res.Reasons())
	}
}

func TestScoreErrors(t *testing.T) {
	owner := newTypist(6, 11)
	ts, idx := trainedSet(t, owner, Config{}, 25)
	good := Sample{Vec: owner.sample(), Fingerprint: testFP}
	nan := slices.Clone(good.Vec)
	nan[0] = float32(math.Inf(1))
	empty := NewExactSearcher(31)
	tests := []struct {
		name string
		s    Sample
		idx  Searcher
		sc   *Scratch
		err  error
	}{
		{"dimension", Sample{Vec: good.Vec[:30], Fingerprint: testFP}, idx, NewScratch(31, 3), ErrDimension},
		{"invalid", Sample{Vec: nan, Fingerprint: testFP}, idx, NewScratch(31, 3), ErrInvalidSample},
		{"small scratch", good, idx, NewScratch(10, 3), ErrScratch},
		{"nil scratch", good, idx, nil, ErrScratch},
		{"nil index", good, nil, NewScratch(31, 3), ErrIndex},
		{"empty index", good, empty, NewScratch(31, 3), ErrIndex},
		{"index of other dim", good, NewExactSearcher(12), NewScratch(31, 3), ErrIndex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res Result
			if err := ts.Score(tt.s, tt.idx, tt.sc, &res); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestScoreNeighborsMatchesScore(t *testing.T) {
	owner := newTypist(7, 11)
	a, idxA := trainedSet(t, owner, Config{}, 50)
	data, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewTemplateSet(ModalityKeystroke, Config{})
	if err := b.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	idxB := NewExactSearcher(31)
	if err := b.LoadIndex(idxB); err != nil {
		t.Fatal(err)
	}
	sc := NewScratch(31, 3)
	q := make([]float32, 31)
	dist := make([]float32, 3)
	labels := make([]int64, 3)
	for _, ty := range []*typist{owner, newTypist(8, 11)} {
		s := Sample{Vec: ty.sample(), Fingerprint: testFP}
		var ra, rb Result
		if err := a.Score(s, idxA, sc, &ra); err != nil {
			t.Fatal(err)
		}
		if err := b.Query(s, q); err != nil {
			t.Fatal(err)
		}
		if err := idxB.SearchInto(q, 3, dist, labels); err != nil {
			t.Fatal(err)
		}
		if err := b.ScoreNeighbors(s, dist, labels, &rb); err != nil {
			t.Fatal(err)
		}
		if ra.Raw != rb.Raw || ra.Risk != rb.Risk || !slices.Equal(ra.Reasons(), rb.Reasons()) {
			t.Fatalf("Score %+v, ScoreNeighbors %+v", ra, rb)
		}
	}
}

func TestAddGenuine(t *testing.T) {
	owner := newTypist(9, 11)
	ts, idx := trainedSet(t, owner, Config{EnrollmentSize: 50, MaxTemplates: 50}, 50)
	incremental := 0
	for i := 0; i < 5; i++ {
		oldest := ts.ids[0]
		u, err := ts.AddGenuine(Sample{Vec: owner.sample(), Fingerprint: testFP})
		if err != nil {
			t.Fatal(err)
		}
		newID := ts.ids[len(ts.ids)-1]
		switch {
		case u.Rebuild:
			if !slices.Equal(u.IDs, ts.ids) || len(u.Vectors) != 31*50 {
				t.Fatalf("rebuild update of %d ids", len(u.IDs))
			}
		default:
			incremental++
			if !slices.Equal(u.Remove, []int64{oldest}) || !slices.Equal(u.IDs, []int64{newID}) || len(u.Vectors) != 31 {
				t.Fatalf("update %+v", u)
			}
		}
		if err := ApplyIndexUpdate(idx, u); err != nil {
			t.Fatal(err)
		}
		if idx.Len() != 50 || ts.Len() != 50 || !ts.NeedsCalibration() {
			t.Fatalf("index %d templates %d stale %v", idx.Len(), ts.Len(), ts.NeedsCalibration())
		}
	}
	if incremental == 0 {
		t.Fatal("every update was a rebuild")
	}
	if err := ts.Calibrate(idx); err != nil || ts.NeedsCalibration() {
		t.Fatalf("calibrate: %v", err)
	}
	if _, err := ts.AddGenuine(Sample{Vec: owner.sample(), Fingerprint: 3}); !errors.Is(err, ErrSequenceMismatch) {
		t.Fatalf("mismatched genuine: %v", err)
	}

	// The owner's rhythm drifts (slower): the standardization must be refreshed at some
	// point, and the index rebuilt.
	for i := range owner.dd {
		owner.dd[i] *= 1.6
	}
	rebuilt := false
	for i := 0; i < 50 && !rebuilt; i++ {
		u, err := ts.AddGenuine(Sample{Vec: owner.sample(), Fingerprint: testFP})
		if err != nil {
			t.Fatal(err)
		}
		if err := ApplyIndexUpdate(idx, u); err != nil {
			t.Fatal(err)
		}
		rebuilt = u.Rebuild
	}
	if !rebuilt {
		t.Fatal("no rebuild after a large drift")
	}
	if err := ts.Calibrate(idx); err != nil {
		t.Fatal(err)
	}
	// The incrementally maintained index answers like a freshly loaded one.
	fresh := NewExactSearcher(31)
	if err := ts.LoadIndex(fresh); err != nil {
		t.Fatal(err)
	}
	q := make([]float32, 31)
	s := Sample{Vec: owner.sample(), Fingerprint: testFP}
	if err := ts.Query(s, q); err != nil {
		t.Fatal(err)
	}
	d1, l1 := make([]float32, 5), make([]int64, 5)
	d2, l2 := make([]float32, 5), make([]int64, 5)
	_ = idx.SearchInto(q, 5, d1, l1)
	_ = fresh.SearchInto(q, 5, d2, l2)
	if !slices.Equal(d1, d2) || !slices.Equal(l1, l2) {
		t.Fatalf("maintained index %v %v, fresh %v %v", d1, l1, d2, l2)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"enrollment 1", Config{EnrollmentSize: 1}, false},
		{"max below enrollment", Config{EnrollmentSize: 50, MaxTemplates: 10}, false},
		{"k too big", Config{K: 100}, false},
		{"weight above 1", Config{NeighborWeight: 1.5}, false},
		{"quantile 1", Config{ThresholdQuantile: 1}, false},
		{"NaN cap", Config{ManhattanCap: math.NaN()}, false},
		{"disabled cap and clip", Config{ManhattanCap: -1, ZClip: -1, MinTimingCV: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
	if _, err := NewTemplateSet(Modality(0), Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("modality 0: %v", err)
	}
}

func TestScoreAllocs(t *testing.T) {
	owner := newTypist(10, 11)
	ts, idx := trainedSet(t, owner, Config{EnrollmentSize: 100}, 100)
	sc := NewScratch(31, 3)
	vecs := make([]Sample, 64)
	for i := range vecs {
		vecs[i] = Sample{Vec: owner.sample(), Fingerprint: testFP}
	}
	var res Result
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		if err := ts.Score(vecs[i%len(vecs)], idx, sc, &res); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("allocs per score = %v, want 0", allocs)
	}
}
