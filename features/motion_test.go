package features

import (
	"errors"
	"math"
	"testing"
)

func TestMotionFeatures(t *testing.T) {
	ms := make([]Motion, 10)
	for i := range ms {
		// AX alternates 1 and 3 (mean 2, std 1); AY is 0; AZ is 0; gyro GZ = 0.5.
		ax := 1.0
		if i%2 == 1 {
			ax = 3
		}
		ms[i] = Motion{T: float64(i * 20), AX: ax, GZ: 0.5}
	}
	dst := make([]float32, MotionDim)
	if err := MotionFeatures(ms, dst); err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{
		MotAxisMean: 2, MotAxisMean + 1: 1, 2: 0, 3: 0,
		MotAccMagMean: 2, MotAccMagStd: 1, MotAccMagMax: 3,
		MotGyrMagMean: 0.5, MotGyrMagStd: 0, MotGyrMagMax: 0.5,
		2*5 + 0: 0.5, // GZ mean
	}
	for i, w := range want {
		if !approx(float64(dst[i]), w, 1e-6) {
			t.Errorf("dst[%d] = %v, want %v", i, dst[i], w)
		}
	}
}

func TestMotionErrors(t *testing.T) {
	short := make([]Motion, MinMotionSamples-1)
	for i := range short {
		short[i].T = float64(i)
	}
	back := make([]Motion, MinMotionSamples)
	for i := range back {
		back[i].T = float64(i)
	}
	back[5].T = -1
	bad := make([]Motion, MinMotionSamples)
	bad[3].GY = math.Inf(1)
	for name, tc := range map[string]struct {
		ms  []Motion
		err error
	}{
		"short": {short, ErrTooShort}, "back in time": {back, ErrOutOfOrder}, "infinite": {bad, ErrInvalidValue},
	} {
		if err := MotionFeatures(tc.ms, make([]float32, MotionDim)); !errors.Is(err, tc.err) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.err)
		}
	}
}

func TestMotionAccumulatorWindows(t *testing.T) {
	a := NewMotionAccumulator(MotionConfig{WindowMs: 200, MaxGapMs: 50})
	dst := make([]float32, MotionDim)
	windows := 0
	// 20 ms readings for 0..400 ms: two windows (0..200, 220..420 not complete at 400).
	for ts := 0.0; ts <= 400; ts += 20 {
		if a.Append(Motion{T: ts, AZ: 9.8}) {
			if err := a.Flush(dst); err != nil {
				t.Fatalf("flush at %v: %v", ts, err)
			}
			if dst[2*2] != 9.8 {
				t.Fatalf("AZ mean %v", dst[4])
			}
			windows++
		}
	}
	if windows != 1 {
		t.Fatalf("windows = %d, want 1", windows)
	}
	// A gap discards the partial window: 220..400 was 10 readings, then silence.
	if a.Append(Motion{T: 1000, AZ: 9.8}) {
		t.Fatal("a lone reading after a gap finished a window")
	}
	if a.Gaps() != 1 {
		t.Fatalf("Gaps = %d", a.Gaps())
	}
	// A window of too few readings (a sparse sensor) is reported as too short.
	a.Reset()
	ready := false
	for ts := 0.0; !ready; ts += 45 { // 6 readings reach 225 >= 200
		ready = a.Append(Motion{T: ts})
	}
	if err := a.Flush(dst); !errors.Is(err, ErrTooShort) {
		t.Fatalf("sparse window err = %v", err)
	}
}

func TestMotionAccumulatorAllocs(t *testing.T) {
	a := NewMotionAccumulator(MotionConfig{WindowMs: 500})
	dst := make([]float32, MotionDim)
	ts := 0.0
	allocs := testing.AllocsPerRun(50, func() {
		for {
			ts += 16
			if a.Append(Motion{T: ts, AX: math.Sin(ts), AY: 9.7, AZ: 0.3, GX: 0.01, GY: math.Cos(ts), GZ: 0}) {
				break
			}
		}
		if err := a.Flush(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per window = %v, want 0", allocs)
	}
}
