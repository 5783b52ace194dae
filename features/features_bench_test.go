package features

import (
	"math"
	"testing"
)

func BenchmarkKeystrokeEntry(b *testing.B) {
	for _, n := range []int{11, 32} {
		b.Run(map[int]string{11: "keys=11", 32: "keys=32"}[n], func(b *testing.B) {
			a := NewKeystrokeAccumulator(0)
			dst := make([]float32, FixedDim(DefaultMaxKeys))
			b.ReportAllocs()
			for b.Loop() {
				for i := 0; i < n; i++ {
					a.KeyDown(uint64(i), float64(i*150))
					a.KeyUp(uint64(i), float64(i*150+90))
				}
				if _, _, err := a.Flush(dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFreeTextWindow(b *testing.B) {
	a := NewFreeTextAccumulator(DefaultFreeTextWindow)
	dst := make([]float32, FreeTextDim)
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < DefaultFreeTextWindow; i++ {
			a.KeyDown(uint64(i%26), float64(i*160+(i*37)%50))
			a.KeyUp(uint64(i%26), float64(i*160+(i*37)%50+85))
		}
		if err := a.Flush(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPointerAppend(b *testing.B) {
	a := NewPointerAccumulator(PointerConfig{MaxPoints: 64})
	dst := make([]float32, PointerDim)
	t := 0.0
	b.ReportAllocs()
	for b.Loop() {
		t += 8
		if a.Append(Point{T: t, X: math.Sin(t / 100), Y: t / 10, Pressure: 0.5}, PhaseMove) {
			_ = a.Flush(dst)
		}
	}
}

func BenchmarkMotionAppend(b *testing.B) {
	a := NewMotionAccumulator(MotionConfig{})
	dst := make([]float32, MotionDim)
	t := 0.0
	b.ReportAllocs()
	for b.Loop() {
		t += 16
		if a.Append(Motion{T: t, AX: 0.1, AY: 9.7, AZ: math.Cos(t), GX: 0.01}) {
			_ = a.Flush(dst)
		}
	}
}
