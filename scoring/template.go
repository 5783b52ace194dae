package scoring

import (
	"fmt"
	"math"
	"slices"

	"github.com/behaviorauth/engine/features"
)

// Config tunes a template set. Zero fields take the defaults stated on each field; a
// negative value disables the features that say so.
type Config struct {
	// EnrollmentSize is how many samples enrollment needs before the set can be trained
	// and score. Default 20; at least 2.
	EnrollmentSize int
	// MaxTemplates bounds the templates kept: adaptation drops the oldest beyond it.
	// Default 200, and never below EnrollmentSize.
	MaxTemplates int
	// K is the number of nearest templates averaged into the neighbour distance.
	// Default 3.
	K int
	// NeighborWeight in [0, 1] is the share of the neighbour distance in the raw
	// distance; the scaled Manhattan distance gets the rest. Default 0.5.
	NeighborWeight float64
	// ManhattanCap caps each dimension's contribution to the scaled Manhattan distance,
	// in mean-absolute-deviation units, so that one hesitation or one key held too long
	// cannot outweigh the rhythm of all the other keys. Default 3; negative disables the
	// cap (the plain detector of Killourhy and Maxion).
	ManhattanCap float64
	// ZClip clips standardized coordinates to [-ZClip, ZClip] before the neighbour
	// search, for the same reason. Default 3; negative disables clipping.
	ZClip float64
	// ThresholdQuantile is the quantile of the user's leave-one-out enrollment distances
	// taken as their threshold, i.e. its false-reject rate on enrollment. Default 0.95.
	ThresholdQuantile float64
	// MinTimingCV is the coefficient of variation of intervals below which a sample is
	// machine-made (see MachineTiming). Default DefaultMinTimingCV; negative disables.
	MinTimingCV float64
	// ReplayMemory is how many recent sample hashes are kept for replay detection.
	// Default DefaultReplayMemory.
	ReplayMemory int
	// RebuildTolerance: after adaptation, when a dimension's mean moves by more than this
	// many standard deviations from the standardization the index was built with, or its
	// standard deviation changes by more than this factor, the standardization is
	// refreshed and the index must be rebuilt. Default 0.25.
	RebuildTolerance float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.EnrollmentSize == 0 {
		c.EnrollmentSize = 20
	}
	if c.MaxTemplates == 0 {
		c.MaxTemplates = max(200, c.EnrollmentSize)
	}
	if c.K == 0 {
		c.K = 3
	}
	if c.NeighborWeight == 0 {
		c.NeighborWeight = 0.5
	}
	if c.ManhattanCap == 0 {
		c.ManhattanCap = 3
	}
	if c.ZClip == 0 {
		c.ZClip = 3
	}
	if c.ThresholdQuantile == 0 {
		c.ThresholdQuantile = 0.95
	}
	if c.MinTimingCV == 0 {
		c.MinTimingCV = DefaultMinTimingCV
	}
	if c.ReplayMemory == 0 {
		c.ReplayMemory = DefaultReplayMemory
	}
	if c.RebuildTolerance == 0 {
		c.RebuildTolerance = 0.25
	}
	return c
}

// Validate reports the first out-of-range value (after defaults), wrapping ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.EnrollmentSize < 2:
		return fmt.Errorf("enrollment size %d < 2: %w", c.EnrollmentSize, ErrConfig)
	case c.MaxTemplates < c.EnrollmentSize || c.MaxTemplates > maxStoredTemplates:
		return fmt.Errorf("max templates %d outside [enrollment size %d, %d]: %w",
			c.MaxTemplates, c.EnrollmentSize, maxStoredTemplates, ErrConfig)
	case c.K < 1 || c.K > 64:
		return fmt.Errorf("k %d outside [1, 64]: %w", c.K, ErrConfig)
	case !(c.NeighborWeight >= 0 && c.NeighborWeight <= 1):
		return fmt.Errorf("neighbor weight %v outside [0, 1]: %w", c.NeighborWeight, ErrConfig)
	case !(c.ThresholdQuantile > 0 && c.ThresholdQuantile < 1):
		return fmt.Errorf("threshold quantile %v outside (0, 1): %w", c.ThresholdQuantile, ErrConfig)
	case c.ReplayMemory < 1 || c.ReplayMemory > maxReplayMemory:
		return fmt.Errorf("replay memory %d outside [1, %d]: %w", c.ReplayMemory, maxReplayMemory, ErrConfig)
	case !(c.RebuildTolerance > 0) || math.IsInf(c.RebuildTolerance, 0):
		return fmt.Errorf("rebuild tolerance %v: %w", c.RebuildTolerance, ErrConfig)
	case math.IsNaN(c.ManhattanCap) || math.IsNaN(c.ZClip) || math.IsNaN(c.MinTimingCV):
		return fmt.Errorf("NaN cap, clip or timing bound: %w", ErrConfig)
	}
	return nil
}

