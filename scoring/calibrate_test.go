package scoring

import (
	"math"
	"testing"
)

func TestCalibrationMap(t *testing.T) {
	c := newCalibration([]float64{4, 1, 3, 2}) // sorted 1 2 3 4, p = .125 .375 .625 .875, tau = 2.5
	tests := []struct {
		d, want float64
	}{
		{-1, 0}, {0, 0}, {0.5, 0.0625}, {1, 0.125}, {1.5, 0.25}, {2, 0.375}, {3.5, 0.75}, {4, 0.875},
		{6.5, 0.875 + 0.125*0.5}, // x = 1
		{math.NaN(), 1},
	}
	for _, tt := range tests {
		if got := c.risk(tt.d); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("risk(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
	// Monotone, below 1 and still increasing far out.
	prev := -1.0
	for d := 0.0; d < 1e6; d = d*1.3 + 0.01 {
		r := c.risk(d)
		if r < prev || r >= 1 {
			t.Fatalf("risk(%v) = %v after %v", d, r, prev)
		}
		prev = r
	}
	if !(c.risk(1e6) < c.risk(2e6)) {
		t.Fatal("tail saturates")
	}
}

func TestCalibrationTies(t *testing.T) {
	c := newCalibration([]float64{2, 2, 2, 5})
	if got := c.risk(2); math.Abs(got-0.625) > 1e-12 {
		t.Fatalf("risk at a tied value = %v, want the top of the tie 0.625", got)
	}
	if a, b := c.risk(1.999), c.risk(2.001); !(a <= 0.625 && b >= 0.625) {
		t.Fatalf("around the tie: %v %v", a, b)
	}
}
