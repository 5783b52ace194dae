package scoring

import (
	"fmt"
	"math"
)

// ManhattanModel is the scaled Manhattan detector of Killourhy and Maxion (2009), the best
// of the fourteen they compared on the CMU benchmark: the per-dimension mean of the
// training vectors and the per-dimension mean absolute deviation from it; the distance of
// a vector is the sum over dimensions of |x - mean| / deviation. The template set uses it
// as one of its two components; on its own it is the baseline of the evaluation.
type ManhattanModel struct {
	Mean []float64
	MAD  []float64
}

// FitManhattan fits the model to row-major vecs of dim values each (at least two rows).
func FitManhattan(vecs []float32, dim int) (ManhattanModel, error) {
	if dim <= 0 || len(vecs)%dim != 0 {
		return ManhattanModel{}, fmt.Errorf("fit manhattan on %d values of dim %d: %w", len(vecs), dim, ErrDimension)
	}
	n := len(vecs) / dim
	if n < 2 {
		return ManhattanModel{}, fmt.Errorf("fit manhattan on %d vectors: %w", n, ErrNotEnoughSamples)
	}
	m := ManhattanModel{Mean: make([]float64, dim), MAD: make([]float64, dim)}
	fitColumns(vecs, dim, m.Mean, nil, m.MAD)
	return m, nil
}

// Distance returns the scaled Manhattan distance of x. With perDimCap > 0, each
// dimension contributes at most perDimCap (in deviation units), so that a single wild
// value (a hesitation on one key) cannot outweigh everything else.
func (m ManhattanModel) Distance(x []float32, perDimCap float64) float64 {
	return scaledManhattan(x, m.Mean, m.MAD, perDimCap)
}

func scaledManhattan(x []float32, mean, mad []float64, perDimCap float64) float64 {
	var s float64
	for i, v := range x {
		z := math.Abs(float64(v)-mean[i]) / mad[i]
		if perDimCap > 0 && z > perDimCap {
			z = perDimCap
		}
		s += z
	}
	return s
}

// fitColumns computes, per dimension of the row-major vecs, the mean, the population
// standard deviation (if std != nil) and the mean absolute deviation from the mean (if
// mad != nil), with scales floored by floorScale.
func fitColumns(vecs []float32, dim int, mean, std, mad []float64) {
	n := len(vecs) / dim
	for d := 0; d < dim; d++ {
		var s float64
		for r := 0; r < n; r++ {
			s += float64(vecs[r*dim+d])
		}
		mu := s / float64(n)
		mean[d] = mu
		var v, a float64
		for r := 0; r < n; r++ {
			e := float64(vecs[r*dim+d]) - mu
			v += e * e
			a += math.Abs(e)
		}
		if std != nil {
			std[d] = floorScale(math.Sqrt(v/float64(n)), mu)
		}
		if mad != nil {
			mad[d] = floorScale(a/float64(n), mu)
		}
	}
}

// floorScale keeps a spread away from zero: a dimension that never varied in enrollment
// (a constant pressure, a coarse timer) must not turn the smallest later change into an
// infinite distance. The floor is 0.1% of the mean's magnitude, and never below 1e-6.
func floorScale(s, mean float64) float64 {
	return max(s, 1e-3*math.Abs(mean), 1e-6)
}