const (
	// MaxDim bounds a template vector's length (a 340-key fixed text).
	MaxDim = 1024
	// maxStoredTemplates bounds templates per set, also when decoding.
	maxStoredTemplates = 1 << 14
	// maxReplayMemory bounds the replay ring, also when decoding.
	maxReplayMemory = 1 << 14
)

// Sample is one behavioral sample to enroll, score or adapt with.
type Sample struct {
	// Vec is the feature vector (package features).
	Vec []float32
	// Fingerprint is the key sequence fingerprint of a fixed-text keystroke sample
	// (features.Fingerprint), 0 for other modalities.
	Fingerprint uint64
}

// Progress tells how far enrollment is.
type Progress struct {
	Have, Need int
}

// Done reports whether enough samples are in.
func (p Progress) Done() bool { return p.Have >= p.Need }

// Fraction returns Have/Need capped to 1.
func (p Progress) Fraction() float64 {
	if p.Need <= 0 {
		return 1
	}
	return min(1, float64(p.Have)/float64(p.Need))
}

// Scratch holds the buffers one Score call needs, so that scoring does not allocate. Keep
// one per actor (it is not safe for concurrent use) and size it for the largest dimension.
type Scratch struct {
	query  []float32
	dist   []float32
	labels []int64
}

// NewScratch returns buffers for vectors of up to maxDim values and k neighbours.
func NewScratch(maxDim, k int) *Scratch {
	return &Scratch{
		query:  make([]float32, maxDim),
		dist:   make([]float32, k+1),
		labels: make([]int64, k+1),
	}
}

// TemplateSet is one user's model of one field (fixed-text keystrokes) or one modality:
// the enrollment and adapted template vectors, their statistics, the calibration of
// distances to risks, and the recent sample hashes for replay detection.
//
// Life cycle: Enroll samples until Progress().Done(); Train with an empty Index (FAISS
// in production) which it fills with the standardized templates; Score samples; adapt
// with AddGenuine (apply the returned IndexUpdate to the index) and Calibrate again when
// NeedsCalibration. After UnmarshalBinary, fill a fresh index with LoadIndex.
//
// A TemplateSet is not safe for concurrent use: it belongs to its profile actor.
type TemplateSet struct {
	cfg      Config
	modality Modality
	dim      int
	fp       uint64 // reference key sequence; 0 until the first keystroke sample

	vecs   []float32 // row-major, oldest first
	ids    []int64
	nextID int64

	mean, std, mad []float64 // live statistics of vecs

	trained         bool
	zMean, zScale   []float32 // standardization the index was built with
	smScale         float64   // typical leave-one-out scaled Manhattan distance
	nnScale         float64   // typical leave-one-out neighbour distance
	cal             calibration
	thrRaw, thrRisk float64
	stale           bool // templates changed since the last calibration

	replay ReplayGuard
}

