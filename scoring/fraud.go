package scoring

import (
	"fmt"
	"math"
)

// FraudSet scores samples against a global set of vectors labeled fraud (confirmed by
// feedback), for one fixed-length modality (free text, pointer, touch, motion: a fixed
// text's vector depends on the secret, so it has no global space). Its vectors are
// standardized with population statistics (Mean, Std), not any user's, and the index
// holding them (FAISS in production) is searched like a user's.
//
// The risk contribution of a sample at RMS distance d (the L2 distance to the nearest
// fraud vector divided by sqrt(dim), i.e. per dimension in population standard
// deviations) is exp(-ln2·(d/Radius)²): 1 on a known fraud vector, 1/2 at Radius,
// 1/16 at twice Radius; the sample is "near" (reason near_known_fraud) within Radius.
// The fields are exported so that the set serializes as JSON with the node's state.
type FraudSet struct {
	Modality Modality  `json:"modality"`
	Mean     []float32 `json:"mean"`
	Std      []float32 `json:"std"`
	// Radius is the RMS distance at which the contribution is 1/2. Default 0.35.
	Radius float64 `json:"radius"`
}

// NewFraudSet fits the population standardization of modality m to row-major vecs of
// dim values (a sample of all users' vectors, at least two), with the default radius.
func NewFraudSet(m Modality, vecs []float32, dim int) (*FraudSet, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return nil, fmt.Errorf("fraud set: %d values of dim %d: %w", len(vecs), dim, ErrDimension)
	}
	if len(vecs)/dim < 2 {
		return nil, fmt.Errorf("fraud set: %d vectors: %w", len(vecs)/dim, ErrNotEnoughSamples)
	}
	mean := make([]float64, dim)
	std := make([]float64, dim)
	fitColumns(vecs, dim, mean, std, nil)
	f := &FraudSet{Modality: m, Mean: make([]float32, dim), Std: make([]float32, dim), Radius: 0.35}
	for i := range mean {
		f.Mean[i], f.Std[i] = float32(mean[i]), float32(std[i])
	}
	return f, f.Validate()
}

// Validate checks the fields (for a set decoded from JSON).
func (f *FraudSet) Validate() error {
	switch {
	case !f.Modality.Valid():
		return fmt.Errorf("fraud set modality %d: %w", f.Modality, ErrConfig)
	case len(f.Mean) == 0 || len(f.Mean) > MaxDim || len(f.Std) != len(f.Mean):
		return fmt.Errorf("fraud set of %d means and %d deviations: %w", len(f.Mean), len(f.Std), ErrDimension)
	case !(f.Radius > 0) || math.IsInf(f.Radius, 0):
		return fmt.Errorf("fraud set radius %v: %w", f.Radius, ErrConfig)
	}
	for i := range f.Mean {
		if m, s := float64(f.Mean[i]), float64(f.Std[i]); math.IsNaN(m) || math.IsInf(m, 0) || !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("fraud set dimension %d: mean %v std %v: %w", i, m, s, ErrConfig)
		}
	}
	return nil
}

// Dim returns the vector length.
func (f *FraudSet) Dim() int { return len(f.Mean) }

// Standardize writes the population-standardized vec into dst: how vectors are added to
// the fraud index and how queries are made. It does not allocate.
func (f *FraudSet) Standardize(vec, dst []float32) error {
	if len(vec) != len(f.Mean) {
		return ErrDimension
	}
	if len(dst) < len(vec) {
		return ErrScratch
	}
	for i, v := range vec {
		dst[i] = (v - f.Mean[i]) / f.Std[i]
	}
	return nil
}

// FraudMatch is the outcome of a fraud search.
type FraudMatch struct {
	Risk      float64 // contribution in [0, 1]
	Distance  float64 // RMS distance to the nearest fraud vector (+Inf if none)
	Near      bool    // Distance <= Radius
	NearestID int64   // id of that vector in the fraud index, -1 if none
}

// Match searches idx (the fraud index) for the nearest fraud vector to vec. An empty
// index is no evidence: Risk 0. It does not allocate.
func (f *FraudSet) Match(vec []float32, idx Searcher, sc *Scratch) (FraudMatch, error) {
	none := FraudMatch{Distance: math.Inf(1), NearestID: -1}
	if sc == nil || len(sc.query) < len(f.Mean) || len(sc.dist) < 1 || len(sc.labels) < 1 {
		return none, ErrScratch
	}
	q := sc.query[:len(f.Mean)]
	if err := f.Standardize(vec, q); err != nil {
		return none, err
	}
	if idx == nil || idx.Len() == 0 {
		return none, nil
	}
	if err := idx.SearchInto(q, 1, sc.dist[:1], sc.labels[:1]); err != nil {
		return none, fmt.Errorf("fraud search: %w: %w", ErrIndex, err)
	}
	if sc.labels[0] < 0 || math.IsInf(float64(sc.dist[0]), 0) {
		return none, nil
	}
	d := math.Sqrt(max(0, float64(sc.dist[0])) / float64(len(f.Mean)))
	x := d / f.Radius
	return FraudMatch{
		Risk:      math.Exp(-math.Ln2 * x * x),
		Distance:  d,
		Near:      d <= f.Radius,
		NearestID: sc.labels[0],
	}, nil
}

// AddFraud folds a fraud match into a scored result: the risks combine as independent
// evidence, 1-(1-r)(1-m), and a near match puts reason near_known_fraud first. A result
// that is not StatusScored is left alone.
func (r *Result) AddFraud(m FraudMatch) {
	if r.Status != StatusScored {
		return
	}
	r.Risk = 1 - (1-r.Risk)*(1-max(0, min(1, m.Risk)))
	if m.Near {
		r.prependReason(ReasonNearKnownFraud)
	}
}
