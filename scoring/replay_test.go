package scoring

import (
	"testing"

	"github.com/behaviorauth/engine/features"
)

func TestSampleHash(t *testing.T) {
	v := []float32{100.25, 87.5, -12.75, 300}
	same := []float32{100.25, 87.5, -12.75, 300}
	tiny := []float32{100.25 * (1 + 1e-6), 87.5, -12.75, 300}
	moved := []float32{101.25, 87.5, -12.75, 300}
	if SampleHash(v) != SampleHash(same) || SampleHash(v) != SampleHash(tiny) {
		t.Fatal("equal or near-equal vectors hash differently")
	}
	if SampleHash(v) == SampleHash(moved) {
		t.Fatal("a 1% change went unnoticed")
	}
	if SampleHash([]float32{0}) != SampleHash([]float32{float32(negZero())}) {
		t.Fatal("-0 and +0 differ")
	}
}

func negZero() float64 { z := 0.0; return -z }

func TestReplayGuardRing(t *testing.T) {
	g := NewReplayGuard(3)
	for h := uint64(1); h <= 4; h++ {
		g.Remember(h)
	}
	if g.Len() != 3 || g.Seen(1) || !g.Seen(2) || !g.Seen(4) {
		t.Fatalf("len %d, seen 1 %v 2 %v 4 %v", g.Len(), g.Seen(1), g.Seen(2), g.Seen(4))
	}
	if got := g.appendOrdered(nil); len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Fatalf("ordered %v", got)
	}
	if g.Check([]float32{1, 2}) || !g.Check([]float32{1, 2}) {
		t.Fatal("Check")
	}
}

func TestMachineTiming(t *testing.T) {
	n := 6
	human := []float32{90, 110, 80, 95, 130, 85, 180, 240, 150, 320, 200, 90, 130, 70, 225, 70}
	fixedDD := append([]float32(nil), human...)
	for i := 0; i < n-1; i++ {
		fixedDD[features.FixedDDOffset(n)+i] = 150 + float32(i%2)
	}
	evenHolds := append([]float32(nil), human...) // a steady typist: holds within 4%
	for i, h := range []float32{95, 98, 92, 96, 99, 94} {
		evenHolds[i] = h
	}
	fixedHolds := append([]float32(nil), human...) // a script's constant holds
	for i := 0; i < n; i++ {
		fixedHolds[i] = 50
	}
	free := make([]float32, features.FreeTextDim)
	free[features.FreeDDMean], free[features.FreeDDStd] = 200, 60
	free[features.FreeHoldMean], free[features.FreeHoldStd] = 90, 20
	freeBot := append([]float32(nil), free...)
	freeBot[features.FreeDDStd] = 2
	ptr := make([]float32, features.PointerDim)
	ptr[features.PtrSpeedMean], ptr[features.PtrSpeedStd] = 1.2, 0.5
	ptrBot := append([]float32(nil), ptr...)
	ptrBot[features.PtrSpeedStd] = 0.001
	motion := make([]float32, features.MotionDim)
	motionNoise := append([]float32(nil), motion...)
	motionNoise[features.MotAxisMean+1] = 0.02

	tests := []struct {
		name string
		m    Modality
		vec  []float32
		want bool
	}{
		{"human keystrokes", ModalityKeystroke, human, false},
		{"fixed latencies", ModalityKeystroke, fixedDD, true},
		{"steady holds are human", ModalityKeystroke, evenHolds, false},
		{"constant holds", ModalityKeystroke, fixedHolds, true},
		{"too short to judge", ModalityKeystroke, []float32{50, 50, 100, 50}, false},
		{"free text human", ModalityFreeText, free, false},
		{"free text bot", ModalityFreeText, freeBot, true},
		{"pointer human", ModalityPointer, ptr, false},
		{"touch glide", ModalityTouch, ptrBot, true},
		{"emulator motion", ModalityMotion, motion, true},
		{"real sensor", ModalityMotion, motionNoise, false},
		{"wrong length", ModalityPointer, ptr[:5], false},
	}
	for _, tt := range tests {
		if got := MachineTiming(tt.m, tt.vec, DefaultMinTimingCV); got != tt.want {
			t.Errorf("%s: MachineTiming = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Seen finds a hash at every position of a ring of any fill, and nothing else.
func TestReplayGuardSeen(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 5, 8, 255, 256} {
		g := NewReplayGuard(256)
		for i := range n {
			g.Remember(uint64(1000 + i))
		}
		for i := range n {
			if !g.Seen(uint64(1000 + i)) {
				t.Fatalf("fill %d: hash %d not seen", n, i)
			}
		}
		if g.Seen(999) || g.Seen(uint64(1000+n)) {
			t.Fatalf("fill %d: a hash never remembered was seen", n)
		}
	}
}

func BenchmarkReplayGuardSeen(b *testing.B) {
	g := NewReplayGuard(DefaultReplayMemory)
	for i := range DefaultReplayMemory {
		g.Remember(uint64(i) * 7919)
	}
	b.ReportAllocs()
	for b.Loop() {
		if g.Seen(1) {
			b.Fatal("seen")
		}
	}
}