// NewTemplateSet returns an empty, enrolling template set of modality m.
func NewTemplateSet(m Modality, cfg Config) (*TemplateSet, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("modality %d: %w", m, ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &TemplateSet{cfg: cfg.withDefaults(), modality: m}
	t.replay.init(t.cfg.ReplayMemory)
	return t, nil
}

// Modality returns the set's modality.
func (t *TemplateSet) Modality() Modality { return t.modality }

// Dim returns the vector length (0 before the first sample).
func (t *TemplateSet) Dim() int { return t.dim }

// Len returns the number of templates.
func (t *TemplateSet) Len() int { return len(t.ids) }

// Config returns the configuration in force (defaults filled in).
func (t *TemplateSet) Config() Config { return t.cfg }

// Fingerprint returns the reference key sequence fingerprint (0 if none).
func (t *TemplateSet) Fingerprint() uint64 { return t.fp }

// Ready reports whether the set is trained and scores samples.
func (t *TemplateSet) Ready() bool { return t.trained }

// NeedsCalibration reports whether templates changed since the last calibration.
func (t *TemplateSet) NeedsCalibration() bool { return t.trained && t.stale }

// Progress reports enrollment progress.
func (t *TemplateSet) Progress() Progress {
	return Progress{Have: len(t.ids), Need: t.cfg.EnrollmentSize}
}

// Threshold returns the user's threshold as a raw distance and as a risk: a sample whose
// risk exceeds it is "far" (0, 0 before training).
func (t *TemplateSet) Threshold() (raw, risk float64) { return t.thrRaw, t.thrRisk }

// Reset forgets everything (the user changed the secret behind a field) but the
// configuration and the replay memory.
func (t *TemplateSet) Reset() {
	replay := t.replay
	*t = TemplateSet{cfg: t.cfg, modality: t.modality, replay: replay}
}

// check validates a sample against the set's shape. It does not allocate.
func (t *TemplateSet) check(s Sample) error {
	if len(s.Vec) == 0 || len(s.Vec) > MaxDim || (t.dim != 0 && len(s.Vec) != t.dim) {
		return ErrDimension
	}
	for _, v := range s.Vec {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return ErrInvalidSample
		}
	}
	if t.fp != 0 && s.Fingerprint != t.fp {
		return ErrSequenceMismatch
	}
	return nil
}

// Enroll adds an enrollment sample. The first sample fixes the dimension and, for
// keystrokes, the reference key sequence. It refuses samples of another shape
// (ErrDimension, ErrSequenceMismatch, ErrInvalidSample), machine-regular ones
// (ErrMachineTiming) and repeats (ErrReplayed), and refuses to run once trained
// (ErrAlreadyTrained). Beyond MaxTemplates the oldest sample is dropped.
func (t *TemplateSet) Enroll(s Sample) (Progress, error) {
	if t.trained {
		return t.Progress(), ErrAlreadyTrained
	}
	if err := t.check(s); err != nil {
		return t.Progress(), fmt.Errorf("enroll: %w", err)
	}
	if t.cfg.MinTimingCV > 0 && MachineTiming(t.modality, s.Vec, t.cfg.MinTimingCV) {
		return t.Progress(), fmt.Errorf("enroll: %w", ErrMachineTiming)
	}
	h := SampleHash(s.Vec)
	if t.replay.Seen(h) {
		return t.Progress(), fmt.Errorf("enroll: %w", ErrReplayed)
	}
	t.replay.Remember(h)
	if t.dim == 0 {
		t.dim = len(s.Vec)
	}
	if t.fp == 0 && t.modality == ModalityKeystroke {
		t.fp = s.Fingerprint
	}
	t.push(s.Vec)
	return t.Progress(), nil
}

// push appends a template with a fresh id and drops the oldest beyond MaxTemplates. It
// returns the dropped id, or -1.
func (t *TemplateSet) push(v []float32) (evicted int64) {
	evicted = -1
	t.vecs = append(t.vecs, v...)
	t.ids = append(t.ids, t.nextID)
	t.nextID++
	if len(t.ids) > t.cfg.MaxTemplates {
		evicted = t.ids[0]
		t.ids = append(t.ids[:0], t.ids[1:]...)
		t.vecs = append(t.vecs[:0], t.vecs[t.dim:]...)
	}
	return evicted
}

// refit recomputes the live statistics from the templates: O(templates × dim).
func (t *TemplateSet) refit() {
	if len(t.mean) != t.dim {
		t.mean = make([]float64, t.dim)
		t.std = make([]float64, t.dim)
		t.mad = make([]float64, t.dim)
	}
	fitColumns(t.vecs, t.dim, t.mean, t.std, t.mad)
}

// snapshot makes the live mean and standard deviation the standardization of the index.
func (t *TemplateSet) snapshot() {
	if len(t.zMean) != t.dim {
		t.zMean = make([]float32, t.dim)
		t.zScale = make([]float32, t.dim)
	}
	for d := range t.dim {
		t.zMean[d] = float32(t.mean[d])
		t.zScale[d] = float32(t.std[d])
	}
}

// standardize writes the standardized, clipped form of x into dst (len >= dim).
func (t *TemplateSet) standardize(x, dst []float32) {
	clip := t.cfg.ZClip
	for d, v := range x {
		z := (float64(v) - float64(t.zMean[d])) / float64(t.zScale[d])
		if clip > 0 {
			z = max(-clip, min(clip, z))
		}
		dst[d] = float32(z)
	}
}

