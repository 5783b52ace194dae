package features

import (
	"errors"
	"math"
	"testing"
)

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestFreeText(t *testing.T) {
	// Six keys: holds 100, 80, 120, 90, 110, 100; presses at 0, 200, 350, 1500 (pause), 1650, 1700.
	downs := []float64{0, 200, 350, 1500, 1650, 1700}
	holds := []float64{100, 80, 120, 90, 110, 100}
	keys := make([]Key, len(downs))
	for i := range downs {
		keys[i] = Key{Code: uint64(i), Down: downs[i], Up: downs[i] + holds[i]}
	}
	dst := make([]float32, FreeTextDim)
	if err := FreeText(keys, dst, make([]float64, len(keys))); err != nil {
		t.Fatal(err)
	}
	// Fluent DD: 200, 150, 150, 50 (the 1150 is a pause).
	// UD of fluent transitions: 200-100=100, 350-280=70, 1650-1590=60, 1700-1760=-60.
	want := map[int]float64{
		FreeHoldMean:   100,
		FreeHoldStd:    math.Sqrt((0 + 400 + 400 + 100 + 100 + 0) / 6.0),
		FreeHoldMedian: 100,
		FreeDDMean:     137.5,
		FreeDDStd:      math.Sqrt((62.5*62.5 + 12.5*12.5 + 12.5*12.5 + 87.5*87.5) / 4),
		FreeDDMedian:   150,
		FreeDDP90:      185, // sorted 50,150,150,200: pos 2.7 -> 150 + 0.7*50
		FreeUDMean:     42.5,
		FreeRollover:   0.25,
		FreePauseRatio: 0.2,
		FreeRate:       5 * 1000 / 1700.0,
	}
	for i, w := range want {
		if !approx(float64(dst[i]), w, 1e-3) {
			t.Errorf("dst[%d] = %v, want %v", i, dst[i], w)
		}
	}
}

func TestFreeTextErrors(t *testing.T) {
	ok := func() []Key {
		ks := make([]Key, 6)
		for i := range ks {
			ks[i] = Key{Code: uint64(i), Down: float64(i * 100), Up: float64(i*100 + 50)}
		}
		return ks
	}
	tests := []struct {
		name    string
		mutate  func([]Key) []Key
		scratch int
		err     error
	}{
		{"short", func(k []Key) []Key { return k[:4] }, 6, ErrTooShort},
		{"too many missing ups", func(k []Key) []Key { k[0].Up, k[1].Up = math.NaN(), math.NaN(); return k }, 6, ErrTooShort},
		{"one missing up is fine", func(k []Key) []Key { k = append(k, Key{Code: 9, Down: 700, Up: math.NaN()}); return k }, 7, nil},
		{"out of order", func(k []Key) []Key { k[2].Down = 1000; return k }, 6, ErrOutOfOrder},
		{"up before down", func(k []Key) []Key { k[2].Up = 150; return k }, 6, ErrOutOfOrder},
		{"infinite", func(k []Key) []Key { k[2].Down = math.Inf(-1); return k }, 6, ErrInvalidValue},
		{"scratch short", func(k []Key) []Key { return k }, 3, ErrBufferSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := FreeText(tt.mutate(ok()), make([]float32, FreeTextDim), make([]float64, tt.scratch))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestFreeTextAccumulator(t *testing.T) {
	a := NewFreeTextAccumulator(10)
	dst := make([]float32, FreeTextDim)
	if err := a.Flush(dst); !errors.Is(err, ErrNotReady) {
		t.Fatalf("empty flush err = %v", err)
	}
	for i := 0; i < 10; i++ {
		if a.Ready() {
			t.Fatalf("ready after %d keys", i)
		}
		a.KeyDown(uint64(i%4), float64(i*150))
		if i == 9 && a.Ready() {
			t.Fatal("ready while the last key is held")
		}
		a.KeyUp(uint64(i%4), float64(i*150+80))
	}
	if !a.Ready() {
		t.Fatal("not ready after the window")
	}
	if err := a.Flush(dst); err != nil {
		t.Fatal(err)
	}
	if dst[FreeHoldMean] != 80 || dst[FreeDDMean] != 150 || dst[FreeDDStd] != 0 {
		t.Fatalf("vector %v", dst)
	}
	if a.Len() != 0 {
		t.Fatal("not emptied")
	}
}

func TestFreeTextAccumulatorAllocs(t *testing.T) {
	a := NewFreeTextAccumulator(40)
	dst := make([]float32, FreeTextDim)
	allocs := testing.AllocsPerRun(50, func() {
		for i := 0; i < 40; i++ {
			a.KeyDown(uint64(i%26), float64(i*173%97+i*160))
			a.KeyUp(uint64(i%26), float64(i*173%97+i*160+85))
		}
		if err := a.Flush(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per window = %v, want 0", allocs)
	}
}
