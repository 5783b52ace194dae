package scoring

import (
	"math"
	"slices"

	"github.com/behaviorauth/engine/features"
)

// calibration maps a raw distance to [0, 1] through the user's own leave-one-out
// enrollment distances c(1) <= ... <= c(N) (each enrollment sample scored against the
// others), so that a risk means the same thing for every user:
//
//   - below c(1): linear from 0 at distance 0 to p(1);
//   - between c(i) and c(i+1): linear between p(i) = (i-0.5)/N and p(i+1), the empirical
//     distribution function with its steps joined;
//   - above c(N): p(N) + (1-p(N)) x/(1+x) with x = (d - c(N)) / tau and tau the median of
//     c, a tail that keeps growing towards 1 without ever reaching it.
//
// The map is continuous and non-decreasing (strictly increasing past c(N)), so it keeps
// the order of distances: far impostors stay ranked above near ones instead of all
// collapsing onto 1, and a user's equal-error rate is the same on risks as on distances.
type calibration struct {
	sorted []float64 // leave-one-out raw distances, ascending
	tau    float64
}

func newCalibration(loo []float64) calibration {
	s := slices.Clone(loo)
	slices.Sort(s)
	c := calibration{sorted: s}
	c.setTau()
	return c
}

func (c *calibration) setTau() {
	c.tau = features.QuantileSorted(c.sorted, 0.5)
	if !(c.tau > 0) {
		c.tau = 1
	}
}

// risk maps a raw distance to [0, 1].
func (c *calibration) risk(d float64) float64 {
	s := c.sorted
	n := len(s)
	if n == 0 || math.IsNaN(d) {
		return 1
	}
	if d <= 0 {
		return 0
	}
	p := func(i int) float64 { return (float64(i) + 0.5) / float64(n) } // i is 0-based
	if d < s[0] {
		return p(0) * d / s[0]
	}
	if d >= s[n-1] {
		x := (d - s[n-1]) / c.tau
		if math.IsInf(x, 1) {
			return 1
		}
		return p(n-1) + (1-p(n-1))*x/(1+x)
	}
	// Largest i with s[i] <= d (i < n-1 here).
	i, found := slices.BinarySearch(s, d)
	if !found {
		i--
	} else {
		for i+1 < n && s[i+1] == d {
			i++
		}
	}
	lo, hi := s[i], s[i+1]
	if hi == lo {
		return p(i + 1)
	}
	return p(i) + (p(i+1)-p(i))*(d-lo)/(hi-lo)
}

// median returns the median of xs without changing it.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return features.QuantileSorted(s, 0.5)
}
