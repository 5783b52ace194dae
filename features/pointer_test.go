package features

import (
	"errors"
	"math"
	"testing"
)

func TestPointerStraightConstantSpeed(t *testing.T) {
	pts := make([]Point, 11)
	for i := range pts {
		pts[i] = Point{T: float64(i * 10), X: float64(i * 5), Y: 0, Pressure: 0.5}
	}
	dst := make([]float32, PointerDim)
	if err := Pointer(pts, dst); err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{
		PtrDuration: 100, PtrPathLength: 50, PtrStraightness: 1,
		PtrSpeedMean: 0.5, PtrSpeedStd: 0, PtrSpeedMax: 0.5,
		PtrAccelMean: 0, PtrTurnMean: 0, PtrPressureMean: 0.5, PtrPressureStd: 0,
		PtrPeakSpeedPos: 0.05, // the first segment's midpoint holds the (tied) peak
	}
	for i, w := range want {
		if !approx(float64(dst[i]), w, 1e-6) {
			t.Errorf("dst[%d] = %v, want %v", i, dst[i], w)
		}
	}
}

func TestPointerRightAngle(t *testing.T) {
	// Right along x for 3 segments then up along y for 3, speeding up on the second leg.
	pts := []Point{
		{0, 0, 0, 0}, {10, 10, 0, 0}, {20, 20, 0, 0}, {30, 30, 0, 0},
		{35, 30, 10, 0}, {40, 30, 20, 0}, {45, 30, 30, 0},
	}
	dst := make([]float32, PointerDim)
	if err := Pointer(pts, dst); err != nil {
		t.Fatal(err)
	}
	if !approx(float64(dst[PtrStraightness]), math.Hypot(30, 30)/60, 1e-6) {
		t.Errorf("straightness %v", dst[PtrStraightness])
	}
	// Five turning angles: 0, 0, pi/2, 0, 0.
	if !approx(float64(dst[PtrTurnMean]), math.Pi/2/5, 1e-6) {
		t.Errorf("turn mean %v", dst[PtrTurnMean])
	}
	if !approx(float64(dst[PtrSpeedMax]), 2, 1e-6) || dst[PtrAccelMean] <= 0 {
		t.Errorf("speed max %v accel %v", dst[PtrSpeedMax], dst[PtrAccelMean])
	}
	if dst[PtrPeakSpeedPos] < 0.5 {
		t.Errorf("peak speed position %v, want in the second half", dst[PtrPeakSpeedPos])
	}
}

func TestPointerErrors(t *testing.T) {
	tests := []struct {
		name string
		pts  []Point
		err  error
	}{
		{"two points", []Point{{0, 0, 0, 0}, {10, 1, 1, 0}}, ErrTooShort},
		{"zero duration", []Point{{5, 0, 0, 0}, {5, 1, 1, 0}, {5, 2, 2, 0}}, ErrTooShort},
		{"back in time", []Point{{0, 0, 0, 0}, {10, 1, 1, 0}, {5, 2, 2, 0}}, ErrOutOfOrder},
		{"nan", []Point{{0, 0, 0, 0}, {10, math.NaN(), 1, 0}, {20, 2, 2, 0}}, ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Pointer(tt.pts, make([]float32, PointerDim)); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestPointerAccumulatorRuns(t *testing.T) {
	type step struct {
		p     Point
		phase PointerPhase
		ready bool
	}
	mv := func(t, x float64) Point { return Point{T: t, X: x, Y: 0, Pressure: 0.4} }
	tests := []struct {
		name  string
		cfg   PointerConfig
		steps []step
		// wantDur is the duration of the run flushed at each ready step.
		wantDur []float64
		errs    []error
	}{
		{
			name: "gap ends the run and starts the next with the point",
			cfg:  PointerConfig{MaxGapMs: 50},
			steps: []step{
				{mv(0, 0), PhaseMove, false}, {mv(10, 5), PhaseMove, false}, {mv(20, 10), PhaseMove, false},
				{mv(200, 50), PhaseMove, true}, // gap 180 > 50
				{mv(210, 55), PhaseMove, false}, {mv(220, 60), PhaseUp, true},
			},
			wantDur: []float64{20, 20},
			errs:    []error{nil, nil},
		},
		{
			name: "down starts a run, short run is reported",
			steps: []step{
				{mv(0, 0), PhaseDown, false}, {mv(10, 5), PhaseMove, false},
				{mv(20, 10), PhaseDown, true}, // previous run had 2 points
				{mv(30, 15), PhaseMove, false}, {mv(40, 20), PhaseMove, false}, {mv(45, 20), PhaseUp, true},
			},
			wantDur: []float64{0, 25},
			errs:    []error{ErrTooShort, nil},
		},
		{
			name: "max points",
			cfg:  PointerConfig{MaxPoints: 3},
			steps: []step{
				{mv(0, 0), PhaseMove, false}, {mv(10, 5), PhaseMove, false}, {mv(20, 10), PhaseMove, true},
				{mv(30, 15), PhaseMove, false},
			},
			wantDur: []float64{20},
			errs:    []error{nil},
		},
		{
			name: "time going back spoils the run",
			steps: []step{
				{mv(0, 0), PhaseMove, false}, {mv(10, 5), PhaseMove, false}, {mv(5, 10), PhaseMove, false},
				{mv(20, 10), PhaseUp, true},
			},
			wantDur: []float64{0},
			errs:    []error{ErrOutOfOrder},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewPointerAccumulator(tt.cfg)
			dst := make([]float32, PointerDim)
			run := 0
			for i, s := range tt.steps {
				if got := a.Append(s.p, s.phase); got != s.ready {
					t.Fatalf("step %d: ready = %v, want %v", i, got, s.ready)
				}
				if !s.ready {
					continue
				}
				err := a.Flush(dst)
				if !errors.Is(err, tt.errs[run]) {
					t.Fatalf("run %d: err = %v, want %v", run, err, tt.errs[run])
				}
				if err == nil && float64(dst[PtrDuration]) != tt.wantDur[run] {
					t.Fatalf("run %d: duration = %v, want %v", run, dst[PtrDuration], tt.wantDur[run])
				}
				run++
			}
			if run != len(tt.wantDur) {
				t.Fatalf("flushed %d runs, want %d", run, len(tt.wantDur))
			}
			if err := a.Flush(dst); !errors.Is(err, ErrNotReady) {
				t.Fatalf("extra flush err = %v", err)
			}
		})
	}
}

func TestPointerAccumulatorDropped(t *testing.T) {
	a := NewPointerAccumulator(PointerConfig{})
	for i := 0; i < 3; i++ {
		a.Append(Point{T: float64(i * 10), X: float64(i)}, PhaseMove)
	}
	if !a.Append(Point{T: 30, X: 3}, PhaseUp) {
		t.Fatal("up did not finish the run")
	}
	a.Append(Point{T: 40, X: 4}, PhaseDown) // not flushed: dropped
	if a.Dropped() != 1 {
		t.Fatalf("Dropped = %d", a.Dropped())
	}
}

func TestPointerAccumulatorAllocs(t *testing.T) {
	a := NewPointerAccumulator(PointerConfig{})
	dst := make([]float32, PointerDim)
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 30; i++ {
			a.Append(Point{T: float64(i * 8), X: float64(i * i), Y: float64(3 * i), Pressure: 0.3}, PhaseMove)
		}
		if !a.Append(Point{T: 240, X: 900, Y: 90, Pressure: 0.3}, PhaseUp) {
			t.Fatal("not ready")
		}
		if err := a.Flush(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per run = %v, want 0", allocs)
	}
}
