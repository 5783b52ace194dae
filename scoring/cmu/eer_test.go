package cmu

import (
	"errors"
	"math"
	"testing"
)

func TestEER(t *testing.T) {
	tests := []struct {
		name         string
		genuine, imp []float64
		eer, thr     float64
	}{
		{"separated", []float64{1, 2, 3}, []float64{4, 5, 6}, 0, 3},
		{"inverted", []float64{4, 5, 6}, []float64{1, 2, 3}, 1, 3},
		{"identical", []float64{1, 1}, []float64{1, 1}, 0.5, 1},
		{"one overlap", []float64{1, 2, 3, 4}, []float64{3.5, 5, 6, 7}, 0.25, 3.5},
		{"tie across classes", []float64{1, 2}, []float64{2, 3}, 0.25, 1.5},
		{"crossing between points", []float64{1, 2, 3, 4, 10}, []float64{2.5, 5, 6, 7}, 0.25, 3.75},
		{"single each", []float64{0.2}, []float64{0.1}, 1, 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eer, thr, err := EER(tt.genuine, tt.imp)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(eer-tt.eer) > 1e-12 || math.Abs(thr-tt.thr) > 1e-12 {
				t.Fatalf("EER = %v at %v, want %v at %v", eer, thr, tt.eer, tt.thr)
			}
		})
	}
	if _, _, err := EER(nil, []float64{1}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("no genuine scores: %v", err)
	}
	if _, _, err := EER([]float64{math.NaN()}, []float64{1}); !errors.Is(err, ErrValue) {
		t.Fatalf("NaN: %v", err)
	}
}

func TestCurveAndRates(t *testing.T) {
	pts, err := Curve([]float64{1, 2, 3, 4}, []float64{3, 5})
	if err != nil {
		t.Fatal(err)
	}
	want := []OperatingPoint{
		{math.Inf(-1), 0, 1}, {1, 0, 0.75}, {2, 0, 0.5}, {3, 0.5, 0.25}, {4, 0.5, 0}, {5, 1, 0},
	}
	if len(pts) != len(want) {
		t.Fatalf("%d points: %v", len(pts), pts)
	}
	for i := range want {
		if pts[i] != want[i] {
			t.Fatalf("point %d = %+v, want %+v", i, pts[i], want[i])
		}
	}
	far, frr := RatesAt([]float64{1, 2, 3, 4}, []float64{3, 5}, 3)
	if far != 0.5 || frr != 0.25 {
		t.Fatalf("RatesAt = %v %v", far, frr)
	}
	grid := []float64{0, 0.4, 0.5, 1}
	if got := FRRAt(pts, grid); got[0] != 0.5 || got[1] != 0.5 || got[2] != 0 || got[3] != 0 {
		t.Fatalf("FRRAt = %v", got)
	}
}

func TestDETGrid(t *testing.T) {
	g := DETGrid(40)
	if math.Abs(g[0]-0.001) > 1e-9 || math.Abs(g[39]-0.6) > 1e-9 {
		t.Fatalf("grid ends %v %v", g[0], g[39])
	}
	for i := 1; i < len(g); i++ {
		if g[i] <= g[i-1] {
			t.Fatal("grid not increasing")
		}
	}
	if math.Abs(NormalCDF(Probit(0.025))-0.025) > 1e-12 || math.Abs(Probit(0.5)) > 1e-12 {
		t.Fatal("probit")
	}
}
