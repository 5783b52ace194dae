package features

import (
	"errors"
	"math"
	"testing"
)

func keysOf(times ...[3]float64) []Key {
	ks := make([]Key, len(times))
	for i, t := range times {
		ks[i] = Key{Code: uint64(t[0]), Down: t[1], Up: t[2]}
	}
	return ks
}

func TestFixedText(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		keys []Key
		want []float32
		err  error
	}{
		{
			name: "three keys with overlap",
			keys: keysOf([3]float64{1, 0, 100}, [3]float64{2, 150, 230}, [3]float64{3, 200, 290}),
			// holds 100 80 90; DD 150 50; UD 50 -30
			want: []float32{100, 80, 90, 150, 50, 50, -30},
		},
		{
			name: "two keys",
			keys: keysOf([3]float64{7, 10, 20}, [3]float64{8, 40, 45}),
			want: []float32{10, 5, 30, 20},
		},
		{name: "one key", keys: keysOf([3]float64{1, 0, 10}), err: ErrTooShort},
		{name: "none", keys: nil, err: ErrTooShort},
		{name: "missing up", keys: keysOf([3]float64{1, 0, 10}, [3]float64{2, 20, nan}), err: ErrIncomplete},
		{name: "up before down", keys: keysOf([3]float64{1, 0, 10}, [3]float64{2, 20, 15}), err: ErrOutOfOrder},
		{name: "presses out of order", keys: keysOf([3]float64{1, 50, 60}, [3]float64{2, 20, 30}), err: ErrOutOfOrder},
		{name: "infinite", keys: keysOf([3]float64{1, 0, math.Inf(1)}, [3]float64{2, 20, 30}), err: ErrInvalidValue},
		{name: "nan down", keys: keysOf([3]float64{1, nan, 10}, [3]float64{2, 20, 30}), err: ErrInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]float32, 16)
			fp, err := FixedText(tt.keys, dst)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if fp == 0 || fp != Fingerprint(tt.keys) {
				t.Errorf("fingerprint = %x, want %x", fp, Fingerprint(tt.keys))
			}
			if d := FixedDim(len(tt.keys)); d != len(tt.want) {
				t.Fatalf("FixedDim = %d, want %d", d, len(tt.want))
			}
			for i, w := range tt.want {
				if dst[i] != w {
					t.Errorf("dst[%d] = %v, want %v (dst %v)", i, dst[i], w, dst[:len(tt.want)])
				}
			}
		})
	}
}

func TestFixedTextBufferTooSmall(t *testing.T) {
	keys := keysOf([3]float64{1, 0, 10}, [3]float64{2, 20, 30}, [3]float64{3, 40, 50})
	if _, err := FixedText(keys, make([]float32, 6)); !errors.Is(err, ErrBufferSize) {
		t.Fatalf("err = %v, want ErrBufferSize", err)
	}
}

func TestFingerprintOrderMatters(t *testing.T) {
	a := keysOf([3]float64{1, 0, 1}, [3]float64{2, 2, 3})
	b := keysOf([3]float64{2, 0, 1}, [3]float64{1, 2, 3})
	c := keysOf([3]float64{1, 0, 1}, [3]float64{2, 2, 3}, [3]float64{3, 4, 5})
	same := keysOf([3]float64{1, 50, 60}, [3]float64{2, 70, 80})
	if Fingerprint(a) == Fingerprint(b) || Fingerprint(a) == Fingerprint(c) {
		t.Fatal("different sequences share a fingerprint")
	}
	if Fingerprint(a) != Fingerprint(same) {
		t.Fatal("fingerprint depends on timing")
	}
}

func TestKeysForDim(t *testing.T) {
	for n := 1; n < 50; n++ {
		if got := KeysForDim(FixedDim(n)); got != n {
			t.Fatalf("KeysForDim(FixedDim(%d)) = %d", n, got)
		}
	}
	for _, d := range []int{0, 2, 3, 5, 30, -4} {
		if got := KeysForDim(d); got != 0 {
			t.Errorf("KeysForDim(%d) = %d, want 0", d, got)
		}
	}
}

type keyEvent struct {
	down bool
	code uint64
	t    float64
}