// IndexVectors returns the standardized templates and their ids: what the index must
// hold. It allocates; it is for (re)building an index, not for the score path.
func (t *TemplateSet) IndexVectors() (vecs []float32, ids []int64, err error) {
	if !t.trained {
		return nil, nil, ErrNotTrained
	}
	vecs = make([]float32, len(t.vecs))
	for r := range t.ids {
		t.standardize(t.vecs[r*t.dim:(r+1)*t.dim], vecs[r*t.dim:(r+1)*t.dim])
	}
	return vecs, slices.Clone(t.ids), nil
}

// LoadIndex empties idx and fills it with IndexVectors.
func (t *TemplateSet) LoadIndex(idx Index) error {
	vecs, ids, err := t.IndexVectors()
	if err != nil {
		return err
	}
	if err := idx.Reset(); err != nil {
		return fmt.Errorf("reset index: %w: %w", ErrIndex, err)
	}
	if err := idx.AddWithIDs(vecs, ids); err != nil {
		return fmt.Errorf("fill index with %d templates: %w: %w", len(ids), ErrIndex, err)
	}
	return nil
}

// Train ends enrollment: it fits the statistics, fills idx (emptied first) with the
// standardized templates and calibrates. It needs Progress().Done(). On error the set
// stays enrolling.
func (t *TemplateSet) Train(idx Index) error {
	if t.trained {
		return ErrAlreadyTrained
	}
	if n := len(t.ids); n < t.cfg.EnrollmentSize || n < 2 {
		return fmt.Errorf("train with %d of %d samples: %w", n, t.cfg.EnrollmentSize, ErrNotEnoughSamples)
	}
	t.refit()
	t.snapshot()
	t.trained = true
	if err := t.LoadIndex(idx); err != nil {
		t.trained = false
		return fmt.Errorf("train: %w", err)
	}
	if err := t.Calibrate(idx); err != nil {
		t.trained = false
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// Calibrate recomputes the typical component distances, the calibration of raw
// distances to risks and the threshold from leave-one-out distances of the templates:
// each template's exact leave-one-out scaled Manhattan distance, and its neighbour
// distance searched in s (which must hold IndexVectors) with itself left out. It costs
// O(templates² × dim) plus one search per template: about a millisecond for 200
// templates of 31 values.
func (t *TemplateSet) Calibrate(s Searcher) error {
	if !t.trained {
		return ErrNotTrained
	}
	n := len(t.ids)
	if n < 2 {
		return fmt.Errorf("calibrate with %d templates: %w", n, ErrNotEnoughSamples)
	}
	sm := t.looManhattan()
	nn := make([]float64, n)
	k := min(t.cfg.K, n-1)
	sc := NewScratch(t.dim, k)
	for i, id := range t.ids {
		t.standardize(t.vecs[i*t.dim:(i+1)*t.dim], sc.query)
		if err := s.SearchInto(sc.query[:t.dim], k+1, sc.dist, sc.labels); err != nil {
			return fmt.Errorf("calibrate: search template %d: %w: %w", id, ErrIndex, err)
		}
		// Leave the template itself out: drop its own label, or the farthest result
		// if the index did not return it (ties at distance zero).
		skip := k
		for j := 0; j <= k; j++ {
			if sc.labels[j] == id {
				skip = j
				break
			}
		}
		var sum float64
		got := 0
		for j := 0; j <= k; j++ {
			if j == skip || sc.labels[j] < 0 || math.IsInf(float64(sc.dist[j]), 0) {
				continue
			}
			sum += math.Sqrt(max(0, float64(sc.dist[j])))
			got++
		}
		if got == 0 {
			return fmt.Errorf("calibrate: no neighbours for template %d (index holds %d): %w", id, s.Len(), ErrIndex)
		}
		nn[i] = sum / float64(got)
	}
	t.smScale = positiveOr(median(sm), 1)
	t.nnScale = positiveOr(median(nn), 1)
	c := make([]float64, n)
	for i := range c {
		c[i] = t.combine(sm[i], nn[i])
	}
	t.cal = newCalibration(c)
	t.thrRaw = features.QuantileSorted(t.cal.sorted, t.cfg.ThresholdQuantile)
	t.thrRisk = t.cal.risk(t.thrRaw)
	t.stale = false
	return nil
}

func positiveOr(x, def float64) float64 {
	if x > 0 && !math.IsInf(x, 0) {
		return x
	}
	return def
}

// combine mixes the two component distances, each in units of its typical value for this
// user, into the raw distance.
func (t *TemplateSet) combine(sm, nn float64) float64 {
	w := t.cfg.NeighborWeight
	return (1-w)*sm/t.smScale + w*nn/t.nnScale
}

// looManhattan returns each template's scaled Manhattan distance to the model fitted on
// the other templates (exact leave-one-out mean and mean absolute deviation).
func (t *TemplateSet) looManhattan() []float64 {
	n, dim := len(t.ids), t.dim
	out := make([]float64, n)
	col := make([]float64, n)
	capZ := t.cfg.ManhattanCap
	for d := 0; d < dim; d++ {
		var total float64
		for r := 0; r < n; r++ {
			col[r] = float64(t.vecs[r*dim+d])
			total += col[r]
		}
		for i := 0; i < n; i++ {
			m := (total - col[i]) / float64(n-1)
			var a float64
			for j := 0; j < n; j++ {
				if j != i {
					a += math.Abs(col[j] - m)
				}
			}
			z := math.Abs(col[i]-m) / floorScale(a/float64(n-1), m)
			if capZ > 0 && z > capZ {
				z = capZ
			}
			out[i] += z
		}
	}
	return out
}

// Query writes the standardized form of s into dst (len >= Dim): the vector to search
// the index with, for a caller that runs the search itself (ScoreNeighbors then finishes
// the score). It does not allocate.
func (t *TemplateSet) Query(s Sample, dst []float32) error {
	if !t.trained {
		return ErrNotTrained
	}
	if err := t.check(s); err != nil {
		return err
	}
	if len(dst) < t.dim {
		return ErrScratch
	}
	t.standardize(s.Vec, dst)
	return nil
}

// Score scores s against the templates, with the neighbour search run on idx (which
// holds IndexVectors), and fills res. It does not allocate.
//
// res.Status tells what happened: StatusNotEnoughEvidence while enrolling (reason
// not_enough_evidence), StatusRejected for a keystroke sample of another key sequence
// (reason key_sequence_mismatch), else StatusScored with Risk in [0, 1] and reasons:
// replayed_sample and machine_regular_timing (both force Risk to 1), then the
// modality's close or far reason (Risk at or below the user's threshold, or above).
// Errors are for what the caller got wrong or what failed: ErrDimension,
// ErrInvalidSample, ErrScratch, ErrIndex. Score remembers the sample's hash for replay
// detection.
func (t *TemplateSet) Score(s Sample, idx Searcher, sc *Scratch, res *Result) error {
	if done, err := t.precheck(s, res); done || err != nil {
		return err
	}
	k := min(t.cfg.K, len(t.ids))
	if sc == nil || len(sc.query) < t.dim || len(sc.dist) < k || len(sc.labels) < k {
		return ErrScratch
	}
	q := sc.query[:t.dim]
	t.standardize(s.Vec, q)
	if idx == nil {
		return ErrIndex
	}
	if err := idx.SearchInto(q, k, sc.dist[:k], sc.labels[:k]); err != nil {
		return fmt.Errorf("score: %w: %w", ErrIndex, err)
	}
	return t.finish(s, sc.dist[:k], sc.labels[:k], res)
}

// ScoreNeighbors is Score for a caller that searched the index itself with Query's
// vector: dist and labels are the search's answer (squared L2, nearest first).
func (t *TemplateSet) ScoreNeighbors(s Sample, dist []float32, labels []int64, res *Result) error {
	if done, err := t.precheck(s, res); done || err != nil {
		return err
	}
	if len(labels) < len(dist) {
		return ErrScratch
	}
	return t.finish(s, dist, labels, res)
}

// precheck resets res and settles the cases that need no distance.
func (t *TemplateSet) precheck(s Sample, res *Result) (done bool, err error) {
	res.Reset()
	if !t.trained {
		res.Status = StatusNotEnoughEvidence
		res.AddReason(ReasonNotEnoughEvidence)
		return true, nil
	}
	switch err := t.check(s); err {
	case nil:
	case ErrSequenceMismatch:
		res.Status = StatusRejected
		res.AddReason(ReasonKeySequenceMismatch)
		return true, nil
	default:
		return true, err
	}
	return false, nil
}

func (t *TemplateSet) finish(s Sample, dist []float32, labels []int64, res *Result) error {
	var sum float64
	got := 0
	for j := range dist {
		if labels[j] < 0 || math.IsInf(float64(dist[j]), 0) || math.IsNaN(float64(dist[j])) {
			continue
		}
		sum += math.Sqrt(max(0, float64(dist[j])))
		got++
	}
	if got == 0 {
		return ErrIndex
	}
	res.Status = StatusScored
	res.Neighbor = sum / float64(got)
	res.Manhattan = scaledManhattan(s.Vec, t.mean, t.mad, t.cfg.ManhattanCap)
	res.Raw = t.combine(res.Manhattan, res.Neighbor)
	res.Risk = t.cal.risk(res.Raw)
	res.RiskThreshold = t.thrRisk

	h := SampleHash(s.Vec)
	if t.replay.Seen(h) {
		res.AddReason(ReasonReplayedSample)
		res.Risk = 1
	}
	t.replay.Remember(h)
	if t.cfg.MinTimingCV > 0 && MachineTiming(t.modality, s.Vec, t.cfg.MinTimingCV) {
		res.AddReason(ReasonMachineRegularTiming)
		res.Risk = 1
	}
	closeR, farR := t.modality.closeFar()
	if res.Risk > t.thrRisk {
		res.AddReason(farR)
	} else {
		res.AddReason(closeR)
	}
	return nil
}

// IndexUpdate tells the index owner how to bring the index in step with the templates
// after AddGenuine. Apply it with ApplyIndexUpdate.
type IndexUpdate struct {
	// Rebuild: the standardization changed; empty the index and add Vectors with IDs
	// (all templates). Otherwise remove Remove, then add Vectors with IDs.
	Rebuild bool
	Remove  []int64
	Vectors []float32
	IDs     []int64
}

// ApplyIndexUpdate applies u to idx.
func ApplyIndexUpdate(idx Index, u IndexUpdate) error {
	if u.Rebuild {
		if err := idx.Reset(); err != nil {
			return fmt.Errorf("rebuild index: %w: %w", ErrIndex, err)
		}
	} else if len(u.Remove) > 0 {
		if _, err := idx.RemoveIDs(u.Remove); err != nil {
			return fmt.Errorf("remove %d templates: %w: %w", len(u.Remove), ErrIndex, err)
		}
	}
	if len(u.IDs) > 0 {
		if err := idx.AddWithIDs(u.Vectors, u.IDs); err != nil {
			return fmt.Errorf("add %d templates: %w: %w", len(u.IDs), ErrIndex, err)
		}
	}
	return nil
}

// AddGenuine adapts a trained set with a sample known to be the owner's (feedback, or a
// policy of learning from confidently accepted samples). The oldest template goes when
// the set is full. Statistics are refitted in O(templates × dim). The returned update
// must be applied to the index; afterwards NeedsCalibration is true, and Calibrate
// (about a millisecond) should run when convenient: until then scores use the previous
// calibration.
func (t *TemplateSet) AddGenuine(s Sample) (IndexUpdate, error) {
	if !t.trained {
		return IndexUpdate{}, ErrNotTrained
	}
	if err := t.check(s); err != nil {
		return IndexUpdate{}, fmt.Errorf("add genuine sample: %w", err)
	}
	evicted := t.push(s.Vec)
	id := t.ids[len(t.ids)-1]
	t.refit()
	t.stale = true
	if t.drifted() {
		t.snapshot()
		vecs, ids, err := t.IndexVectors()
		if err != nil {
			return IndexUpdate{}, err
		}
		return IndexUpdate{Rebuild: true, Vectors: vecs, IDs: ids}, nil
	}
	u := IndexUpdate{Vectors: make([]float32, t.dim), IDs: []int64{id}}
	t.standardize(s.Vec, u.Vectors)
	if evicted >= 0 {
		u.Remove = []int64{evicted}
	}
	return u, nil
}

// drifted reports whether the live statistics moved away from the index's
// standardization by more than RebuildTolerance.
func (t *TemplateSet) drifted() bool {
	tol := t.cfg.RebuildTolerance
	for d := range t.dim {
		zs := float64(t.zScale[d])
		if math.Abs(t.mean[d]-float64(t.zMean[d])) > tol*zs {
			return true
		}
		if r := t.std[d] / zs; r > 1+tol || r < 1/(1+tol) {
			return true
		}
	}
	return false
}
