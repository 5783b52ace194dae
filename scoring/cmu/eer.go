package cmu

import (
	"fmt"
	"math"
	"slices"
)

// OperatingPoint is one threshold's error rates: a sample is accepted when its score is
// at or below Threshold (scores grow with distance from the owner).
type OperatingPoint struct {
	Threshold float64
	FAR       float64 // impostor samples accepted / impostor samples
	FRR       float64 // genuine samples rejected / genuine samples
}

// Curve returns the operating points at every distinct score, preceded by the point that
// accepts nothing (Threshold -Inf, FAR 0, FRR 1). FAR rises and FRR falls along it.
func Curve(genuine, impostor []float64) ([]OperatingPoint, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return nil, fmt.Errorf("curve of %d genuine and %d impostor scores: %w", len(genuine), len(impostor), ErrProtocol)
	}
	for _, s := range genuine {
		if math.IsNaN(s) {
			return nil, fmt.Errorf("NaN genuine score: %w", ErrValue)
		}
	}
	for _, s := range impostor {
		if math.IsNaN(s) {
			return nil, fmt.Errorf("NaN impostor score: %w", ErrValue)
		}
	}
	g := slices.Sorted(slices.Values(genuine))
	im := slices.Sorted(slices.Values(impostor))
	pts := []OperatingPoint{{Threshold: math.Inf(-1), FAR: 0, FRR: 1}}
	gi, ii := 0, 0 // counts of scores <= threshold
	for gi < len(g) || ii < len(im) {
		t := math.Inf(1)
		if gi < len(g) {
			t = g[gi]
		}
		if ii < len(im) && im[ii] < t {
			t = im[ii]
		}
		for gi < len(g) && g[gi] <= t {
			gi++
		}
		for ii < len(im) && im[ii] <= t {
			ii++
		}
		pts = append(pts, OperatingPoint{
			Threshold: t,
			FAR:       float64(ii) / float64(len(im)),
			FRR:       float64(len(g)-gi) / float64(len(g)),
		})
	}
	return pts, nil
}

// EER returns the equal-error rate of the scores and the threshold where it is reached:
// where FRR-FAR changes sign along the curve, FAR and FRR are interpolated linearly
// between the two operating points around the crossing. The threshold is interpolated
// the same way (the first finite threshold when the crossing is at the start).
func EER(genuine, impostor []float64) (eer, threshold float64, err error) {
	pts, err := Curve(genuine, impostor)
	if err != nil {
		return 0, 0, err
	}
	for j := 1; j < len(pts); j++ {
		b := pts[j]
		db := b.FRR - b.FAR
		if db > 0 {
			continue
		}
		a := pts[j-1]
		da := a.FRR - a.FAR // > 0
		f := da / (da - db)
		eer = a.FAR + f*(b.FAR-a.FAR)
		if math.IsInf(a.Threshold, -1) {
			return eer, b.Threshold, nil
		}
		return eer, a.Threshold + f*(b.Threshold-a.Threshold), nil
	}
	// Unreachable: the last point has FRR 0.
	last := pts[len(pts)-1]
	return last.FAR, last.Threshold, nil
}

// RatesAt returns FAR and FRR when samples scoring at or below threshold are accepted.
func RatesAt(genuine, impostor []float64, threshold float64) (far, frr float64) {
	for _, s := range impostor {
		if s <= threshold {
			far++
		}
	}
	for _, s := range genuine {
		if s > threshold {
			frr++
		}
	}
	return far / float64(max(1, len(impostor))), frr / float64(max(1, len(genuine)))
}

// DETGrid is the FAR grid averaged DET curves are sampled on: 0.1% to 60%, evenly spaced
// on the normal-deviate scale of a DET plot.
func DETGrid(points int) []float64 {
	lo, hi := Probit(0.001), Probit(0.6)
	g := make([]float64, points)
	for i := range g {
		g[i] = NormalCDF(lo + (hi-lo)*float64(i)/float64(max(1, points-1)))
	}
	return g
}

// FRRAt returns, for each FAR in grid, the lowest FRR of the curve with FAR at most that:
// a per-subject curve sampled on a common grid so that curves can be averaged across
// subjects (vertical averaging), whatever each subject's score scale.
func FRRAt(pts []OperatingPoint, grid []float64) []float64 {
	out := make([]float64, len(grid))
	for i, x := range grid {
		best := 1.0
		for _, p := range pts {
			if p.FAR <= x && p.FRR < best {
				best = p.FRR
			}
		}
		out[i] = best
	}
	return out
}

// Probit is the standard normal quantile function.
func Probit(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// NormalCDF is the standard normal distribution function.
func NormalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