func TestKeystrokeAccumulator(t *testing.T) {
	tests := []struct {
		name    string
		events  []keyEvent
		want    []float32
		err     error
		orphans int
	}{
		{
			name: "overlapping keys, ups out of order",
			events: []keyEvent{
				{true, 1, 0}, {true, 2, 80}, {false, 1, 100}, {true, 3, 150}, {false, 3, 200}, {false, 2, 210},
			},
			// keys by press: 1 [0,100], 2 [80,210], 3 [150,200]
			want: []float32{100, 130, 50, 80, 70, -20, -60},
		},
		{
			name: "auto-repeat ignored, orphan up counted",
			events: []keyEvent{
				{false, 9, -5}, {true, 1, 0}, {true, 1, 30}, {true, 1, 60}, {false, 1, 90}, {true, 2, 120}, {false, 2, 170},
			},
			want:    []float32{90, 50, 120, 30},
			orphans: 1,
		},
		{
			name:   "missing up",
			events: []keyEvent{{true, 1, 0}, {false, 1, 50}, {true, 2, 90}},
			err:    ErrIncomplete,
		},
		{
			name:   "nan time",
			events: []keyEvent{{true, 1, 0}, {false, 1, math.NaN()}, {true, 2, 90}, {false, 2, 100}},
			err:    ErrInvalidValue,
		},
		{
			name:   "single key",
			events: []keyEvent{{true, 1, 0}, {false, 1, 50}},
			err:    ErrTooShort,
		},
		{
			name: "presses delivered out of order are sorted",
			events: []keyEvent{
				{true, 2, 100}, {false, 2, 150}, {true, 1, 0}, {false, 1, 60},
			},
			want: []float32{60, 50, 100, 40},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewKeystrokeAccumulator(8)
			for _, e := range tt.events {
				if e.down {
					a.KeyDown(e.code, e.t)
				} else {
					a.KeyUp(e.code, e.t)
				}
			}
			if a.Orphans() != tt.orphans {
				t.Errorf("Orphans = %d, want %d", a.Orphans(), tt.orphans)
			}
			dst := make([]float32, 32)
			dim, fp, err := a.Flush(dst)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if a.Len() != 0 || a.Pending() != 0 {
				t.Errorf("accumulator not emptied: len %d pending %d", a.Len(), a.Pending())
			}
			if tt.err != nil {
				return
			}
			if dim != len(tt.want) || fp == 0 {
				t.Fatalf("dim = %d fp = %x, want dim %d", dim, fp, len(tt.want))
			}
			for i, w := range tt.want {
				if dst[i] != w {
					t.Errorf("dst[%d] = %v, want %v (dst %v)", i, dst[i], w, dst[:dim])
				}
			}
		})
	}
}

func TestKeystrokeAccumulatorOverflow(t *testing.T) {
	a := NewKeystrokeAccumulator(3)
	for i := 0; i < 4; i++ {
		a.KeyDown(uint64(i), float64(i*100))
		a.KeyUp(uint64(i), float64(i*100+50))
	}
	if _, _, err := a.Flush(make([]float32, 32)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
	// Reusable after the failed entry.
	for i := 0; i < 3; i++ {
		a.KeyDown(uint64(i), float64(i*100))
		a.KeyUp(uint64(i), float64(i*100+50))
	}
	if dim, _, err := a.Flush(make([]float32, 32)); err != nil || dim != 7 {
		t.Fatalf("after overflow: dim %d err %v", dim, err)
	}
}

func TestKeystrokeAccumulatorStuckKeys(t *testing.T) {
	a := NewKeystrokeAccumulator(64)
	for i := 0; i < maxOpenKeys+2; i++ { // more keys held at once than tracked
		a.KeyDown(uint64(i), float64(i))
	}
	if a.Pending() != maxOpenKeys {
		t.Fatalf("Pending = %d, want %d", a.Pending(), maxOpenKeys)
	}
	for i := 0; i < maxOpenKeys+2; i++ {
		a.KeyUp(uint64(i), float64(100+i))
	}
	if _, _, err := a.Flush(make([]float32, 128)); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete (the given-up keys)", err)
	}
}

func TestKeystrokeAccumulatorAllocs(t *testing.T) {
	a := NewKeystrokeAccumulator(0)
	dst := make([]float32, FixedDim(DefaultMaxKeys))
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < 11; i++ {
			a.KeyDown(uint64(i)*0x9e3779b97f4a7c15, float64(i*150))
			a.KeyUp(uint64(i)*0x9e3779b97f4a7c15, float64(i*150+90))
		}
		if _, _, err := a.Flush(dst); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs per entry = %v, want 0", allocs)
	}
}
