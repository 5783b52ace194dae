package features

import "math"

// Layout of the free-text vector (FreeTextDim values). Latencies between presses longer
// than FreeTextPauseMs are pauses (thinking, switching fields): they are counted in the
// pause ratio and left out of the latency statistics, which describe fluent typing.
const (
	FreeHoldMean   = iota // mean hold time, ms
	FreeHoldStd           // standard deviation of hold times, ms
	FreeHoldMedian        // median hold time, ms
	FreeDDMean            // mean down-down latency (pauses excluded), ms
	FreeDDStd             // standard deviation of down-down latency, ms
	FreeDDMedian          // median down-down latency, ms
	FreeDDP90             // 90th percentile of down-down latency, ms
	FreeUDMean            // mean up-down latency (negative when keys overlap), ms
	FreeUDStd             // standard deviation of up-down latency, ms
	FreeRollover          // fraction of fluent transitions where the next key went down before the previous came up
	FreePauseRatio        // fraction of transitions that are pauses
	FreeRate              // keys per second over the whole entry, pauses included
	FreeTextDim           // length of the free-text vector
)

const (
	// FreeTextPauseMs separates fluent latencies from pauses.
	FreeTextPauseMs = 1000.0
	// MinFreeTextKeys is the fewest complete keys FreeText accepts.
	MinFreeTextKeys = 5
	// DefaultFreeTextWindow is the number of keys per sample of a FreeTextAccumulator made
	// with window <= 0.
	DefaultFreeTextWindow = 60
)

// FreeText writes the free-text statistics of keys (ordered by press time) into dst
// (len >= FreeTextDim). scratch must hold at least len(keys) values; it is overwritten.
// Keys without an up event are tolerated (their hold and up-down latency are skipped);
// fewer than MinFreeTextKeys complete keys give ErrTooShort.
func FreeText(keys []Key, dst []float32, scratch []float64) error {
	n := len(keys)
	if len(dst) < FreeTextDim || len(scratch) < n {
		return ErrBufferSize
	}
	complete := 0
	for i := range keys {
		k := &keys[i]
		if !finite(k.Down) || math.IsInf(k.Up, 0) {
			return ErrInvalidValue
		}
		if i > 0 && k.Down < keys[i-1].Down {
			return ErrOutOfOrder
		}
		if k.Complete() {
			if k.Up < k.Down {
				return ErrOutOfOrder
			}
			complete++
		}
	}
	if complete < MinFreeTextKeys {
		return ErrTooShort
	}
	var out [FreeTextDim]float64

	// Holds.
	hs := scratch[:0]
	for i := range keys {
		if keys[i].Complete() {
			hs = append(hs, keys[i].Up-keys[i].Down)
		}
	}
	out[FreeHoldMean], out[FreeHoldStd] = meanStd(hs)
	out[FreeHoldMedian] = quantileInPlace(hs, 0.5)

	// Up-down latencies of fluent transitions (before dd reuses scratch).
	ud := scratch[:0]
	fluent, pauses, rollovers := 0, 0, 0
	for i := 0; i+1 < n; i++ {
		if keys[i+1].Down-keys[i].Down > FreeTextPauseMs {
			pauses++
			continue
		}
		fluent++
		if keys[i].Complete() {
			u := keys[i+1].Down - keys[i].Up
			ud = append(ud, u)
			if u < 0 {
				rollovers++
			}
		}
	}
	out[FreeUDMean], out[FreeUDStd] = meanStd(ud)
	if len(ud) > 0 {
		out[FreeRollover] = float64(rollovers) / float64(len(ud))
	}
	if n > 1 {
		out[FreePauseRatio] = float64(pauses) / float64(n-1)
	}

	// Down-down latencies of fluent transitions.
	dd := scratch[:0]
	for i := 0; i+1 < n; i++ {
		if d := keys[i+1].Down - keys[i].Down; d <= FreeTextPauseMs {
			dd = append(dd, d)
		}
	}
	out[FreeDDMean], out[FreeDDStd] = meanStd(dd)
	if len(dd) > 0 {
		out[FreeDDMedian] = quantileInPlace(dd, 0.5) // sorts dd
		out[FreeDDP90] = QuantileSorted(dd, 0.9)
	}
	if span := keys[n-1].Down - keys[0].Down; span > 0 {
		out[FreeRate] = float64(n-1) * 1000 / span
	}
	for i, v := range out {
		dst[i] = float32(v)
	}
	return nil
}

// FreeTextAccumulator collects key events of free typing (any field that is not a fixed
// secret) into windows of a fixed number of keys. Append events with KeyDown/KeyUp; when
// Ready reports true, Flush the window into a FreeTextDim vector.
type FreeTextAccumulator struct {
	p       keyPairer
	window  int
	scratch []float64
}

// NewFreeTextAccumulator returns an accumulator whose samples are windows of window keys
// (DefaultFreeTextWindow when window <= 0). Its buffers are sized once, here.
func NewFreeTextAccumulator(window int) *FreeTextAccumulator {
	if window <= 0 {
		window = DefaultFreeTextWindow
	}
	if window < MinFreeTextKeys {
		window = MinFreeTextKeys
	}
	// Room for window keys plus a few still held when the window fills.
	return &FreeTextAccumulator{
		p:       newKeyPairer(window + maxOpenKeys),
		window:  window,
		scratch: make([]float64, window+maxOpenKeys),
	}
}

// KeyDown records a key press at time t (ms).
func (a *FreeTextAccumulator) KeyDown(code uint64, t float64) { a.p.down(code, t) }

// KeyUp records a key release at time t (ms).
func (a *FreeTextAccumulator) KeyUp(code uint64, t float64) { a.p.up(code, t) }

// Len returns the number of key presses in the current window.
func (a *FreeTextAccumulator) Len() int { return len(a.p.keys) }

// Ready reports whether the window is full and every key in it has been released.
func (a *FreeTextAccumulator) Ready() bool {
	return len(a.p.keys) >= a.window && a.p.nOpen == 0
}

// Flush writes the window's FreeText vector into dst (len >= FreeTextDim) and empties the
// accumulator, also on error. It may be called before Ready (e.g. at the end of a
// session) and then describes the keys seen so far.
func (a *FreeTextAccumulator) Flush(dst []float32) error {
	defer a.p.reset()
	switch {
	case a.p.invalid:
		return ErrInvalidValue
	case len(a.p.keys) == 0:
		return ErrNotReady
	}
	a.p.sortByDown()
	return FreeText(a.p.keys, dst, a.scratch)
}

// Reset discards the current window.
func (a *FreeTextAccumulator) Reset() { a.p.reset() }
