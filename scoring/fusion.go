package scoring

import (
	"fmt"
	"math"
)

// Fusion turns a session's stream of sample risks into one session risk: an exponentially
// time-weighted mean that starts from, and falls back to, a prior.
//
//	risk(now) = (P·w0 + Σ c_i·r_i·2^(-(now-t_i)/H)) / (w0 + Σ c_i·2^(-(now-t_i)/H))
//
// where r_i is sample i's risk, t_i its time (ms, the client's clock), c_i its weight
// (how much one sample of its modality tells: see ModalityWeight), H the half-life, P the
// prior risk and w0 its weight. Recent samples dominate; a sample H ms old counts half;
// with no evidence for a while the risk returns to P (the session was opened with a
// correct password and MPIN). The sums are kept incrementally, so an update is O(1)
// and the state is four numbers (FusionState), cheap to snapshot with the session.
type Fusion struct {
	// HalfLifeMs is H. Default 60000 (one minute).
	HalfLifeMs float64
	// Prior is P, the risk with no behavioral evidence. Default 0.1.
	Prior float64
	// PriorWeight is w0, in samples' worth. Default 1.
	PriorWeight float64
}

// DefaultFusion returns the defaults.
func DefaultFusion() Fusion { return Fusion{}.withDefaults() }

func (f Fusion) withDefaults() Fusion {
	if f.HalfLifeMs == 0 {
		f.HalfLifeMs = 60000
	}
	if f.Prior == 0 {
		f.Prior = 0.1
	}
	if f.PriorWeight == 0 {
		f.PriorWeight = 1
	}
	return f
}

// Validate reports an out-of-range value (after defaults), wrapping ErrConfig.
func (f Fusion) Validate() error {
	f = f.withDefaults()
	if !(f.HalfLifeMs > 0) || math.IsInf(f.HalfLifeMs, 0) || !(f.Prior >= 0 && f.Prior <= 1) ||
		!(f.PriorWeight > 0) || math.IsInf(f.PriorWeight, 0) {
		return fmt.Errorf("fusion half-life %v, prior %v, prior weight %v: %w",
			f.HalfLifeMs, f.Prior, f.PriorWeight, ErrConfig)
	}
	return nil
}

// FusionState is a session's fusion memory: the decayed weighted sum of risks and of
// weights as of time T (ms). The zero value is a session with no samples yet.
type FusionState struct {
	WeightedRisk float64 `json:"weighted_risk"`
	Weight       float64 `json:"weight"`
	T            float64 `json:"t"`
	Samples      int     `json:"samples"`
}

func (f Fusion) decay(st FusionState, now float64) (wr, w float64) {
	if st.Samples == 0 || now <= st.T {
		return st.WeightedRisk, st.Weight
	}
	k := math.Exp2(-(now - st.T) / f.HalfLifeMs)
	return st.WeightedRisk * k, st.Weight * k
}

// Add folds a sample's risk (clamped to [0, 1]) with weight (<= 0 counts as 1) observed at
// time t into st and returns the fused risk at t. A sample older than st.T (out of order)
// is folded in without decaying the others.
func (f Fusion) Add(st *FusionState, t, risk, weight float64) float64 {
	f = f.withDefaults()
	if math.IsNaN(risk) {
		risk = 1
	}
	risk = max(0, min(1, risk))
	if !(weight > 0) || math.IsInf(weight, 0) {
		weight = 1
	}
	wr, w := f.decay(*st, t)
	st.WeightedRisk = wr + weight*risk
	st.Weight = w + weight
	if t > st.T || st.Samples == 0 {
		st.T = t
	}
	st.Samples++
	return f.risk(st.WeightedRisk, st.Weight)
}

// Risk returns the fused risk at time now without changing st.
func (f Fusion) Risk(st FusionState, now float64) float64 {
	f = f.withDefaults()
	wr, w := f.decay(st, now)
	return f.risk(wr, w)
}

func (f Fusion) risk(wr, w float64) float64 {
	return (f.Prior*f.PriorWeight + wr) / (f.PriorWeight + w)
}

// ModalityWeight is the default evidence weight of one sample of m in Fusion: a typed
// secret is the strongest single sample, a free-text window next, pointer and touch runs
// are short and noisy, a motion window says least on its own.
func ModalityWeight(m Modality) float64 {
	switch m {
	case ModalityKeystroke:
		return 1
	case ModalityFreeText:
		return 0.8
	case ModalityTouch:
		return 0.5
	case ModalityPointer:
		return 0.4
	case ModalityMotion:
		return 0.25
	}
	return 0
}
