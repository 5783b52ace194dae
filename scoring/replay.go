package scoring

import (
	"math"

	"github.com/behaviorauth/engine/features"
)

// DefaultReplayMemory is how many recent sample hashes a ReplayGuard keeps by default.
const DefaultReplayMemory = 256

// replayMantissaBits is how many float32 mantissa bits survive quantization before
// hashing: 10 bits is a relative precision of about 0.1%, far below the natural spread of
// human timing, so a person never repeats a vector while a replay (or a copy with
// sub-millisecond noise on 100 ms values) does.
const replayMantissaBits = 10

// SampleHash returns a 64-bit hash of vec quantized to about 0.1% relative precision
// (FNV-1a over the truncated float32 bits). Equal vectors, and vectors that differ only
// below that precision in every value, hash alike. It does not allocate.
func SampleHash(vec []float32) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
		mask   = ^uint32(1<<(23-replayMantissaBits) - 1)
	)
	h := uint64(offset)
	for _, v := range vec {
		b := math.Float32bits(v) & mask
		if b == 0x80000000 { // -0 and +0 alike
			b = 0
		}
		for i := 0; i < 4; i++ {
			h ^= uint64(b & 0xff)
			h *= prime
			b >>= 8
		}
	}
	return h
}

// ReplayGuard remembers the hashes of recent samples in a ring, to spot a sample that
// repeats an earlier one exactly (a recorded sample played back, or a template leaked and
// resubmitted). It keeps hashes only, never vectors.
type ReplayGuard struct {
	hashes []uint64 // ring, capacity = memory
	head   int      // next slot to write
	n      int
}

// NewReplayGuard returns a guard that remembers the last memory hashes
// (DefaultReplayMemory when memory <= 0).
func NewReplayGuard(memory int) *ReplayGuard {
	g := &ReplayGuard{}
	g.init(memory)
	return g
}

func (g *ReplayGuard) init(memory int) {
	if memory <= 0 {
		memory = DefaultReplayMemory
	}
	g.hashes = make([]uint64, memory)
	g.head, g.n = 0, 0
}

// Seen reports whether h is among the remembered hashes.
func (g *ReplayGuard) Seen(h uint64) bool {
	// Four at a time, without bounds checks: every scored sample scans the whole ring.
	hs := g.hashes[:g.n]
	for ; len(hs) >= 4; hs = hs[4:] {
		if hs[0] == h || hs[1] == h || hs[2] == h || hs[3] == h {
			return true
		}
	}
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}

// Remember stores h, forgetting the oldest hash when full.
func (g *ReplayGuard) Remember(h uint64) {
	if len(g.hashes) == 0 {
		g.init(0)
	}
	g.hashes[g.head] = h
	g.head = (g.head + 1) % len(g.hashes)
	if g.n < len(g.hashes) {
		g.n++
	}
}

// Check reports whether vec repeats a remembered sample, then remembers it.
func (g *ReplayGuard) Check(vec []float32) bool {
	h := SampleHash(vec)
	seen := g.Seen(h)
	g.Remember(h)
	return seen
}

// Len returns how many hashes are remembered.
func (g *ReplayGuard) Len() int { return g.n }

// appendOrdered appends the remembered hashes, oldest first.
func (g *ReplayGuard) appendOrdered(dst []uint64) []uint64 {
	start := (g.head - g.n + len(g.hashes)) % max(len(g.hashes), 1)
	for i := 0; i < g.n; i++ {
		dst = append(dst, g.hashes[(start+i)%len(g.hashes)])
	}
	return dst
}

// DefaultMinTimingCV is the coefficient of variation below which a run of intervals is
// taken as machine-made. People's latencies vary by 15% or more across the keys of one
// entry; a script with fixed delays (even with a little jitter) stays well under 5%.
const DefaultMinTimingCV = 0.05

// minIntervals is the fewest intervals a regularity verdict rests on.
const minIntervals = 4

// TimingCV returns the coefficient of variation (population standard deviation over
// mean) of xs, or +Inf when it is undefined (fewer than two values, or a mean <= 0).
func TimingCV(xs []float32) float64 {
	if len(xs) < 2 {
		return math.Inf(1)
	}
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	mean := s / float64(len(xs))
	if mean <= 0 {
		return math.Inf(1)
	}
	var v float64
	for _, x := range xs {
		d := float64(x) - mean
		v += d * d
	}
	return math.Sqrt(v/float64(len(xs))) / mean
}

// MachineTiming reports whether a sample of modality m looks machine-made:
//   - keystroke (fixed text): the down-down latencies of the entry have a coefficient of
//     variation below minCV (with at least minIntervals of them), or the hold times one
//     below minCV/4. Holds get the stricter bound because a steady typist's holds can
//     be close to uniform (CV near 5%), while latencies span different reaches;
//   - free text: the latency standard deviation is below minCV of its mean, or the hold
//     standard deviation below minCV/4 of its mean;
//   - pointer and touch: the speed standard deviation is below minCV of its mean (a
//     scripted straight glide at constant speed);
//   - motion: every axis of both sensors is perfectly still (a real sensor always shows
//     noise; an emulator reports constants).
func MachineTiming(m Modality, vec []float32, minCV float64) bool {
	switch m {
	case ModalityKeystroke:
		n := features.KeysForDim(len(vec))
		if n-1 < minIntervals {
			return false
		}
		holds := vec[features.FixedHoldOffset(n) : features.FixedHoldOffset(n)+n]
		dd := vec[features.FixedDDOffset(n) : features.FixedDDOffset(n)+n-1]
		return TimingCV(dd) < minCV || TimingCV(holds) < minCV/4
	case ModalityFreeText:
		if len(vec) != features.FreeTextDim {
			return false
		}
		return ratioBelow(vec[features.FreeDDStd], vec[features.FreeDDMean], minCV) ||
			ratioBelow(vec[features.FreeHoldStd], vec[features.FreeHoldMean], minCV/4)
	case ModalityPointer, ModalityTouch:
		if len(vec) != features.PointerDim {
			return false
		}
		return ratioBelow(vec[features.PtrSpeedStd], vec[features.PtrSpeedMean], minCV)
	case ModalityMotion:
		if len(vec) != features.MotionDim {
			return false
		}
		for a := 0; a < 6; a++ {
			if vec[2*a+1] != 0 {
				return false
			}
		}
		return true
	}
	return false
}

func ratioBelow(std, mean float32, bound float64) bool {
	return mean > 0 && float64(std)/float64(mean) < bound
}
