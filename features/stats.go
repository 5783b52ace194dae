package features

import (
	"math"
	"slices"
)

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// meanStd returns the mean and the population standard deviation of xs (0, 0 when empty).
// Two passes: the values are already in memory and this is exact enough for milliseconds.
func meanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	mean = s / float64(len(xs))
	var v float64
	for _, x := range xs {
		d := x - mean
		v += d * d
	}
	return mean, math.Sqrt(v / float64(len(xs)))
}

// quantileInPlace sorts xs and returns its q-quantile with linear interpolation
// (0 when empty). slices.Sort on a float64 slice does not allocate.
func quantileInPlace(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return QuantileSorted(xs, q)
}

// QuantileSorted returns the q-quantile of the ascending xs with linear interpolation (0 for none).
func QuantileSorted(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

// welford accumulates a running mean and variance in one pass without storing the values.
type welford struct {
	n    int
	mean float64
	m2   float64
	max  float64
}

func (w *welford) add(x float64) {
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
	if w.n == 1 || x > w.max {
		w.max = x
	}
}

// std returns the population standard deviation.
func (w *welford) std() float64 {
	if w.n == 0 {
		return 0
	}
	return math.Sqrt(w.m2 / float64(w.n))
}
